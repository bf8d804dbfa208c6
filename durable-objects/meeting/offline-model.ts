/**
 * The offline model (`atrium-offline`): what meetings run on when no Anthropic API key is set, so
 * the product can be tried and tested without one. It is not a language model: it assembles
 * plausible, clearly labelled text from the meeting configuration and the turn, deterministic for
 * the same prompt, and follows the turn plan (openings convene, members contribute or pass,
 * critics critique, closing turns write every summary section). Replies stream as deltas with a
 * usage object computed the same way every time, and cost nothing in the price table.
 */
import { type Agent, criticOf, leadOf, type MeetingConfig } from "./meeting-config.ts";
import { OFFLINE_MODEL_ID, type TokenUsage } from "./pricing.ts";
import { type BuiltPrompt, promptChars } from "./prompts.ts";
import { type MeetingSummary, renderSummaryForContext } from "./summary.ts";
import type { Turn } from "./turn-plan.ts";

export { OFFLINE_MODEL_ID };

/** First line of every offline reply, so its text is never mistaken for a real model's, wherever it is copied. */
export const OFFLINE_LABEL = "_[Offline model `atrium-offline`: placeholder text generated without an API key, not a real model reply.]_";

/** Characters per token the offline usage is computed with. */
const CHARS_PER_TOKEN = 4;

export interface OfflineReply {
  model: typeof OFFLINE_MODEL_ID;
  text: string;
  /** The text in chunks of a few words; iterating again replays it from the start. */
  deltas: AsyncIterable<string>;
  usage: Required<Pick<TokenUsage, "input_tokens" | "output_tokens" | "cache_creation_input_tokens" | "cache_read_input_tokens">>;
  stopReason: "end_turn" | "max_tokens";
}

export interface OfflineModelOptions {
  /** Pause between deltas (ms), to look like streaming in the UI; 0 in tests. */
  delayMs?: number;
  signal?: AbortSignal;
}

/** FNV-1a: a small stable hash to seed the generator from the prompt. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a seeded PRNG, so the same prompt gives the same reply in every runtime. */
function rngFrom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rng: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length) % xs.length] as T;
}

const APPROACHES = [
  "a staged pilot that tests the riskiest assumption first",
  "a small computational screen followed by targeted validation of the top candidates",
  "a head-to-head comparison of the two strongest options on a shared benchmark",
  "an incremental extension of the existing pipeline rather than a rebuild",
  "a simple, well-understood baseline first, then one carefully justified refinement",
] as const;

const RISKS = [
  "the data we have may not be representative of the cases we care about",
  "the evaluation metric could reward the wrong behaviour",
  "the timeline leaves little room for a failed first attempt",
  "compute and reagent costs could grow faster than expected",
  "we may be tuning to a single benchmark and overstate the effect",
] as const;

const CHECKS = [
  "define a measurable success criterion before starting",
  "hold out an independent validation set",
  "track a simple baseline alongside every change",
  "write down every assumption so that it can be checked",
  "plan one full iteration that is allowed to fail",
] as const;

const REASONS = [
  "it answers the agenda with the least new machinery",
  "it produces a decision-relevant result early",
  "it keeps the option to change course after the first milestone",
  "it reuses what the team already knows how to do well",
] as const;

function firstSentence(text: string, max = 160): string {
  const one = text.trim().replace(/\s+/g, " ");
  const end = one.search(/[.!?](\s|$)/);
  const s = end >= 0 ? one.slice(0, end) : one;
  return s.length > max ? `${s.slice(0, max - 1).trimEnd()}…` : s;
}

function short(text: string, max = 80): string {
  const one = text
    .trim()
    .replace(/\s+/g, " ")
    .replace(/[?.!]+$/, "");
  return one.length > max ? `${one.slice(0, max - 1).trimEnd()}…` : one;
}

const lower = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

interface Ctx {
  config: MeetingConfig;
  turn: Turn;
  rng: () => number;
  /** Stable per meeting, so every turn leans towards the same recommendation. */
  approach: string;
  topic: string;
}

