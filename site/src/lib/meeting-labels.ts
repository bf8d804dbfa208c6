/** Words for a meeting's parts: turn kinds, progress through rounds, built-in agent ids. */
import { PRINCIPAL_INVESTIGATOR, SCIENTIFIC_CRITIC } from "../../../durable-objects/meeting/meeting-config.ts";
import type { MeetingState } from "../../../durable-objects/meeting/protocol.ts";
import type { MeetingType } from "../api/types.ts";

/** Ids the meetings API accepts for the built-in agents. */
export const PRINCIPAL_INVESTIGATOR_ID = PRINCIPAL_INVESTIGATOR.id ?? "builtin:principal-investigator";
export const SCIENTIFIC_CRITIC_ID = SCIENTIFIC_CRITIC.id ?? "builtin:scientific-critic";
export { PRINCIPAL_INVESTIGATOR, SCIENTIFIC_CRITIC };

const KIND_LABELS: Record<string, string> = {
  lead_opening: "opening",
  member: "member",
  critic: "critic",
  lead_synthesis: "synthesis",
  lead_summary: "summary",
  individual_answer: "answer",
  final_answer: "final answer",
  merge: "merge",
  interjection: "interjection",
};

/** "opening", "synthesis", … for a turn kind (unknown kinds pass through with spaces). */
export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] ?? kind.replace(/_/g, " ");
}

/** Kinds whose text is the meeting's summary or final answer. */
export function isClosingKind(kind: string): boolean {
  return kind === "lead_summary" || kind === "final_answer";
}

export interface ProgressInput {
  type: MeetingType;
  state: MeetingState;
  /** the round being spoken (from round_start or the speaking turn), if known */
  round: number | undefined;
  rounds: number;
}

/** "Round 2 of 3 · turn 5/13", "Writing the summary · turn 13/13", "13/13 turns". */
export function progressText(p: ProgressInput): string {
  const { status, completedTurns, totalTurns } = p.state;
  const turns = `${completedTurns}/${totalTurns} turns`;
  if (status === "pending") return `Not started · ${turns}`;
  if (status === "completed" || status === "failed" || status === "cancelled") return turns;
  const turn = `turn ${Math.min(completedTurns + 1, totalTurns)}/${totalTurns}`;
  const closing = p.type === "team" ? "Writing the summary" : "Final answer";
  const where = p.round === undefined ? undefined : p.round > p.rounds ? closing : `Round ${Math.max(1, p.round)} of ${p.rounds}`;
  const prefix = status === "paused" ? "Paused" : undefined;
  return [prefix, where, status === "paused" ? turns : turn].filter(Boolean).join(" · ");
}
