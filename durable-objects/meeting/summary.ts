/**
 * The meeting summary as structured fields: the fixed sections the closing turn is asked for
 * (Agenda, Team Member Input, Recommendation, Answers, Next Steps, plus Provenance on merges),
 * parsed out of the model's Markdown, and rendered back for later meetings to build on.
 * Models vary the formatting (heading levels, bold labels, numbering, synonyms), so the parser is
 * lenient and reports which sections it could not find instead of failing.
 */
import { z } from "zod";

export const SUMMARY_SECTIONS = [
  { key: "agenda", heading: "Agenda" },
  { key: "teamMemberInput", heading: "Team Member Input" },
  { key: "recommendation", heading: "Recommendation" },
  { key: "answers", heading: "Answers" },
  { key: "nextSteps", heading: "Next Steps" },
] as const;
export type SummarySectionKey = (typeof SUMMARY_SECTIONS)[number]["key"] | "provenance";

export const SummaryAnswerSchema = z.object({
  question: z.string(),
  answer: z.string(),
  justification: z.string().optional(),
});
export type SummaryAnswer = z.infer<typeof SummaryAnswerSchema>;

export const MeetingSummarySchema = z.object({
  agenda: z.string(),
  teamMemberInput: z.string(),
  recommendation: z.string(),
  answers: z.array(SummaryAnswerSchema),
  nextSteps: z.string(),
  /** Merge meetings only: which parts came from which source summary. */
  provenance: z.string().optional(),
});
export type MeetingSummary = z.infer<typeof MeetingSummarySchema>;

export interface ParsedSummary extends MeetingSummary {
  /** Required sections the text did not contain (empty when the summary is complete). */
  missingSections: SummarySectionKey[];
}

export interface ParseSummaryOptions {
  /** The meeting's agenda questions: fill in question text the model left out, match by number. */
  questions?: readonly string[];
}

/** Normalized heading label → section. */
const SECTION_ALIASES: Record<string, SummarySectionKey> = {
  agenda: "agenda",
  "meeting agenda": "agenda",
  "agenda restated": "agenda",
  "restated agenda": "agenda",
  "team member input": "teamMemberInput",
  "team members input": "teamMemberInput",
  "team member inputs": "teamMemberInput",
  "team input": "teamMemberInput",
  "member input": "teamMemberInput",
  "input from team members": "teamMemberInput",
  "summary of team member input": "teamMemberInput",
  recommendation: "recommendation",
  recommendations: "recommendation",
  "final recommendation": "recommendation",
  "my recommendation": "recommendation",
  answers: "answers",
  answer: "answers",
  "agenda questions": "answers",
  "answers to agenda questions": "answers",
  "answers to the agenda questions": "answers",
  "agenda question answers": "answers",
  "next steps": "nextSteps",
  "next step": "nextSteps",
  nextsteps: "nextSteps",
  "action items": "nextSteps",
  provenance: "provenance",
  sources: "provenance",
  "source attribution": "provenance",
};

function normalizeLabel(label: string): string {
  return label
    .toLowerCase()
    .replace(/['’]/g, "")
    .replace(/[^a-z]+/g, " ")
    .trim();
}

interface HeadingMatch {
  section: SummarySectionKey;
  /** Text after the heading on the same line ("**Recommendation:** do X"). */
  rest: string;
}

/**
 * Recognises a section heading line: `### Agenda`, `## 3. Recommendation:`, `**Next Steps**`,
 * `**Answers:**`, `Agenda:` on its own line, or `**Recommendation:** text` with inline content.
 */
function matchHeading(line: string): HeadingMatch | undefined {
  const hash = /^\s{0,3}#{1,6}\s*(.*?)\s*#*\s*$/.exec(line);
  if (hash) {
    const inner = stripEmphasis(hash[1] ?? "");
    const m = /^(?:\d+[.)]\s*)?([^:]+)(?::\s*(.*))?$/.exec(inner);
    const section = m && SECTION_ALIASES[normalizeLabel(m[1] ?? "")];
    return section ? { section, rest: (m?.[2] ?? "").trim() } : undefined;
  }
  // Bold / underlined label, optionally with the colon inside or outside and inline content after.
  const bold = /^\s*(?:\d+[.)]\s*)?(\*\*|__)\s*(?:\d+[.)]\s*)?([^*_:]+?)\s*:?\s*\1\s*:?\s*(.*)$/.exec(line);
  if (bold) {
    const section = SECTION_ALIASES[normalizeLabel(bold[2] ?? "")];
    return section ? { section, rest: (bold[3] ?? "").trim() } : undefined;
  }
  // A bare label alone on its line ("Next Steps:" / "Agenda").
  const plain = /^\s*(?:\d+[.)]\s*)?([A-Za-z][A-Za-z '’-]*?)\s*:?\s*$/.exec(line);
  if (plain) {
    const section = SECTION_ALIASES[normalizeLabel(plain[1] ?? "")];
    // "Answer" alone is a field inside the Answers section, never a section heading there.
    return section && normalizeLabel(plain[1] ?? "") !== "answer" ? { section, rest: "" } : undefined;
  }
  return undefined;
}

function stripEmphasis(s: string): string {
  return s
    .trim()
    .replace(/^(\*\*|__|\*|_)(.*)\1$/, "$2")
    .trim();
}

/** Splits text into sections by heading; later repeats of a section are appended. */
function splitSections(text: string): Map<SummarySectionKey, string> {
  const sections = new Map<SummarySectionKey, string[]>();
  let current: string[] | undefined;
  let inFence = false;
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const heading = inFence ? undefined : matchHeading(line);
    // Inside Answers, "**Answer:** …" is a field of the current question, not the section again.
    if (heading && !(current !== undefined && current === sections.get("answers") && heading.section === "answers")) {
      current = sections.get(heading.section) ?? [];
      if (!sections.has(heading.section)) sections.set(heading.section, current);
      else current.push("");
      if (heading.rest) current.push(heading.rest);
      continue;
    }
    current?.push(line);
  }
  const out = new Map<SummarySectionKey, string>();
  for (const [k, lines] of sections) out.set(k, tidy(lines.join("\n")));
  return out;
}