function participants(config: MeetingConfig): Agent[] {
  const critic = criticOf(config);
  const base = config.type === "team" ? [...config.members] : [];
  return critic ? [...base, critic] : base;
}

/** What an agent argues throughout the meeting, stable per agenda and agent, so the summary matches the discussion. */
function stanceOf(config: MeetingConfig, agent: Agent): { approach: string; risk: string; check: string } {
  const rng = rngFrom(hash(`${config.agenda}|${agent.title}`));
  return { approach: pick(rng, APPROACHES), risk: pick(rng, RISKS), check: pick(rng, CHECKS) };
}

/** The latest interjection the speaker has not answered yet: it is in the last user message. */
function pendingInterjection(prompt: BuiltPrompt): { name: string; text: string } | undefined {
  const last = prompt.messages[prompt.messages.length - 1]?.content ?? "";
  const all = [...last.matchAll(/\[Human participant: ([^\]\n]+)\]\n([^\n]+)/g)];
  const m = all[all.length - 1];
  return m ? { name: m[1] ?? "", text: m[2] ?? "" } : undefined;
}

function questionLines(ctx: Ctx, max = 3): string[] {
  return ctx.config.agendaQuestions.slice(0, max).map((q, i) => {
    const stance = pick(ctx.rng, ["I would answer", "my answer is", "I lean towards", "the evidence points to"]);
    return `- On question ${i + 1} (${short(q, 60)}): ${stance} ${ctx.approach}, provided we ${pick(ctx.rng, CHECKS)}.`;
  });
}

function rulesLine(config: MeetingConfig, lead = false): string | undefined {
  const rule = config.agendaRules[0];
  if (!rule) return undefined;
  return lead
    ? `Please keep to the agenda rules, in particular: "${short(rule, 100)}".`
    : `This stays within the agenda rules, in particular: "${short(rule, 100)}".`;
}

function leadOpening(ctx: Ctx): string {
  const { config } = ctx;
  const people = participants(config);
  const lines = [`Welcome, everyone. Attending: ${people.map((a) => a.title).join(", ")}. Today's agenda: ${ctx.topic}.`];
  if (config.summaries.length > 0)
    lines.push(`We build on ${config.summaries.length} earlier meeting summary(ies); let's not repeat settled decisions.`);
  if (config.contexts.length > 0) lines.push(`Please keep the ${config.contexts.length} context document(s) in mind.`);
  lines.push("", "To guide the discussion:");
  for (const [i, a] of people.entries()) {
    lines.push(
      `${i + 1}. ${a.title}: from the angle of ${lower(short(a.expertise, 70))}, what is the most promising approach, and what would make it fail?`,
    );
  }
  if (config.agendaQuestions.length > 0) {
    lines.push("", "By the end of the meeting we must answer:");
    for (const [i, q] of config.agendaQuestions.entries()) lines.push(`${i + 1}. ${q}`);
  }
  const rule = rulesLine(config, true);
  if (rule) lines.push("", rule);
  return lines.join("\n");
}

function memberTurn(ctx: Ctx): string {
  const { config, turn, rng } = ctx;
  if (turn.round > 1 && rng() < 0.2)
    return "Pass. I have nothing new to add beyond my earlier points, and I agree with the current direction.";
  const others = [leadOf(config), ...(config.type === "team" ? config.members : [])].filter((a) => a.title !== turn.agent.title);
  const stance = stanceOf(config, turn.agent);
  const lines = [
    `From my perspective as ${turn.agent.title}, with expertise in ${lower(short(turn.agent.expertise, 80))}, ` +
      `I would address "${ctx.topic}" with ${stance.approach}. My main worry is that ${stance.risk}.`,
    "",
    ...questionLines(ctx),
  ];
  const other = others.length > 0 ? pick(rng, others) : undefined;
  if (other && rng() < 0.7) {
    lines.push("", `I respectfully disagree with ${other.title} on one point: ${pick(rng, RISKS)}, so we should ${stance.check}.`);
  }
  const rule = rulesLine(config);
  if (rule) lines.push("", rule);
  return lines.join("\n");
}

