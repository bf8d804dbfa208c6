/**
 * Creating a meeting: its Postgres row (plus a branch's shared transcript) and its MeetingRoom,
 * set up with the validated configuration and turn plan. Used by the API routes and by a
 * parallel copy that starts its group's merge meeting.
 */
import * as schema from "../../migrations/schema.ts";
import type { MeetingConfig } from "./meeting-config.ts";
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

export async function createMeeting(env: Env, db: AnyDb, input: CreateMeetingInput): Promise<schema.MeetingRowType> {
  const id = crypto.randomUUID();
  const plan = input.plan ?? planMeeting(input.config);
  const inherited = input.inherited ?? [];
  const costUsd = inherited.reduce((s, m) => s + m.costUsd, 0);
  const row = await db.transaction(async (tx) => {
    const [created] = await tx
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
        costUsd,
        parentMeetingId: input.parentMeetingId ?? null,
        branchTurnIndex: input.branchTurnIndex ?? null,
        mergeGroupId: input.mergeGroupId ?? null,
        mergeRole: input.mergeRole ?? null,
      })
      .returning();
    if (inherited.length > 0) await tx.insert(schema.meetingMessages).values(inherited.map((m) => messageRowValues(id, m)));
    return created;
  });
  if (!row) throw new Error("meeting insert returned no row");
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
  return row;
}
