import { describe, expect, it } from "vitest";
import { PRINCIPAL_INVESTIGATOR, parseMeetingConfig, SCIENTIFIC_CRITIC } from "../../../durable-objects/meeting/meeting-config.ts";
import { expectedCallCount, nextTurn, planMeeting } from "../../../durable-objects/meeting/turn-plan.ts";
import { BIOLOGIST, IMMUNOLOGIST, individualConfig, ML_SPECIALIST, teamConfig } from "./fixtures.ts";

const speakers = (plan: ReturnType<typeof planMeeting>) => plan.map((t) => `${t.kind}:${t.agent.title}`);

describe("team meeting plan", () => {
  it("lead opens, members speak in order, the lead synthesises each later round and writes the summary last", () => {
    const plan = planMeeting(teamConfig({ rounds: 2, critic: false }));
    expect(speakers(plan)).toEqual([
      "lead_opening:Principal Investigator",
      "member:Immunologist",
      "member:Machine Learning Specialist",
      "member:Computational Biologist",
      "lead_synthesis:Principal Investigator",
      "member:Immunologist",
      "member:Machine Learning Specialist",
      "member:Computational Biologist",
      "lead_summary:Principal Investigator",
    ]);
    expect(plan.map((t) => t.round)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3]);
    expect(plan.map((t) => t.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(plan.filter((t) => t.final).map((t) => t.index)).toEqual([8]);
    expect(plan.filter((t) => t.endsRound).map((t) => t.index)).toEqual([3, 7, 8]);
  });

  it.each([
    [1, 1],
    [1, 12],
    [3, 3],
    [10, 12],
  ])("makes N·(M+1)+1 calls without the critic (N=%i, M=%i)", (rounds, m) => {
    const members = Array.from({ length: m }, (_, i) => ({ ...IMMUNOLOGIST, title: `Expert ${i + 1}` }));
    const config = teamConfig({ rounds, members, critic: false });
    expect(planMeeting(config)).toHaveLength(rounds * (m + 1) + 1);
    expect(expectedCallCount(config)).toBe(rounds * (m + 1) + 1);
  });

  it("with the critic on, the critic speaks last in every round, after the members and before the lead's synthesis", () => {
    const config = teamConfig({ rounds: 3, critic: true });
    const plan = planMeeting(config);
    expect(plan).toHaveLength(3 * (3 + 2) + 1);
    expect(expectedCallCount(config)).toBe(plan.length);
    const critics = plan.filter((t) => t.kind === "critic");
    expect(critics.map((t) => t.round)).toEqual([1, 2, 3]);
    for (const c of critics) {
      expect(c.agent.title).toBe(SCIENTIFIC_CRITIC.title);
      expect(c.speakerRole).toBe("critic");
      expect(c.endsRound).toBe(true);
      expect(plan[c.index - 1]?.kind).toBe("member");
      expect(["lead_synthesis", "lead_summary"]).toContain(plan[c.index + 1]?.kind);
    }
  });

  it("uses a team's own critic agent when one is configured", () => {
    const critic = { ...BIOLOGIST, title: "Devil's Advocate" };
    const plan = planMeeting(teamConfig({ critic: true, criticAgent: critic, members: [IMMUNOLOGIST] }));
    expect(plan.filter((t) => t.kind === "critic").every((t) => t.agent.title === "Devil's Advocate")).toBe(true);
  });

  it("runs every turn at the meeting's temperature and gives the summary twice the token budget", () => {
    const plan = planMeeting(teamConfig({ temperature: 0.7, maxTokensPerTurn: 1000 }));
    expect(new Set(plan.map((t) => t.temperature))).toEqual(new Set([0.7]));
    expect(plan.at(-1)?.maxTokens).toBe(2000);
    expect(plan[0]?.maxTokens).toBe(1000);
  });
});

describe("individual meeting plan", () => {
  it("with the critic: the member answers and the critic critiques each round, then the final answer (2N+1 calls)", () => {
    const config = individualConfig({ rounds: 3, critic: true });
    const plan = planMeeting(config);
    expect(plan.map((t) => t.kind)).toEqual([
      "individual_answer",
      "critic",
      "individual_answer",
      "critic",
      "individual_answer",
      "critic",
      "final_answer",
    ]);
    expect(plan).toHaveLength(2 * 3 + 1);
    expect(expectedCallCount(config)).toBe(7);
    expect(plan.filter((t) => t.kind !== "critic").every((t) => t.agent.title === ML_SPECIALIST.title)).toBe(true);
  });

  it("without the critic: N rounds of the member refining, then the final answer (N+1 calls)", () => {
    const config = individualConfig({ rounds: 3, critic: false });
    const plan = planMeeting(config);
    expect(plan.map((t) => t.kind)).toEqual(["individual_answer", "individual_answer", "individual_answer", "final_answer"]);
    expect(expectedCallCount(config)).toBe(4);
  });

  it("a merge meeting has the same shape with merge turns", () => {
    const config = individualConfig({
      rounds: 1,
      critic: true,
      member: PRINCIPAL_INVESTIGATOR,
      merge: {
        sources: [
          { label: "Summary 1", text: "a" },
          { label: "Summary 2", text: "b" },
        ],
      },
    });
    expect(planMeeting(config).map((t) => t.kind)).toEqual(["merge", "critic", "merge"]);
    expect(planMeeting(config).at(-1)?.final).toBe(true);
  });
});

describe("nextTurn", () => {
  it("walks the plan by completed count and ends after the closing turn", () => {
    const plan = planMeeting(individualConfig({ rounds: 1 }));
    expect(nextTurn(plan, 0)?.kind).toBe("individual_answer");
    expect(nextTurn(plan, 1)?.kind).toBe("critic");
    expect(nextTurn(plan, 2)?.kind).toBe("final_answer");
    expect(nextTurn(plan, 3)).toBeUndefined();
  });

  it("rejects a cursor that cannot belong to the plan", () => {
    const plan = planMeeting(individualConfig({ rounds: 1 }));
    expect(() => nextTurn(plan, -1)).toThrow(RangeError);
    expect(() => nextTurn(plan, 4)).toThrow(RangeError);
    expect(() => nextTurn(plan, 1.5)).toThrow(RangeError);
  });
});

describe("meeting configuration", () => {
  it("fills defaults and enforces the bounds", () => {
    const config = parseMeetingConfig({ type: "individual", agenda: "x", rounds: 1, member: ML_SPECIALIST });
    expect(config).toMatchObject({ agendaQuestions: [], agendaRules: [], contexts: [], summaries: [], temperature: 0.2, critic: true });
    const bad = (patch: Record<string, unknown>) => () => teamConfig(patch);
    expect(bad({ rounds: 0 })).toThrow();
    expect(bad({ rounds: 11 })).toThrow();
    expect(bad({ members: [] })).toThrow();
    expect(bad({ members: Array.from({ length: 13 }, (_, i) => ({ ...IMMUNOLOGIST, title: `E${i}` })) })).toThrow();
    expect(bad({ agendaQuestions: Array.from({ length: 21 }, (_, i) => `q${i}`) })).toThrow();
    expect(bad({ contexts: ["x".repeat(20_001)] })).toThrow();
    expect(bad({ contexts: Array.from({ length: 21 }, () => "c") })).toThrow();
    expect(bad({ temperature: 1.1 })).toThrow();
    expect(bad({ maxCostUsd: 0 })).toThrow();
    expect(() => teamConfig({ maxCostUsd: 0.5, rounds: 10, temperature: 1 })).not.toThrow();
  });

  it("refuses two speakers with the same title, including a member who duplicates the automatic critic", () => {
    expect(() => teamConfig({ members: [IMMUNOLOGIST, { ...BIOLOGIST, title: "immunologist" }] })).toThrow(/same title/);
    expect(() => teamConfig({ critic: true, members: [IMMUNOLOGIST, SCIENTIFIC_CRITIC] })).toThrow(/critic/);
    expect(() => teamConfig({ critic: false, members: [IMMUNOLOGIST, SCIENTIFIC_CRITIC] })).not.toThrow();
  });
});
