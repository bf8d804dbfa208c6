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

/*
 * Linear time on any input: the text comes from a model (or a person, for a merge) and can be
 * large, so the line matchers below are plain scans, and the few regular expressions left are
 * anchored with no two quantifiers that can match the same characters next to each other (such
 * pairs backtrack polynomially — the regex this replaced took minutes on 4,000 spaces).
 */

const isSpace = (c: string | undefined) => c !== undefined && c.trim() === "" && c !== "";

/** Index of the first non-whitespace character at or after `i`. */
function skipSpaces(line: string, i: number): number {
  let j = i;
  while (isSpace(line[j])) j++;
  return j;
}

/** After an optional list number (`3.` / `3)` and spaces) at `i`: where the text starts. */
function skipNumber(line: string, i: number): number {
  let j = i;
  while (line[j] !== undefined && line[j]! >= "0" && line[j]! <= "9") j++;
  if (j === i || (line[j] !== "." && line[j] !== ")")) return i;
  return skipSpaces(line, j + 1);
}

/** `s` without trailing `#` characters. */
function trimEndHashes(s: string): string {
  let end = s.length;
  while (end > 0 && s[end - 1] === "#") end--;
  return s.slice(0, end);
}

/**
 * Recognises a section heading line: `### Agenda`, `## 3. Recommendation:`, `**Next Steps**`,
 * `**Answers:**`, `Agenda:` on its own line, or `**Recommendation:** text` with inline content.
 */
