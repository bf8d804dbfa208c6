/**
 * The turn planner: who speaks when, in what capacity, for a meeting configuration. The MeetingRoom
 * persists the plan and a cursor (turns completed) and asks `nextTurn` what to run next, so a room
 * rebuilt after eviction resumes exactly where it stopped. Pure and deterministic.
 *
 * Team meeting (Virtual Lab's order), N rounds, M members:
 *   round 1:      lead_opening, member × M [, critic]
 *   round 2..N:   lead_synthesis (of the previous round), member × M [, critic]
 *   round N+1:    lead_summary
 *   → N·(M+1)+1 calls, or N·(M+2)+1 with the critic. As in Virtual Lab, the critic is simply one
 *   more participant who speaks last in every round (after the members, before the lead's
 *   synthesis), so the lead always sees its critique before deciding. It gets the `critic` kind so
 *   the prompt asks it to critique rather than to contribute.
 *
 * Individual meeting, N rounds:
 *   critic on:  per round, individual_answer then critic; then final_answer → 2N+1 calls.
 *   critic off: N individual_answer turns (round 1 answers, rounds 2..N self-review and refine),
 *               then final_answer → N+1 calls.
 *   A merge meeting (config.merge) has the same shape with `merge` in place of the member's
 *   answers and final answer.
 *
 * The closing turn (lead_summary / final_answer / final merge) has round N+1, as in Virtual Lab's
 * loop, and `final: true`; its text is the meeting's summary.
 */
import { type Agent, criticOf, type MeetingConfig } from "./meeting-config.ts";

export const TURN_KINDS = [
  "lead_opening",
  "member",
  "lead_synthesis",
  "lead_summary",
  "individual_answer",
  "critic",
  "final_answer",
  "merge",
] as const;
export type TurnKind = (typeof TURN_KINDS)[number];

/** In what capacity the speaker talks (the lead of an individual meeting is its member). */
export type SpeakerRole = "lead" | "member" | "critic";

export interface Turn {
  /** Position in the plan, 0-based; equals the number of turns completed before it. */
  index: number;
  /** 1..rounds for discussion turns; rounds + 1 for the closing turn. */
  round: number;
  /** Rounds of the meeting this turn was planned for (prompts say "round r of N"). */
  rounds: number;
  kind: TurnKind;
  agent: Agent;
  speakerRole: SpeakerRole;
  /** 0-based position among the members, on `member` turns. */
  memberPosition?: number;
  /** Sampling temperature of the call. */
  temperature: number;
  /** `max_tokens` of the call. */
  maxTokens: number;
  /** The closing turn: its text is the meeting's summary. */
  final: boolean;
  /** Last turn of its round: the room emits `round_complete` after it. */
  endsRound: boolean;
  /** Copied unchanged from an earlier meeting when this plan is a branch (see branch.ts). */
  inherited?: boolean;
}

/** Closing turns write the whole summary, so they get twice the discussion budget. */
function closingMaxTokens(config: MeetingConfig): number {
  return Math.min(config.maxTokensPerTurn * 2, 32_000);
}

/** Plans every turn of a validated meeting configuration. */
export function planMeeting(config: MeetingConfig): Turn[] {
  const draft: Omit<Turn, "index" | "endsRound" | "rounds">[] = [];
  const critic = criticOf(config);
  const base = { temperature: config.temperature, maxTokens: config.maxTokensPerTurn, final: false };

  if (config.type === "team") {
    for (let round = 1; round <= config.rounds; round++) {
      draft.push({ ...base, round, kind: round === 1 ? "lead_opening" : "lead_synthesis", agent: config.lead, speakerRole: "lead" });
      config.members.forEach((agent, memberPosition) => {
        draft.push({ ...base, round, kind: "member", agent, speakerRole: "member", memberPosition });
      });
      if (critic) draft.push({ ...base, round, kind: "critic", agent: critic, speakerRole: "critic" });
    }
    draft.push({
      ...base,
      round: config.rounds + 1,
      kind: "lead_summary",
      agent: config.lead,
      speakerRole: "lead",
      final: true,
      maxTokens: closingMaxTokens(config),
    });
  } else {
    const answerKind: TurnKind = config.merge ? "merge" : "individual_answer";
    for (let round = 1; round <= config.rounds; round++) {
      draft.push({ ...base, round, kind: answerKind, agent: config.member, speakerRole: "lead" });
      if (critic) draft.push({ ...base, round, kind: "critic", agent: critic, speakerRole: "critic" });
    }
    draft.push({
      ...base,
      round: config.rounds + 1,
      kind: config.merge ? "merge" : "final_answer",
      agent: config.member,
      speakerRole: "lead",
      final: true,
      maxTokens: closingMaxTokens(config),
    });
  }

  return draft.map((t, index) => ({ ...t, index, rounds: config.rounds, endsRound: draft[index + 1]?.round !== t.round }));
}

/** Number of model calls a configuration makes (the closed forms in the header). */
export function expectedCallCount(config: MeetingConfig): number {
  const n = config.rounds;
  const critic = config.critic ? 1 : 0;
  if (config.type === "team") return n * (config.members.length + 1 + critic) + 1;
  return n * (1 + critic) + 1;
}

/**
 * The turn to run after `completedCount` turns, or undefined when the meeting is over.
 * Throws a RangeError on a cursor that cannot belong to this plan (negative, fractional, past the end).
 */
export function nextTurn(plan: readonly Turn[], completedCount: number): Turn | undefined {
  if (!Number.isInteger(completedCount) || completedCount < 0 || completedCount > plan.length) {
    throw new RangeError(`completedCount ${completedCount} is outside 0..${plan.length}`);
  }
  return plan[completedCount];
}

/** The closing turn of a plan (every plan has exactly one, last). */
export function closingTurn(plan: readonly Turn[]): Turn {
  const last = plan[plan.length - 1];
  if (!last?.final) throw new RangeError("plan has no closing turn");
  return last;
}
