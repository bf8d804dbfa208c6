import { describe, expect, it } from "vitest";
import type { MeetingConfig } from "../../../durable-objects/meeting/meeting-config.ts";
import { OFFLINE_LABEL, OFFLINE_MODEL_ID, runOfflineModel } from "../../../durable-objects/meeting/offline-model.ts";
import { costOfUsage } from "../../../durable-objects/meeting/pricing.ts";
import { buildMessages, promptChars } from "../../../durable-objects/meeting/prompts.ts";
import { parseSummary } from "../../../durable-objects/meeting/summary.ts";
import {
  interjectionEntry,
  type TranscriptEntry,
  TranscriptEntrySchema,
  transcriptEntryFor,
} from "../../../durable-objects/meeting/transcript.ts";
import { nextTurn, planMeeting } from "../../../durable-objects/meeting/turn-plan.ts";
import { individualConfig, QUESTIONS, teamConfig } from "./fixtures.ts";

/** Drives a whole meeting the way the room will: plan, cursor, prompt, offline reply, transcript. */
async function runMeeting(config: MeetingConfig, interject?: { afterTurn: number; name: string; text: string }) {
  const plan = planMeeting(config);
  const transcript: TranscriptEntry[] = [];
  const replies = [];
  for (let done = 0, turn = nextTurn(plan, 0); turn; turn = nextTurn(plan, ++done)) {
    const prompt = buildMessages(config, turn, transcript);
    const reply = runOfflineModel(config, turn, prompt);
    let streamed = "";
    for await (const d of reply.deltas) streamed += d;
    expect(streamed).toBe(reply.text);
    replies.push({ turn, prompt, reply });
    transcript.push(transcriptEntryFor(turn, reply.text));
    if (interject && interject.afterTurn === turn.index) transcript.push(interjectionEntry(interject.name, interject.text));
  }
  return { plan, transcript, replies };
}

describe("offline model", () => {
  it("is deterministic: the same meeting gives the same text, deltas and usage", async () => {
    const a = await runMeeting(teamConfig({ critic: true }));
    const b = await runMeeting(teamConfig({ critic: true }));
    expect(b.replies.map((r) => r.reply.text)).toEqual(a.replies.map((r) => r.reply.text));
    expect(b.replies.map((r) => r.reply.usage)).toEqual(a.replies.map((r) => r.reply.usage));
    const deltasOf = async (r: (typeof a.replies)[number]) => {
      const out: string[] = [];
      for await (const d of r.reply.deltas) out.push(d);
      return out;
    };
    expect(await deltasOf(b.replies[3] as (typeof a.replies)[number])).toEqual(await deltasOf(a.replies[3] as (typeof a.replies)[number]));
  });

  it("its transcript survives a storage round trip through the transcript schema", async () => {
    const { transcript } = await runMeeting(teamConfig(), { afterTurn: 0, name: "Ada", text: "Hello" });
    expect(TranscriptEntrySchema.array().parse(JSON.parse(JSON.stringify(transcript)))).toEqual(transcript);
  });

  it("is labelled as offline in its model id and in every reply, and costs nothing", async () => {
    const { replies } = await runMeeting(individualConfig());
    for (const { reply, prompt } of replies) {
      expect(reply.model).toBe(OFFLINE_MODEL_ID);
      expect(reply.text.startsWith(OFFLINE_LABEL)).toBe(true);
      expect(reply.usage.input_tokens).toBe(Math.ceil(promptChars(prompt) / 4));
      expect(reply.usage.output_tokens).toBe(Math.ceil(reply.text.length / 4));
      expect(costOfUsage(reply.model, reply.usage)).toBe(0);
    }
  });

  it("follows the team plan: the lead convenes, members contribute or pass, the critic critiques, the lead summarises", async () => {
    const { replies } = await runMeeting(teamConfig({ critic: true, rounds: 3 }));
    const byKind = (k: string) => replies.filter((r) => r.turn.kind === k).map((r) => r.reply.text);
    expect(byKind("lead_opening")[0]).toMatch(
      /Attending: Immunologist, Machine Learning Specialist, Computational Biologist, Scientific Critic/,
    );
    expect(byKind("lead_opening")[0]).toContain(QUESTIONS[0]);
    for (const t of byKind("member")) expect(t).toMatch(/From my perspective as|^.*Pass\./s);
    for (const t of byKind("critic")) expect(t).toMatch(/Critique of the discussion in round \d/);
    for (const t of byKind("lead_synthesis")) expect(t).toMatch(/Synthesis of round \d[\s\S]*Follow-up questions:/);
    expect(byKind("lead_summary")).toHaveLength(1);
  });

  it("its summary parses with every section and an answer per agenda question", async () => {
    for (const config of [
      teamConfig({ critic: true }),
      individualConfig({ critic: true }),
      individualConfig({ critic: false, rounds: 1 }),
    ]) {
      const { replies } = await runMeeting(config);
      const closing = replies.at(-1);
      expect(closing?.turn.final).toBe(true);
      const summary = parseSummary(closing?.reply.text ?? "", { questions: config.agendaQuestions });
      expect(summary.missingSections).toEqual([]);
      expect(summary.answers.map((a) => a.question)).toEqual(QUESTIONS);
      expect(summary.answers.every((a) => a.answer && a.justification)).toBe(true);
      expect(summary.recommendation).toMatch(/^I recommend /);
    }
  });

  it("a merge says where each part came from", async () => {
    const config = individualConfig({
      rounds: 1,
      merge: {
        sources: [
          { label: "Summary 1", text: "one" },
          { label: "Summary 2", text: "two" },
        ],
      },
    });
    const { replies } = await runMeeting(config);
    const summary = parseSummary(replies.at(-1)?.reply.text ?? "");
    expect(summary.missingSections).toEqual([]);
    expect(summary.provenance).toMatch(/\[Summary [12]\]/);
  });

  it("acknowledges a human interjection by name", async () => {
    const { replies } = await runMeeting(teamConfig(), { afterTurn: 1, name: "Ada", text: "What about cost?" });
    expect(replies[2]?.reply.text).toContain(`Regarding Ada's point ("What about cost")`);
  });

  it("streams with a delay between deltas and stops when aborted", async () => {
    const config = individualConfig();
    const turn = planMeeting(config)[0];
    if (!turn) throw new Error("no turn");
    const controller = new AbortController();
    const reply = runOfflineModel(config, turn, buildMessages(config, turn, []), { delayMs: 5, signal: controller.signal });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const d of reply.deltas) {
          seen.push(d);
          if (seen.length === 3) controller.abort(new Error("cancelled"));
        }
      })(),
    ).rejects.toThrow("cancelled");
    expect(seen).toHaveLength(3);
  });

  it("truncates at the turn's max_tokens like the API", () => {
    const config = teamConfig({ maxTokensPerTurn: 256 });
    const turn = { ...(planMeeting(config).at(-1) as ReturnType<typeof planMeeting>[number]), maxTokens: 50 };
    const reply = runOfflineModel(config, turn, buildMessages(config, turn, []));
    expect(reply.stopReason).toBe("max_tokens");
    expect(reply.text.length).toBe(200);
  });
});
