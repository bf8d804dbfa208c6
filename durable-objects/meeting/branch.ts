/**
 * Branching: a new meeting that starts from a finished turn of an existing one, with changed
 * parameters, sharing the transcript up to and including that turn. The branch's plan is the
 * source's turns up to the branch point (marked `inherited`) followed by the new configuration's
 * turns that come after the branch point, and always the new closing turn.
 *
 * "After" is decided by position in a round, not by index, so a branch may change the number of
 * members or rounds: every turn has a slot (round, place in round) — the lead's turn is first in
 * its round, members follow in order, the critic is last — and the continuation is the new plan's
 * discussion turns whose slot is later than the branch turn's. The closing turn counts as the lead
 * turn of round N+1, so branching from a summary with more rounds continues the discussion, and
 * with the same or fewer rounds just writes a new summary (e.g. with changed agenda questions).
 * Team ⇄ individual changes are refused: the turns before the branch point would not fit.
 */
import type { MeetingConfig } from "./meeting-config.ts";
import type { TranscriptEntry } from "./transcript.ts";
import { closingTurn, planMeeting, type Turn } from "./turn-plan.ts";

export type BranchErrorCode = "BRANCH_POINT_INVALID" | "BRANCH_TYPE_CHANGED";

/** Why a branch cannot be made; `code` is stable for the API's error body. */
export class BranchError extends Error {
  readonly code: BranchErrorCode;

  constructor(code: BranchErrorCode, message: string) {
    super(message);
    this.name = "BranchError";
    this.code = code;
  }
}

export interface BranchInput {
  /** Plan of the meeting being branched. */
  sourcePlan: readonly Turn[];
  /** Its transcript (finished turns and interjections, in order). */
  sourceTranscript: readonly TranscriptEntry[];
  /** Index of the finished turn the branch starts after. */
  fromTurnIndex: number;
  /** Validated configuration of the new meeting. */
  config: MeetingConfig;
}

export interface Branch {
  plan: Turn[];
  /** Shared transcript: everything up to and including the branch turn. */
  transcript: TranscriptEntry[];
  /** Cursor to resume at: `nextTurn(plan, completedCount)` is the first new turn. */
  completedCount: number;
}

/** Where a turn sits in its round: lead first, members in order, critic last. */
function slotOf(turn: Turn): [number, number] {
  switch (turn.kind) {
    case "member":
      return [turn.round, 1 + (turn.memberPosition ?? 0)];
    case "critic":
      return [turn.round, Number.MAX_SAFE_INTEGER];
    default:
      return [turn.round, 0];
  }
}

const isLater = (a: [number, number], b: [number, number]) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

function meetingTypeOf(plan: readonly Turn[]): "team" | "individual" {
  return plan.some((t) => t.kind === "lead_opening" || t.kind === "member" || t.kind === "lead_synthesis" || t.kind === "lead_summary")
    ? "team"
    : "individual";
}

/** Builds the plan, shared transcript and cursor of a branch (see the module header). */
export function branchMeeting(input: BranchInput): Branch {
  const { sourcePlan, sourceTranscript, fromTurnIndex, config } = input;
  const from = sourcePlan[fromTurnIndex];
  if (!Number.isInteger(fromTurnIndex) || !from) {
    throw new BranchError("BRANCH_POINT_INVALID", `turn ${fromTurnIndex} is not part of the meeting`);
  }
  const cut = sourceTranscript.findIndex((e) => e.type === "turn" && e.turnIndex === fromTurnIndex);
  if (cut < 0) throw new BranchError("BRANCH_POINT_INVALID", `turn ${fromTurnIndex} has not finished`);
  const shared = sourceTranscript.slice(0, cut + 1);
  const sharedTurns = shared.filter((e) => e.type === "turn");
  if (sharedTurns.length !== fromTurnIndex + 1 || sharedTurns.some((e, i) => e.turnIndex !== i)) {
    throw new BranchError("BRANCH_POINT_INVALID", "the transcript does not match the plan up to the branch point");
  }
  if (meetingTypeOf(sourcePlan) !== config.type) {
    throw new BranchError(
      "BRANCH_TYPE_CHANGED",
      `a ${meetingTypeOf(sourcePlan)} meeting can only be branched into another ${meetingTypeOf(sourcePlan)} meeting`,
    );
  }

  const inherited = sourcePlan.slice(0, fromTurnIndex + 1).map((t) => ({ ...t, inherited: true }));
  const fresh = planMeeting(config);
  const key = slotOf(from);
  const continuation = [...fresh.filter((t) => !t.final && isLater(slotOf(t), key)), closingTurn(fresh)];
  const plan: Turn[] = [...inherited, ...continuation.map((t, i) => ({ ...t, index: fromTurnIndex + 1 + i }))];
  // Round boundaries may shift where the old and new parts meet.
  for (let i = fromTurnIndex; i < plan.length; i++) {
    const t = plan[i] as Turn;
    plan[i] = { ...t, endsRound: plan[i + 1]?.round !== t.round };
  }
  return { plan, transcript: [...shared], completedCount: fromTurnIndex + 1 };
}
