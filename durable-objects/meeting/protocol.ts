/**
 * The meeting room's wire protocol (DESIGN §5): commands a client may send and the events the
 * MeetingRoom publishes. Every event carries `seq` (clients de-duplicate by it) and `at`.
 * Runtime-neutral; the site validates incoming frames with these schemas.
 */
import { z } from "zod";
import { PresenceBodySchema } from "../room/protocol.ts";

/** Bounds of the meeting socket, exported so the docs and the site quote the same numbers. */
export const MEETING_SOCKET_LIMITS = Object.freeze({
  /** largest client frame, in bytes (FRAME_TOO_LARGE beyond) */
  maxFrameBytes: 32 * 1024,
  /** longest interjection, in characters after trimming (BAD_FRAME beyond) */
  maxInterjectionChars: 4000,
  /** interjections waiting for the next turn boundary (QUEUE_FULL beyond) */
  maxPendingInterjections: 20,
  /** interjections in one meeting's transcript, pending ones included (INTERJECTION_LIMIT beyond) */
  maxInterjectionsPerMeeting: 200,
  /** events the room's log may hold after compaction; a meeting that reaches it fails with EVENT_LOG_FULL */
  maxLogEvents: 20_000,
});

export const MeetingClientFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ping") }),
  z.object({ type: z.literal("start") }),
  z.object({ type: z.literal("pause") }),
  z.object({ type: z.literal("resume") }),
  z.object({ type: z.literal("cancel") }),
  z.object({ type: z.literal("interject"), text: z.string().trim().min(1).max(MEETING_SOCKET_LIMITS.maxInterjectionChars) }),
]);
export type MeetingClientFrame = z.infer<typeof MeetingClientFrameSchema>;

export const MEETING_STATUSES = ["pending", "running", "paused", "completed", "failed", "cancelled"] as const;
export type MeetingStatus = (typeof MEETING_STATUSES)[number];

export const UsageSchema = z.object({
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cacheCreationTokens: z.number().int(),
  cacheReadTokens: z.number().int(),
});
export type Usage = z.infer<typeof UsageSchema>;

/** One finished turn or human interjection, as stored and sent. */
export const MeetingMessageSchema = z.object({
  position: z.number().int(),
  turnIndex: z.number().int().nullable(),
  round: z.number().int().nullable(),
  kind: z.string(),
  speaker: z.string(),
  authorId: z.string().nullable(),
  text: z.string(),
  model: z.string().nullable(),
  usage: UsageSchema,
  costUsd: z.number(),
  createdAt: z.string(),
});
export type MeetingMessage = z.infer<typeof MeetingMessageSchema>;

const base = { seq: z.number().int(), at: z.number() };

export const MeetingStateSchema = z.object({
  status: z.enum(MEETING_STATUSES),
  completedTurns: z.number().int(),
  totalTurns: z.number().int(),
  costUsd: z.number(),
  provider: z.enum(["anthropic", "offline"]).nullable(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
});
export type MeetingState = z.infer<typeof MeetingStateSchema>;

export const MeetingEventSchema = z.discriminatedUnion("type", [
  /** who is watching (the room's presence body) */
  z.object({ ...base, type: z.literal("presence"), ...PresenceBodySchema.shape }),
  z.object({ ...base, type: z.literal("meeting_state"), ...MeetingStateSchema.shape }),
  z.object({ ...base, type: z.literal("round_start"), round: z.number().int(), rounds: z.number().int() }),
  z.object({
    ...base,
    type: z.literal("agent_speaking"),
    turnIndex: z.number().int(),
    round: z.number().int(),
    kind: z.string(),
    speaker: z.string(),
    model: z.string(),
  }),
  /** Coalesced text deltas of the turn being spoken (not one frame per token). */
  /** `firstAt`: when the first of these tokens reached the room (for latency measurements). */
  z.object({ ...base, type: z.literal("token"), turnIndex: z.number().int(), text: z.string(), firstAt: z.number().optional() }),
  z.object({ ...base, type: z.literal("message"), message: MeetingMessageSchema }),
  z.object({ ...base, type: z.literal("round_complete"), round: z.number().int() }),
  z.object({
    ...base,
    type: z.literal("meeting_complete"),
    summaryText: z.string(),
    summary: z.record(z.string(), z.unknown()),
    costUsd: z.number(),
  }),
  z.object({ ...base, type: z.literal("error"), code: z.string(), message: z.string() }),
]);
export type MeetingEvent = z.infer<typeof MeetingEventSchema>;

/** Stable codes a meeting fails or refuses with. */
export type MeetingErrorCode =
  | "BUDGET_EXCEEDED"
  | "DAILY_LIMIT_REACHED"
  | "PROVIDER_RATE_LIMITED"
  | "PROVIDER_OVERLOADED"
  | "PROVIDER_UNAVAILABLE"
  | "PROVIDER_ERROR"
  | "KEY_UNAVAILABLE"
  | "RATE_LIMITED"
  | "INVALID_STATE"
  /** the interjection queue holds maxPendingInterjections already */
  | "QUEUE_FULL"
  /** the meeting has maxInterjectionsPerMeeting interjections already */
  | "INTERJECTION_LIMIT"
  /** an interjection Postgres refused as data (it is dropped; the meeting goes on) */
  | "INTERJECTION_REJECTED"
  /** saving to Postgres kept failing: the meeting is paused, its transcript kept */
  | "DATABASE_UNAVAILABLE"
  /** the room's event log reached maxLogEvents */
  | "EVENT_LOG_FULL";
