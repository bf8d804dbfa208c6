/**
 * The meeting's rows in Postgres (the system of record): the meeting, its finished messages and
 * the usage ledger. Writes are idempotent (keyed by meeting + position / turn), so a room that
 * restarts mid-commit can simply write again. Shared by the Worker routes and the MeetingRoom.
 */
import { and, asc, eq, sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "../../migrations/schema.ts";
import type { MeetingMessage, MeetingStatus } from "./protocol.ts";

const { meetingMessages, meetings, usageLedger } = schema;

// Both the HTTP (`neon()`) and the Pool drizzle databases fit here.
export type AnyDb = PgDatabase<PgQueryResultHKT, typeof schema>;
export type MeetingRow = typeof meetings.$inferSelect;

export interface LedgerEntry {
  userId: string | null;
  turnIndex: number;
  model: string;
  keySource: "user" | "deployment" | "offline";
}

export function messageRowValues(meetingId: string, m: MeetingMessage) {
  return {
    meetingId,
    position: m.position,
    turnIndex: m.turnIndex,
    round: m.round,
    kind: m.kind,
    speaker: m.speaker,
    authorId: m.authorId,
    text: m.text,
    model: m.model,
    inputTokens: m.usage.inputTokens,
    outputTokens: m.usage.outputTokens,
    cacheCreationTokens: m.usage.cacheCreationTokens,
    cacheReadTokens: m.usage.cacheReadTokens,
    costUsd: m.costUsd,
    createdAt: new Date(m.createdAt),
  };
}

export function messageFromRow(r: typeof meetingMessages.$inferSelect): MeetingMessage {
  return {
    position: r.position,
    turnIndex: r.turnIndex,
    round: r.round,
    kind: r.kind,
    speaker: r.speaker,
    authorId: r.authorId,
    text: r.text,
    model: r.model,
    usage: {
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
      cacheCreationTokens: r.cacheCreationTokens,
      cacheReadTokens: r.cacheReadTokens,
    },
    costUsd: r.costUsd,
    createdAt: (r.createdAt instanceof Date ? r.createdAt : new Date(r.createdAt)).toISOString(),
  };
}

/** Writes a finished message (and, for a model turn, its ledger row and the meeting's totals) at most once. */
export async function commitMessage(db: AnyDb, meetingId: string, message: MeetingMessage, ledger?: LedgerEntry): Promise<void> {
  await db.transaction(async (tx) => {
    const inserted = await tx
      .insert(meetingMessages)
      .values(messageRowValues(meetingId, message))
      .onConflictDoNothing()
      .returning({ p: meetingMessages.position });
    if (!ledger || inserted.length === 0) return;
    await tx
      .insert(usageLedger)
      .values({
        userId: ledger.userId,
        meetingId,
        turnIndex: ledger.turnIndex,
        model: ledger.model,
        keySource: ledger.keySource,
        inputTokens: message.usage.inputTokens,
        outputTokens: message.usage.outputTokens,
        cacheCreationTokens: message.usage.cacheCreationTokens,
        cacheReadTokens: message.usage.cacheReadTokens,
        costUsd: message.costUsd,
      })
      .onConflictDoNothing();
    await tx
      .update(meetings)
      .set({
        completedTurns: sql`${meetings.completedTurns} + 1`,
        costUsd: sql`${meetings.costUsd} + ${message.costUsd}`,
        inputTokens: sql`${meetings.inputTokens} + ${message.usage.inputTokens + message.usage.cacheCreationTokens + message.usage.cacheReadTokens}`,
        outputTokens: sql`${meetings.outputTokens} + ${message.usage.outputTokens}`,
        updatedAt: new Date(),
      })
      .where(eq(meetings.id, meetingId));
  });
}

export interface StatusUpdate {
  status: MeetingStatus;
  provider?: "anthropic" | "offline";
  /** the configuration as it runs (a meeting on the deployment's key gets its budget at start) */
  config?: Record<string, unknown>;
  errorCode?: string | null;
  errorMessage?: string | null;
  summaryText?: string;
  summary?: Record<string, unknown>;
  startedAt?: Date;
  completedAt?: Date;
}

export async function updateMeetingStatus(db: AnyDb, meetingId: string, update: StatusUpdate): Promise<void> {
  await db
    .update(meetings)
    .set({ ...update, updatedAt: new Date() })
    .where(eq(meetings.id, meetingId));
}

export async function loadTranscript(db: AnyDb, meetingId: string): Promise<MeetingMessage[]> {
  const rows = await db
    .select()
    .from(meetingMessages)
    .where(eq(meetingMessages.meetingId, meetingId))
    .orderBy(asc(meetingMessages.position));
  return rows.map(messageFromRow);
}

export async function loadMeeting(db: AnyDb, meetingId: string): Promise<MeetingRow | undefined> {
  const [row] = await db.select().from(meetings).where(eq(meetings.id, meetingId));
  return row;
}

export async function groupMembers(db: AnyDb, groupId: string): Promise<MeetingRow[]> {
  return db
    .select()
    .from(meetings)
    .where(and(eq(meetings.mergeGroupId, groupId)))
    .orderBy(asc(meetings.createdAt), asc(meetings.id));
}
