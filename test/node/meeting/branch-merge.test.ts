import { describe, expect, it } from "vitest";
import { BranchError, branchMeeting } from "../../../durable-objects/meeting/branch.ts";
import { PRINCIPAL_INVESTIGATOR } from "../../../durable-objects/meeting/meeting-config.ts";
import { mergeMeetingConfig, parallelCopies } from "../../../durable-objects/meeting/parallel-merge.ts";
import { interjectionEntry, type TranscriptEntry, transcriptEntryFor } from "../../../durable-objects/meeting/transcript.ts";
import { nextTurn, planMeeting, type Turn } from "../../../durable-objects/meeting/turn-plan.ts";
import { BIOLOGIST, IMMUNOLOGIST, individualConfig, ML_SPECIALIST, teamConfig } from "./fixtures.ts";

function finished(plan: Turn[], n: number): TranscriptEntry[] {
  return plan.slice(0, n).map((t) => transcriptEntryFor(t, `turn ${t.index}`));
}

describe("branchMeeting", () => {
  const source = teamConfig({ rounds: 2, critic: false });
  const plan = planMeeting(source);
  const transcript = [...finished(plan, 3), interjectionEntry("Ada", "late remark"), ...finished(plan, 6).slice(3)];

  it("shares the transcript up to the branch turn and continues with the new parameters", () => {
    const config = teamConfig({ rounds: 3, critic: false, temperature: 0.9 });
    const branch = branchMeeting({ sourcePlan: plan, sourceTranscript: transcript, fromTurnIndex: 2, config });
    // Turns 0..2 inherited; the interjection made after turn 2 belongs to the old continuation.
    expect(branch.transcript).toEqual(finished(plan, 3));
    expect(branch.completedCount).toBe(3);
    expect(branch.plan.slice(0, 3).every((t) => t.inherited)).toBe(true);
    const next = nextTurn(branch.plan, branch.completedCount);
    expect(next).toMatchObject({ index: 3, kind: "member", round: 1, temperature: 0.9 });
    expect(next?.agent.title).toBe(BIOLOGIST.title);
    // Remaining: member 3 of round 1, rounds 2 and 3 in full, the summary.
    expect(branch.plan).toHaveLength(3 + 1 + 4 + 4 + 1);
    expect(branch.plan.map((t) => t.index)).toEqual(branch.plan.map((_, i) => i));
    expect(branch.plan.at(-1)?.kind).toBe("lead_summary");
  });

  it("a branch with fewer members continues after the branch turn's place in the round", () => {
    const config = teamConfig({ rounds: 2, critic: true, members: [IMMUNOLOGIST, ML_SPECIALIST] });
    const branch = branchMeeting({ sourcePlan: plan, sourceTranscript: transcript, fromTurnIndex: 2, config });
    expect(branch.plan.slice(3).map((t) => `${t.kind}:${t.round}`)).toEqual([
      "critic:1",
      "lead_synthesis:2",
      "member:2",
      "member:2",
      "critic:2",
      "lead_summary:3",
    ]);
  });

  it("branching from the summary with changed questions only writes a new summary", () => {
    const all = finished(plan, plan.length);
    const config = teamConfig({ rounds: 2, agendaQuestions: ["A different question?"] });
    const branch = branchMeeting({ sourcePlan: plan, sourceTranscript: all, fromTurnIndex: plan.length - 1, config });
    expect(branch.plan.slice(plan.length).map((t) => t.kind)).toEqual(["lead_summary"]);
  });

  it("refuses an unfinished branch point and a change of meeting type", () => {
    const config = teamConfig();
    expect(() => branchMeeting({ sourcePlan: plan, sourceTranscript: transcript, fromTurnIndex: 7, config })).toThrow(BranchError);
    expect(() => branchMeeting({ sourcePlan: plan, sourceTranscript: transcript, fromTurnIndex: 99, config })).toThrow(/not part/);
    try {
      branchMeeting({ sourcePlan: plan, sourceTranscript: transcript, fromTurnIndex: 1, config: individualConfig() });
      expect.unreachable();
    } catch (e: unknown) {
      expect(e).toBeInstanceOf(BranchError);
      expect((e as BranchError).code).toBe("BRANCH_TYPE_CHANGED");
    }
  });
});

describe("parallel and merge", () => {
  it("makes K copies at the creative temperature and splits the budget over the copies and the merge", () => {
    const copies = parallelCopies(teamConfig({ temperature: 0.2, maxCostUsd: 4 }), { copies: 3 });
    expect(copies).toHaveLength(3);
    for (const c of copies) expect(c).toMatchObject({ temperature: 0.8, maxCostUsd: 1 });
    expect(copies[0]).not.toBe(copies[1]);
    expect(() => parallelCopies(teamConfig(), { copies: 1 })).toThrow(RangeError);
  });

  it("the merge is an individual meeting of the lead at low temperature with labelled sources", () => {
    const original = teamConfig({ temperature: 0.8, critic: true, maxCostUsd: 3 });
    const merge = mergeMeetingConfig(original, ["summary A", { text: "summary B", meetingId: "m-2" }]);
    expect(merge).toMatchObject({
      type: "individual",
      member: PRINCIPAL_INVESTIGATOR,
      temperature: 0.2,
      rounds: 1,
      critic: true,
      maxCostUsd: 1,
      agenda: original.agenda,
      agendaQuestions: original.agendaQuestions,
      merge: {
        sources: [
          { label: "Summary 1", text: "summary A" },
          { label: "Summary 2", text: "summary B", meetingId: "m-2" },
        ],
      },
    });
    expect(planMeeting(merge).map((t) => t.kind)).toEqual(["merge", "critic", "merge"]);
  });
});