function leadSynthesis(ctx: Ctx): string {
  const { config, turn, rng } = ctx;
  const people = participants(config);
  const lines = [`Thank you. Synthesis of round ${turn.round - 1}:`];
  for (const a of people) {
    const stance = stanceOf(config, a);
    lines.push(`- ${a.title}: ${pick(rng, ["argued for", "proposed", "favoured"])} ${stance.approach}, and warned that ${stance.risk}.`);
  }
  lines.push("", `Decision for now: we proceed with ${ctx.approach}, because ${pick(rng, REASONS)}.`, "", "Follow-up questions:");
  for (const [i, a] of people.entries())
    lines.push(`${i + 1}. ${a.title}: how exactly would you ${pick(rng, CHECKS)} in your part of the work?`);
  return lines.join("\n");
}

function critique(ctx: Ctx): string {
  const { config, turn, rng } = ctx;
  const target = config.type === "team" ? `the discussion in round ${turn.round}` : `${leadOf(config).title}'s most recent answer`;
  const lines = [`Critique of ${target}:`];
  for (let i = 1; i <= 3; i++)
    lines.push(`${i}. ${pick(rng, RISKS).replace(/^./, (c) => c.toUpperCase())}; the proposal should ${pick(rng, CHECKS)}.`);
  lines.push(
    "",
    config.agendaRules.length > 0
      ? `Adherence: the proposals respect the agenda rules as written, but rule 1 ("${short(config.agendaRules[0] ?? "", 80)}") needs to be stated explicitly in the answer.`
      : "Adherence: no agenda rules were given; the proposals stay on the agenda.",
  );
  if (config.agendaQuestions.length > 0)
    lines.push(`Question ${1 + Math.floor(rng() * config.agendaQuestions.length)} still lacks a concrete, checkable answer.`);
  return lines.join("\n");
}

function individualAnswer(ctx: Ctx): string {
  const { turn, config } = ctx;
  const lines = [
    turn.round === 1
      ? `My response to the agenda ("${ctx.topic}"): I propose ${ctx.approach}, because ${pick(ctx.rng, REASONS)}.`
      : `Revised answer (round ${turn.round} of ${turn.rounds}): I keep ${ctx.approach}, and ${criticOf(config) ? "address the critique" : "tighten my earlier answer"}: we will ${pick(ctx.rng, CHECKS)}.`,
    "",
    ...questionLines(ctx, 20),
  ];
  const rule = rulesLine(config);
  if (rule) lines.push("", rule);
  return lines.join("\n");
}

function closingSummary(ctx: Ctx): string {
  const { config, rng } = ctx;
  const critic = criticOf(config);
  const input =
    config.type === "team"
      ? participants(config)
          .map((a) => {
            const stance = stanceOf(config, a);
            return `- **${a.title}**: favoured ${stance.approach}; warned that ${stance.risk}, and asked us to ${stance.check}.`;
          })
          .join("\n")
      : critic
        ? `- **${critic.title}** asked us to ${pick(rng, CHECKS)}; addressed by making it the first milestone.\n- **${critic.title}** warned that ${pick(rng, RISKS)}; addressed with an explicit check.`
        : `- Self-review: ${pick(rng, RISKS)}; addressed by planning to ${pick(rng, CHECKS)}.`;
  const summary: MeetingSummary = {
    agenda: `We met to decide how to proceed on: ${firstSentence(config.agenda, 300)}.`,
    teamMemberInput: input,
    recommendation: `I recommend ${ctx.approach}. We choose it over the alternatives discussed because ${pick(rng, REASONS)}, and we will ${pick(rng, CHECKS)}.`,
    answers: config.agendaQuestions.map((q) => ({
      question: q,
      answer: `Follow ${ctx.approach}; concretely, ${pick(rng, CHECKS)}.`,
      justification: `This follows from the recommendation above and addresses the concern that ${pick(rng, RISKS)}.`,
    })),
    nextSteps: [1, 2, 3].map((i) => `${i}. ${pick(rng, CHECKS).replace(/^./, (c) => c.toUpperCase())}.`).join("\n"),
  };
  if (config.type === "individual" && config.merge) {
    const sources = config.merge.sources;
    summary.provenance = [
      `- Recommendation: taken from [${pick(rng, sources).label}], whose plan was the most concrete.`,
      `- Answers: combined from ${sources.map((s) => `[${s.label}]`).join(", ")}, keeping the best-justified answer to each question.`,
      `- Next steps: from [${pick(rng, sources).label}], because they were the easiest to check.`,
    ].join("\n");
  }
  return renderSummaryForContext(summary);
}

