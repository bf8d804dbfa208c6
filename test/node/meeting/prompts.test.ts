import { describe, expect, it } from "vitest";
import { PRINCIPAL_INVESTIGATOR, SCIENTIFIC_CRITIC } from "../../../durable-objects/meeting/meeting-config.ts";
import {
  buildTurnRequest,
  CURRENT_API_VERSION,
  modelAcceptsTemperature,
  SAMPLING_API_VERSION,
} from "../../../durable-objects/meeting/messages-request.ts";
import { buildMessages, promptChars, systemPromptFor } from "../../../durable-objects/meeting/prompts.ts";
import { interjectionEntry, type TranscriptEntry, transcriptEntryFor } from "../../../durable-objects/meeting/transcript.ts";
import { planMeeting, type Turn } from "../../../durable-objects/meeting/turn-plan.ts";
import { AGENDA, IMMUNOLOGIST, individualConfig, ML_SPECIALIST, QUESTIONS, RULES, teamConfig } from "./fixtures.ts";

const allText = (p: ReturnType<typeof buildMessages>) => [p.system, ...p.messages.map((m) => m.content)].join("\n");

/** Transcript of the first `n` turns, each saying "<title> speaking (turn i)". */
function transcriptOf(plan: Turn[], n: number): TranscriptEntry[] {
  return plan.slice(0, n).map((t) => transcriptEntryFor(t, `${t.agent.title} speaking (turn ${t.index}).`));
}

describe("systemPromptFor", () => {
  it("builds the persona from title, expertise, goal and role", () => {
    expect(systemPromptFor(IMMUNOLOGIST)).toBe(
      "You are an Immunologist. Your expertise is in antibody engineering and immune response. " +
        "Your goal is to design nanobodies that bind the new variant. Your role is to propose and critique binder candidates.",
    );
    expect(systemPromptFor(PRINCIPAL_INVESTIGATOR)).toMatch(
      /^You are a Principal Investigator\. Your expertise is in running a science research lab\./,
    );
  });
});

