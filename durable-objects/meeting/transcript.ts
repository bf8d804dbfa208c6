/**
 * The meeting transcript as the prompt builder reads it: finished turns (labelled with the
 * speaker's title) and human interjections (labelled with the person's name), in the order they
 * happened. The room stores it; the zod schema checks it when it comes back from storage or
 * from the meeting being branched.
 */
import { z } from "zod";
import { TURN_KINDS, type Turn } from "./turn-plan.ts";

export const TranscriptTurnSchema = z.object({
  type: z.literal("turn"),
  turnIndex: z.number().int().min(0),
  round: z.number().int().min(1),
  kind: z.enum(TURN_KINDS),
  /** The speaking agent's title. */
  speaker: z.string().min(1),
  text: z.string(),
});
export type TranscriptTurn = z.infer<typeof TranscriptTurnSchema>;

/** A person's message, applied at a turn boundary. */
export const TranscriptInterjectionSchema = z.object({
  type: z.literal("interjection"),
  /** The person's display name. */
  name: z.string().min(1).max(100),
  text: z.string().min(1).max(20_000),
});
export type TranscriptInterjection = z.infer<typeof TranscriptInterjectionSchema>;

export const TranscriptEntrySchema = z.discriminatedUnion("type", [TranscriptTurnSchema, TranscriptInterjectionSchema]);
export type TranscriptEntry = z.infer<typeof TranscriptEntrySchema>;

/** The entry to record once `turn` finished with `text`. */
export function transcriptEntryFor(turn: Turn, text: string): TranscriptTurn {
  return { type: "turn", turnIndex: turn.index, round: turn.round, kind: turn.kind, speaker: turn.agent.title, text };
}

/** The entry to record for a person's interjection. */
export function interjectionEntry(name: string, text: string): TranscriptInterjection {
  return { type: "interjection", name, text };
}

/** Number of finished turns in a transcript (interjections do not count). */
export function completedTurnCount(transcript: readonly TranscriptEntry[]): number {
  return transcript.reduce((n, e) => (e.type === "turn" ? n + 1 : n), 0);
}
