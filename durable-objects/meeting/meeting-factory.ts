/**
 * Creating a meeting: its Postgres row (plus a branch's shared transcript) and its MeetingRoom,
 * set up with the validated configuration and turn plan. Used by the API routes (which count the
 * meetings against the creator's meetings per day) and by a parallel copy that starts its group's
 * merge meeting (not counted: the run was admitted with its copies).
 */
import * as schema from "../../migrations/schema.ts";
import type { MeetingConfig } from "./meeting-config.ts";
import { reserveMeetingSlots } from "./meeting-limits.ts";
import { type AnyDb, messageRowValues } from "./meeting-records.ts";
import type { MeetingMessage } from "./protocol.ts";
import { planMeeting, type Turn } from "./turn-plan.ts";

export interface CreateMeetingInput {
  teamId: string;
  createdBy: string | null;
  title: string;
  config: MeetingConfig;
  /** a branch's plan (inherited turns first); else planned from the config */
  plan?: Turn[];
  inherited?: MeetingMessage[];
  parentMeetingId?: string;
  branchTurnIndex?: number;
  mergeGroupId?: string;
  mergeRole?: "copy" | "merge";
  mergeBase?: MeetingConfig;
}

export interface CreateMeetingOptions {
  /** Count the meetings against this user's meetings-per-day (atomically, in the insert's transaction). */
  countFor?: string;
}

/** Creates one meeting (see createMeetings). */
export async function createMeeting(
  env: Env,
  db: AnyDb,
  input: CreateMeetingInput,
  options: CreateMeetingOptions = {},
): Promise<schema.MeetingRowType> {
  const [row] = await createMeetings(env, db, [input], options);
  if (!row) throw new Error("meeting insert returned no row");
  return row;
}

/**
 * Creates meetings in one transaction (all or none: a parallel run's copies share one daily-limit
 * check), then sets up each one's MeetingRoom.
 */
export async function createMeetings(
  env: Env,
  db: AnyDb,
  inputs: readonly CreateMeetingInput[],
  options: CreateMeetingOptions = {},
): Promise<schema.MeetingRowType[]> {
  const prepared = inputs.map((input) => ({
    input,
    id: crypto.randomUUID(),
    plan: input.plan ?? planMeeting(input.config),
    inherited: input.inherited ?? [],
  }));
  const rows = await db.transaction(async (tx) => {
    if (options.countFor) await reserveMeetingSlots(tx, options.countFor, prepared.length);
    const created: schema.MeetingRowType[] = [];
    for (const { input, id, plan, inherited } of prepared) {
      const [row] = await tx
        .insert(schema.meetings)
        .values({
          id,
          teamId: input.teamId,
          createdBy: input.createdBy,
          title: input.title,
          type: input.config.type,
          config: input.config as unknown as Record<string, unknown>,
          totalTurns: plan.length,
          completedTurns: inherited.filter((m) => m.turnIndex !== null).length,
          costUsd: inherited.reduce((s, m) => s + m.costUsd, 0),
          parentMeetingId: input.parentMeetingId ?? null,
          branchTurnIndex: input.branchTurnIndex ?? null,
          mergeGroupId: input.mergeGroupId ?? null,
          mergeRole: input.mergeRole ?? null,
        })
        .returning();
      if (!row) throw new Error("meeting insert returned no row");
      if (inherited.length > 0) await tx.insert(schema.meetingMessages).values(inherited.map((m) => messageRowValues(id, m)));
      created.push(row);
    }
    return created;
  });
  for (const { input, id, plan, inherited } of prepared) {
    const stub = env.MEETING_ROOM.get(env.MEETING_ROOM.idFromName(id));
    await stub.init({
      meetingId: id,
      teamId: input.teamId,
      title: input.title,
      config: input.config,
      plan,
      inherited,
      mergeGroupId: input.mergeGroupId ?? null,
      mergeRole: input.mergeRole ?? null,
      mergeBase: input.mergeBase ?? null,
    });
  }
  return rows;
}