function matchHeading(line: string): HeadingMatch | undefined {
  const hash = /^\s{0,3}#{1,6}/.exec(line);
  if (hash) {
    // `## Label ##`: the closing hashes and the spaces around them are not part of the label.
    const inner = stripEmphasis(trimEndHashes(line.slice(hash[0].length).trim()));
    const text = inner.slice(skipNumber(inner, 0));
    const colon = text.indexOf(":");
    const label = colon < 0 ? text : text.slice(0, colon);
    const section = label ? SECTION_ALIASES[normalizeLabel(label)] : undefined;
    return section ? { section, rest: colon < 0 ? "" : text.slice(colon + 1).trim() } : undefined;
  }
  // Bold / underlined label, optionally with the colon inside or outside and inline content after.
  const bold = matchBoldLabel(line);
  if (bold) {
    const section = SECTION_ALIASES[normalizeLabel(bold.label)];
    return section ? { section, rest: bold.rest.trim() } : undefined;
  }
  // A bare label alone on its line ("Next Steps:" / "Agenda").
  let plain = line.slice(skipNumber(line, skipSpaces(line, 0))).trimEnd();
  if (plain.endsWith(":")) plain = plain.slice(0, -1).trimEnd();
  if (/^[A-Za-z][A-Za-z '’-]*$/.test(plain)) {
    const section = SECTION_ALIASES[normalizeLabel(plain)];
    // "Answer" alone is a field inside the Answers section, never a section heading there.
    return section && normalizeLabel(plain) !== "answer" ? { section, rest: "" } : undefined;
  }
  return undefined;
}

/** `**Label:** rest`, `__Label__: rest`, `1. **2. Label**` …: the label and what follows it. */
function matchBoldLabel(line: string): { label: string; rest: string } | undefined {
  let i = skipNumber(line, skipSpaces(line, 0));
  const mark = line.startsWith("**", i) ? "**" : line.startsWith("__", i) ? "__" : undefined;
  if (!mark) return undefined;
  i = skipNumber(line, skipSpaces(line, i + 2));
  let end = i;
  while (end < line.length && line[end] !== "*" && line[end] !== "_" && line[end] !== ":") end++;
  const label = line.slice(i, end).trimEnd();
  if (end === i) return undefined;
  let j = end;
  if (line[j] === ":") j = skipSpaces(line, j + 1);
  if (!line.startsWith(mark, j)) return undefined;
  j = skipSpaces(line, j + 2);
  if (line[j] === ":") j = skipSpaces(line, j + 1);
  return { label, rest: line.slice(j) };
}

function stripEmphasis(s: string): string {
  const t = s.trim();
  for (const mark of ["**", "__", "*", "_"]) {
    if (t.length >= 2 * mark.length && t.startsWith(mark) && t.endsWith(mark)) return t.slice(mark.length, -mark.length).trim();
  }
  return t;
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

const RULE = /^(?:-{3,}|\*{3,}|_{3,})$/;

/** Trims blank edges and trailing horizontal rules left between sections. */
function tidy(s: string): string {
  const lines = s.split("\n");
  let end = lines.length;
  // Never the first line: a rule there is content, not a separator left between sections.
  while (end > 1) {
    const last = (lines[end - 1] ?? "").trim();
    if (last !== "" && !RULE.test(last)) break;
    end--;
  }
  return lines.slice(0, end).join("\n").trim();
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

/** Field labels, in the order they are tried ("reasoning" before "reason", the letters last). */
const FIELD_LABELS = ["question", "answer", "response", "justification", "rationale", "reasoning", "reason", "q", "a"] as const;
const EMPHASIS = ["**", "__", "*", "_"] as const;
const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
const isOneOf = (c: string | undefined, set: string) => c !== undefined && set.includes(c);

/**
 * `[mark] label [number] separator rest`, where the separator is `:`, `.` or `)` (before or after
 * a closing mark) or, unmarked, also `-`. A scan trying each leading mark and label in turn, in
 * place of one regular expression that backtracked quadratically over spaces.
 */
function matchFieldLabel(line: string): { label: string; number?: string; rest: string } | undefined {
  for (const mark of [...EMPHASIS.filter((m) => line.startsWith(m)), ""]) {
    const at = skipSpaces(line, mark.length);
    for (const label of FIELD_LABELS) {
      if (line.slice(at, at + label.length).toLowerCase() !== label) continue;
      let i = skipSpaces(line, at + label.length);
      let number: string | undefined;
      let j = i;
      while (isDigit(line[j])) j++;
      if (j > i) {
        number = line.slice(i, j);
        i = skipSpaces(line, j);
      }
      let end: number | undefined;
      if (mark && isOneOf(line[i], ":.)") && line.startsWith(mark, skipSpaces(line, i + 1))) end = skipSpaces(line, i + 1) + mark.length;
      else if (mark && line.startsWith(mark, i) && isOneOf(line[skipSpaces(line, i + mark.length)], ":.)-"))
        end = skipSpaces(line, i + mark.length) + 1;
      else if (isOneOf(line[i], mark ? ":.)" : ":.)-")) end = i + 1;
      if (end !== undefined) return { label, ...(number !== undefined && { number }), rest: line.slice(skipSpaces(line, end)) };
    }
  }
  return undefined;
}

/**
 * A labelled field line: `Answer: x`, `**Answer:** x`, `- *Justification*: x`, `Question 2: x`,
 * `1. Question: x`, `Q2. x`, `**Q2:** x`. The label needs a separator, so prose that merely
 * starts with "A" or "Reason" is not taken for one.
 */
function matchField(rawLine: string): FieldMatch | undefined {
  let line = stripLineDecoration(rawLine);
  // "1. Question: …": the list number goes (the spaces after it are no-word characters too).
  const number = /^\d+[.)]\s+/.exec(line);
  if (number && /^\W*(?:question|answer|justification)\b/i.test(line.slice(number[0].length))) line = line.slice(number[0].length);
  const m = matchFieldLabel(line);
  if (!m) return undefined;
  const label = m.label;
  // "A:" is an answer label, but "A." / "A)" is too often an option letter.
  if (label === "a" && !/^(\*\*|__|\*|_)?\s*a\s*(?:\d+\s*)?(?:(?:\*\*|__|\*|_)\s*)?:/i.test(line)) return undefined;
  const field = FIELD_ALIASES[label];
  if (!field) return undefined;
  return { field, ...(m.number !== undefined && { number: Number(m.number) }), rest: balanceEmphasis(m.rest) };
}

/** A numbered item such as `1. What is X?` or `**2. What is X?**`. */
function matchNumberedLine(rawLine: string): { number: number; text: string } | undefined {
  const line = stripLineDecoration(rawLine);
  const m = /^(\*\*|__)?\s*(\d+)[.)]\s+([\s\S]+)$/.exec(line);
  if (!m) return undefined;
  const text = balanceEmphasis(`${m[1] ?? ""}${m[3] ?? ""}`);
  const bold = (text.startsWith("**") && text.endsWith("**")) || (text.startsWith("__") && text.endsWith("__"));
  return { number: Number(m[2]), text: (bold && text.length >= 4 ? text.slice(2, -2) : text).trim() };
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
  /** whether `question` / `answer` hold a non-blank line (kept, so no line rescans them) */
  asked: boolean;
  answered: boolean;
}

/** Parses the body of the Answers section into question/answer/justification triples. */
export function parseAnswers(body: string, questions: readonly string[] = []): SummaryAnswer[] {
  const drafts: DraftAnswer[] = [];
  let cur: DraftAnswer | undefined;
  let field: Field | undefined;
  // Whether the model uses "Answer:" labels; decides how numbered lines are read.
  let labelled = false;
  const start = (number?: number): DraftAnswer => {
    const d: DraftAnswer = {
      ...(number !== undefined && { number }),
      question: [],
      answer: [],
      justification: [],
      asked: false,
      answered: false,
    };
    drafts.push(d);
    cur = d;
    return d;
  };

  const add = (item: DraftAnswer, to: Field, text: string) => {
    item[to].push(text);
    if (text.trim() && to === "question") item.asked = true;
    if (text.trim() && to === "answer") item.answered = true;
  };

  for (const line of body.split("\n")) {
    if (!line.trim()) {
      if (cur && field) cur[field].push("");
      continue;
    }
    const f = matchField(line);
    if (f) {
      if (f.field !== "question") labelled = true;
      const item = !cur || f.field === "question" || (f.field === "answer" && cur.answered) ? start(f.number) : cur;
      field = f.field;
      if (f.rest) add(item, field, f.rest);
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
        add(start(n.number), "question", n.text);
        field = "question";
        continue;
      }
    }
    const item = cur ?? start();
    // Prose right after a question line is its answer (models often drop the "Answer:" label).
    if (!field || (field === "question" && item.asked)) field = "answer";
    add(item, field, line.trim());
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