describe("buildMessages", () => {
  const config = teamConfig({ critic: true });
  const plan = planMeeting(config);

  it("the lead's opening carries attendees, earlier summaries, contexts, agenda, questions and rules", () => {
    const p = buildMessages(config, plan[0] as Turn, []);
    expect(p.system).toContain("You are a Principal Investigator.");
    expect(p.messages).toHaveLength(1);
    expect(p.messages[0]?.role).toBe("user");
    const text = p.messages[0]?.content ?? "";
    expect(text).toContain("team lead, Principal Investigator");
    expect(text).toContain("Immunologist, Machine Learning Specialist and Computational Biologist");
    expect(text).toContain("Scientific Critic");
    expect(text).toContain("[begin summary 1]");
    expect(text).toContain("Last time we chose to reuse Ty1");
    expect(text).toContain("[begin context 1]");
    expect(text).toContain("F456L and Q493E");
    expect(text).toContain(AGENDA);
    for (const [i, q] of QUESTIONS.entries()) expect(text).toContain(`${i + 1}. ${q}`);
    for (const [i, r] of RULES.entries()) expect(text).toContain(`${i + 1}. ${r}`);
    expect(text).toContain("This will continue for 2 rounds");
    expect(text).toMatch(/Principal Investigator, please provide your initial thoughts on the agenda/);
    // The order Virtual Lab uses: summaries and contexts before the agenda, questions, then rules.
    expect(text.indexOf("[begin summary 1]")).toBeLessThan(text.indexOf("[begin context 1]"));
    expect(text.indexOf("[begin context 1]")).toBeLessThan(text.indexOf(AGENDA));
    expect(text.indexOf(QUESTIONS[0] as string)).toBeLessThan(text.indexOf(RULES[0] as string));
  });

  it("a member's turn sees the brief and everything said before it, labelled with the speaker", () => {
    const turn = plan[3] as Turn; // third member in round 1
    expect(turn.agent.title).toBe("Computational Biologist");
    const p = buildMessages(config, turn, transcriptOf(plan, 3));
    expect(p.system).toContain("You are a Computational Biologist.");
    const text = allText(p);
    expect(text).toContain(AGENDA);
    expect(text).toContain("[Principal Investigator]\nPrincipal Investigator speaking (turn 0).");
    expect(text).toContain("[Immunologist]\nImmunologist speaking (turn 1).");
    expect(text).toContain("[Machine Learning Specialist]\nMachine Learning Specialist speaking (turn 2).");
    const last = p.messages.at(-1)?.content ?? "";
    expect(last).toContain("Computational Biologist, please provide your thoughts on the discussion (round 1 of 2)");
    expect(last).toContain('you may say "pass"');
    expect(last).toMatch(/disagree/);
  });

  it("renders the speaker's own earlier turns as assistant messages and keeps roles alternating, starting and ending with user", () => {
    const turn = plan.find((t) => t.round === 2 && t.agent.title === "Immunologist") as Turn;
    const p = buildMessages(config, turn, transcriptOf(plan, turn.index));
    expect(p.messages[0]?.role).toBe("user");
    expect(p.messages.at(-1)?.role).toBe("user");
    for (let i = 1; i < p.messages.length; i++) expect(p.messages[i]?.role).not.toBe(p.messages[i - 1]?.role);
    const mine = p.messages.filter((m) => m.role === "assistant");
    expect(mine.map((m) => m.content)).toEqual(["Immunologist speaking (turn 1)."]);
    expect(allText(p)).toContain("--- Round 2 of 2 ---");
  });

  it("human interjections appear in the transcript with the person's name", () => {
    const transcript = [...transcriptOf(plan, 2), interjectionEntry("Dr. Ada Lovelace", "Please consider the cost of each tool.")];
    const p = buildMessages(config, plan[2] as Turn, transcript);
    const text = allText(p);
    expect(text).toContain("[Human participant: Dr. Ada Lovelace]\nPlease consider the cost of each tool.");
    expect(p.system).toContain("Human participant");
    expect(text.indexOf("Immunologist speaking")).toBeLessThan(text.indexOf("Dr. Ada Lovelace"));
  });

  it("the lead's synthesis closes the previous round and asks for follow-ups", () => {
    const turn = plan.find((t) => t.kind === "lead_synthesis") as Turn;
    const last = buildMessages(config, turn, transcriptOf(plan, turn.index)).messages.at(-1)?.content ?? "";
    expect(last).toContain("This concludes round 1 of 2 of discussion.");
    expect(last).toMatch(/synthesize the points raised by each team member/);
    expect(last).toMatch(/follow-up questions/);
  });

  it("the critic critiques the round and does not write the answer", () => {
    const turn = plan.find((t) => t.kind === "critic") as Turn;
    const p = buildMessages(config, turn, transcriptOf(plan, turn.index));
    expect(p.system).toContain(`You are a ${SCIENTIFIC_CRITIC.title}.`);
    const last = p.messages.at(-1)?.content ?? "";
    expect(last).toMatch(/Scientific Critic, please critique the discussion so far \(round 1 of 2\)/);
    expect(last).toMatch(/do not write the answer yourself/);
  });

  it("the summary turn demands the five sections as Markdown headings and a chosen recommendation", () => {
    const turn = plan.at(-1) as Turn;
    const last = buildMessages(config, turn, transcriptOf(plan, turn.index)).messages.at(-1)?.content ?? "";
    const headings = ["### Agenda", "### Team Member Input", "### Recommendation", "### Answers", "### Next Steps"];
    const at = headings.map((h) => last.indexOf(h));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(last).toMatch(/must choose one option/);
    for (const [i, q] of QUESTIONS.entries()) expect(last).toContain(`#### Question ${i + 1}: ${q}`);
    expect(last).toContain("Justification:");
    expect(last).not.toContain("### Provenance");
  });

  it("an individual meeting alternates answer and critique, and the final answer uses the summary sections", () => {
    const ind = individualConfig({ rounds: 2, critic: true });
    const iplan = planMeeting(ind);
    const first = buildMessages(ind, iplan[0] as Turn, []);
    expect(allText(first)).toContain("individual meeting with Machine Learning Specialist");
    expect(first.messages.at(-1)?.content).toMatch(/please provide your response to the agenda, answering each agenda question/);
    const critic = buildMessages(ind, iplan[1] as Turn, transcriptOf(iplan, 1));
    expect(critic.messages.at(-1)?.content).toMatch(/please critique Machine Learning Specialist's most recent answer/);
    const revise = buildMessages(ind, iplan[2] as Turn, transcriptOf(iplan, 2));
    expect(revise.messages.at(-1)?.content).toMatch(/modify your answer to address Scientific Critic's most recent feedback/);
    const final = buildMessages(ind, iplan.at(-1) as Turn, transcriptOf(iplan, iplan.length - 1));
    expect(final.messages.at(-1)?.content).toContain("### Next Steps");
    expect(final.messages.at(-1)?.content).toMatch(/Scientific Critic's feedback across the rounds/);
  });

  it("without the critic, later rounds ask the member to review its own answer", () => {
    const ind = individualConfig({ rounds: 2, critic: false });
    const iplan = planMeeting(ind);
    expect(allText(buildMessages(ind, iplan[1] as Turn, transcriptOf(iplan, 1)))).toMatch(
      /review your previous answer critically \(round 2 of 2\)/,
    );
  });

  it("a merge meeting shows the labelled source summaries and asks for provenance", () => {
    const merge = individualConfig({
      rounds: 1,
      critic: false,
      member: PRINCIPAL_INVESTIGATOR,
      merge: {
        sources: [
          { label: "Summary 1", text: "### Recommendation\n\nStart from Ty1." },
          { label: "Summary 2", text: "### Recommendation\n\nDesign de novo." },
        ],
      },
    });
    const p = buildMessages(merge, planMeeting(merge)[0] as Turn, []);
    const text = allText(p);
    expect(text).toContain("[begin Summary 1]\n\n### Recommendation\n\nStart from Ty1.\n\n[end Summary 1]");
    expect(text).toContain("[begin Summary 2]");
    expect(text).toMatch(/merges the best components of each/);
    expect(text).toContain("### Provenance");
  });

  it("promptChars counts the system prompt and every message", () => {
    const p = buildMessages(config, plan[2] as Turn, transcriptOf(plan, 2));
    expect(promptChars(p)).toBe(p.system.length + p.messages.reduce((n, m) => n + m.content.length, 0));
  });
});

describe("buildTurnRequest", () => {
  const config = teamConfig({ temperature: 0.5, maxTokensPerTurn: 1000 });
  const plan = planMeeting(config);
  const turnOf = (model: string) => ({ ...(plan[1] as Turn), agent: { ...IMMUNOLOGIST, model } });

  it("sends the meeting temperature on API version 2023-06-01 to models that accept it", () => {
    const req = buildTurnRequest(config, turnOf("claude-sonnet-4-5-20250929"), transcriptOf(plan, 1));
    expect(req).toMatchObject({ apiVersion: SAMPLING_API_VERSION, temperatureApplied: true });
    expect(req.body).toMatchObject({ model: "claude-sonnet-4-5-20250929", max_tokens: 1000, temperature: 0.5 });
    expect(req.body.system).toContain("You are an Immunologist.");
  });

  it("omits the temperature on the current version for models that refuse sampling parameters", () => {
    for (const model of [
      "claude-opus-4-7",
      "claude-opus-4-8",
      "claude-sonnet-5",
      "claude-opus-5-5",
      "claude-haiku-5-5",
      "claude-fable-5-1",
      "some-new-model",
    ]) {
      const req = buildTurnRequest(config, turnOf(model), []);
      expect(req).toMatchObject({ apiVersion: CURRENT_API_VERSION, temperatureApplied: false });
      expect(req.body).not.toHaveProperty("temperature");
    }
    expect(modelAcceptsTemperature("claude-haiku-4-5")).toBe(true);
    expect(modelAcceptsTemperature("claude-opus-4-1-20250805")).toBe(true);
  });

  it("can be told never to send a temperature", () => {
    const req = buildTurnRequest(config, turnOf(ML_SPECIALIST.model), [], { temperature: "omit" });
    expect(req).toMatchObject({ apiVersion: CURRENT_API_VERSION, temperatureApplied: false });
    expect(req.body).not.toHaveProperty("temperature");
  });
});