/** Trims blank edges and trailing horizontal rules left between sections. */
function tidy(s: string): string {
  return s
    .replace(/(?:\n\s*(?:---+|\*\*\*+|___+)\s*)+$/, "")
    .replace(/^\s*\n/, "")
    .trim();
}

type Field = "question" | "answer" | "justification";

const FIELD_ALIASES: Record<string, Field> = {
  question: "question",
  q: "question",
  answer: "answer",
  a: "answer",
  response: "answer",
  justification: "justification",
  rationale: "justification",
  reason: "justification",
  reasoning: "justification",
};

/** Removes list bullets, quote marks and heading hashes in front of a line. */
function stripLineDecoration(line: string): string {
  return line
    .replace(/^\s*#{1,6}\s*/, "")
    .replace(/^\s*(?:[-*•+>])\s+/, "")
    .trim();
}

/** Drops an emphasis marker left unbalanced by splitting `**Q1. What?**` into label and rest. */
function balanceEmphasis(s: string): string {
  let out = s.trim();
  for (const mark of ["**", "__"]) {
    if (out.split(mark).length % 2 === 0) out = out.endsWith(mark) ? out.slice(0, -mark.length) : out.replace(mark, "");
  }
  return out.trim();
}

interface FieldMatch {
  field: Field;
  number?: number;
  rest: string;
}

/**
 * A labelled field line: `Answer: x`, `**Answer:** x`, `- *Justification*: x`, `Question 2: x`,
 * `1. Question: x`, `Q2. x`, `**Q2:** x`. The label needs a separator, so prose that merely
 * starts with "A" or "Reason" is not taken for one.
 */
function matchField(rawLine: string): FieldMatch | undefined {
  const line = stripLineDecoration(rawLine).replace(/^\d+[.)]\s+(?=\W*(?:question|answer|justification)\b)/i, "");
  const m =
    /^(\*\*|__|\*|_)?\s*(question|answer|response|justification|rationale|reasoning|reason|q|a)\s*(\d+)?\s*(?:[:.)]\s*\1|\1\s*[:.)-]|[:.)])\s*(.*)$/i.exec(
      line,
    );
  if (!m) return undefined;
  const label = (m[2] ?? "").toLowerCase();
  // "A:" is an answer label, but "A." / "A)" is too often an option letter.
  if (label === "a" && !/^(\*\*|__|\*|_)?\s*a\s*\d*\s*(\*\*|__|\*|_)?\s*:/i.test(line)) return undefined;
  const field = FIELD_ALIASES[label];
  if (!field) return undefined;
  const rest = m[4] ?? "";
  return { field, ...(m[3] !== undefined && { number: Number(m[3]) }), rest: balanceEmphasis(rest) };
}

/** A numbered item such as `1. What is X?` or `**2. What is X?**`. */
function matchNumberedLine(rawLine: string): { number: number; text: string } | undefined {
  const line = stripLineDecoration(rawLine);
  const m = /^(\*\*|__)?\s*(\d+)[.)]\s+(.+)$/.exec(line);
  if (!m) return undefined;
  return {
    number: Number(m[2]),
    text: balanceEmphasis(`${m[1] ?? ""}${m[3] ?? ""}`)
      .replace(/^(\*\*|__)(.*)\1$/, "$2")
      .trim(),
  };
}

const squash = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "");

/** Whether `text` is (the start of) one of the configured questions. */
function isConfiguredQuestion(text: string, questions: readonly string[]): boolean {
  const t = squash(text);
  if (t.length < 8) return false;
  return questions.some((q) => {
    const c = squash(q);
    return c === t || (c.length >= 8 && (c.startsWith(t) || t.startsWith(c)));
  });
}