/** The offline reply text for a turn (without streaming). */
export function offlineText(config: MeetingConfig, turn: Turn, prompt: BuiltPrompt): string {
  const seedText = `${turn.index}|${turn.kind}|${prompt.system}|${prompt.messages.map((m) => `${m.role}:${m.content}`).join("\n")}`;
  const meetingRng = rngFrom(hash(config.agenda));
  const ctx: Ctx = {
    config,
    turn,
    rng: rngFrom(hash(seedText)),
    approach: pick(meetingRng, APPROACHES),
    topic: short(firstSentence(config.agenda), 120),
  };
  let body: string;
  switch (turn.kind) {
    case "lead_opening":
      body = leadOpening(ctx);
      break;
    case "member":
      body = memberTurn(ctx);
      break;
    case "lead_synthesis":
      body = leadSynthesis(ctx);
      break;
    case "critic":
      body = critique(ctx);
      break;
    case "individual_answer":
      body = individualAnswer(ctx);
      break;
    // Every merge turn, like Virtual Lab's, writes a complete merged summary.
    case "lead_summary":
    case "final_answer":
    case "merge":
      body = closingSummary(ctx);
      break;
  }
  const human = pendingInterjection(prompt);
  const ack = human ? `Regarding ${human.name}'s point ("${short(human.text, 100)}"): noted, and taken into account below.\n\n` : "";
  return `${OFFLINE_LABEL}\n\n${ack}${body}`;
}

function chunk(text: string, seed: number): string[] {
  const rng = rngFrom(seed);
  const pieces = text.match(/\s*\S+\s*/g) ?? [text];
  const out: string[] = [];
  for (let i = 0; i < pieces.length; ) {
    const n = 1 + Math.floor(rng() * 3);
    out.push(pieces.slice(i, i + n).join(""));
    i += n;
  }
  return out;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs the offline model for `turn`: the full text, its deltas and usage. Usage is derived from
 * the sizes (4 characters per token), so it is the same on every run; the reply respects the
 * turn's `maxTokens` by truncating with `stopReason: "max_tokens"`, as the API would.
 */
export function runOfflineModel(config: MeetingConfig, turn: Turn, prompt: BuiltPrompt, options: OfflineModelOptions = {}): OfflineReply {
  let text = offlineText(config, turn, prompt);
  let stopReason: OfflineReply["stopReason"] = "end_turn";
  if (Math.ceil(text.length / CHARS_PER_TOKEN) > turn.maxTokens) {
    text = text.slice(0, turn.maxTokens * CHARS_PER_TOKEN);
    stopReason = "max_tokens";
  }
  const pieces = chunk(text, hash(text));
  const delayMs = options.delayMs ?? 0;
  const { signal } = options;
  const deltas: AsyncIterable<string> = {
    async *[Symbol.asyncIterator]() {
      for (const [i, piece] of pieces.entries()) {
        signal?.throwIfAborted();
        if (delayMs > 0 && i > 0) await sleep(delayMs, signal);
        yield piece;
      }
    },
  };
  return {
    model: OFFLINE_MODEL_ID,
    text,
    deltas,
    usage: {
      input_tokens: Math.ceil(promptChars(prompt) / CHARS_PER_TOKEN),
      output_tokens: Math.max(1, Math.ceil(text.length / CHARS_PER_TOKEN)),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    },
    stopReason,
  };
}