interface DraftAnswer {
  number?: number;
  question: string[];
  answer: string[];
  justification: string[];
}

/** Parses the body of the Answers section into question/answer/justification triples. */
export function parseAnswers(body: string, questions: readonly string[] = []): SummaryAnswer[] {
  const drafts: DraftAnswer[] = [];
  let cur: DraftAnswer | undefined;
  let field: Field | undefined;
  // Whether the model uses "Answer:" labels; decides how numbered lines are read.
  let labelled = false;
  const start = (number?: number): DraftAnswer => {
    const d: DraftAnswer = { ...(number !== undefined && { number }), question: [], answer: [], justification: [] };
    drafts.push(d);
    cur = d;
    return d;
  };

  for (const line of body.split("\n")) {
    if (!line.trim()) {
      if (cur && field) cur[field].push("");
      continue;
    }
    const f = matchField(line);
    if (f) {
      if (f.field !== "question") labelled = true;
      const item = !cur || f.field === "question" || (f.field === "answer" && cur.answer.some((l) => l.trim())) ? start(f.number) : cur;
      field = f.field;
      if (f.rest) item[field].push(f.rest);
      continue;
    }
    const n = matchNumberedLine(line);
    if (n) {
      const looksLikeQuestion = n.text.endsWith("?") || /^\s*(?:[-*•+]\s+)?(\*\*|__)/.test(line);
      const opens =
        !cur ||
        isConfiguredQuestion(n.text, questions) ||
        (labelled ? field === "justification" && looksLikeQuestion : field === "question" || looksLikeQuestion);
      if (opens) {
        start(n.number).question.push(n.text);
        field = "question";
        continue;
      }
    }
    const item = cur ?? start();
    // Prose right after a question line is its answer (models often drop the "Answer:" label).
    if (!field || (field === "question" && item.question.some((l) => l.trim()))) field = "answer";
    item[field].push(line.trim());
  }

  const joined = (xs: string[]) =>
    xs
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trim();
  const result: SummaryAnswer[] = [];
  drafts.forEach((d, i) => {
    const answer = joined(d.answer);
    let question = joined(d.question);
    if (!answer && !question) return;
    // Fill a missing question from the configuration: by the number the model wrote, else by position.
    if (!question) question = questions[(d.number ?? i + 1) - 1] ?? "";
    const justification = joined(d.justification);
    result.push({ question, answer, ...(justification && { justification }) });
  });
  const only = result[0];
  if (
    result.length === 1 &&
    only &&
    !only.question &&
    /^(none|n\/a|no agenda questions|there were no agenda questions)\.?$/i.test(only.answer)
  ) {
    return [];
  }
  return result;
}

/** Parses a summary written in the closing turn's format (lenient; see the module header). */
export function parseSummary(text: string, options: ParseSummaryOptions = {}): ParsedSummary {
  const sections = splitSections(text);
  const missingSections: SummarySectionKey[] = SUMMARY_SECTIONS.filter((s) => !sections.has(s.key)).map((s) => s.key);
  const provenance = sections.get("provenance");
  return {
    agenda: sections.get("agenda") ?? "",
    teamMemberInput: sections.get("teamMemberInput") ?? "",
    recommendation: sections.get("recommendation") ?? "",
    answers: parseAnswers(sections.get("answers") ?? "", options.questions),
    nextSteps: sections.get("nextSteps") ?? "",
    ...(provenance !== undefined && { provenance }),
    missingSections,
  };
}

export interface RenderSummaryOptions {
  /** Heading line placed above the sections, e.g. the meeting's name. */
  title?: string;
}

/**
 * Renders a summary in the canonical format (the one the closing turn is asked for), for the
 * `summaries` of a later meeting or the sources of a merge. `parseSummary` reads it back unchanged.
 */
export function renderSummaryForContext(summary: MeetingSummary, options: RenderSummaryOptions = {}): string {
  const parts: string[] = [];
  if (options.title) parts.push(`## ${options.title}`);
  parts.push(`### Agenda\n\n${summary.agenda}`);
  parts.push(`### Team Member Input\n\n${summary.teamMemberInput}`);
  parts.push(`### Recommendation\n\n${summary.recommendation}`);
  const answers =
    summary.answers.length === 0
      ? "No agenda questions."
      : summary.answers
          .map((a, i) => {
            const lines = [`#### Question ${i + 1}: ${a.question}`, "", `Answer: ${a.answer}`];
            if (a.justification) lines.push("", `Justification: ${a.justification}`);
            return lines.join("\n");
          })
          .join("\n\n");
  parts.push(`### Answers\n\n${answers}`);
  parts.push(`### Next Steps\n\n${summary.nextSteps}`);
  if (summary.provenance) parts.push(`### Provenance\n\n${summary.provenance}`);
  return parts.join("\n\n");
}
