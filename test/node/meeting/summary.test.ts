import { describe, expect, it } from "vitest";
import { type MeetingSummary, parseSummary, renderSummaryForContext } from "../../../durable-objects/meeting/summary.ts";
import { QUESTIONS } from "./fixtures.ts";

const SUMMARY: MeetingSummary = {
  agenda: "Design nanobodies against the newest variant within two months.",
  teamMemberInput: "- **Immunologist**: start from Ty1.\n- **Machine Learning Specialist**: rank mutations with ESM.",
  recommendation: "Start from Ty1 and H11-D4 and optimise them with ESM and AlphaFold-Multimer.",
  answers: [
    { question: QUESTIONS[0] as string, answer: "Existing nanobodies.", justification: "They already bind earlier variants." },
    { question: QUESTIONS[1] as string, answer: "ESM, then AlphaFold-Multimer, then Rosetta.", justification: "Cheap filters first." },
  ],
  nextSteps: "1. Collect structures.\n2. Run ESM scoring.",
};

describe("parseSummary", () => {
  it("round-trips a rendered summary", () => {
    const text = renderSummaryForContext(SUMMARY);
    const parsed = parseSummary(text, { questions: QUESTIONS });
    expect(parsed.missingSections).toEqual([]);
    const { missingSections: _, ...fields } = parsed;
    expect(fields).toEqual(SUMMARY);
  });

  it("round-trips a merge summary with provenance and a title", () => {
    const merged = { ...SUMMARY, provenance: "- Recommendation: [Summary 2].\n- Answers: [Summary 1]." };
    const parsed = parseSummary(renderSummaryForContext(merged, { title: "Merged meeting" }));
    expect(parsed.provenance).toBe(merged.provenance);
    expect(parsed.answers).toEqual(SUMMARY.answers);
  });

  it("ignores a preamble and tolerates other heading levels, bold labels, numbering and synonyms", () => {
    const text = [
      "Here is my summary of the meeting.",
      "",
      "## 1. Agenda:",
      "We discussed nanobodies.",
      "",
      "**Team member input**",
      "- Immunologist liked Ty1.",
      "",
      "# Recommendations",
      "Use Ty1.",
      "",
      "**Answers to the agenda questions:**",
      "",
      "1. **Should we start from existing nanobodies or design de novo?**",
      "   - **Answer:** Existing ones.",
      "   - **Justification:** Faster.",
      "2. **Which computational tools should we use, and in what order?**",
      "   - *Answer*: ESM first.",
      "   - *Rationale*: Cheap.",
      "",
      "---",
      "",
      "Next steps:",
      "- Collect structures.",
    ].join("\n");
    const parsed = parseSummary(text, { questions: QUESTIONS });
    expect(parsed.missingSections).toEqual([]);
    expect(parsed.agenda).toBe("We discussed nanobodies.");
    expect(parsed.teamMemberInput).toBe("- Immunologist liked Ty1.");
    expect(parsed.recommendation).toBe("Use Ty1.");
    expect(parsed.answers).toEqual([
      { question: QUESTIONS[0], answer: "Existing ones.", justification: "Faster." },
      { question: QUESTIONS[1], answer: "ESM first.", justification: "Cheap." },
    ]);
    expect(parsed.nextSteps).toBe("- Collect structures.");
  });

  it("reads Virtual Lab's Answer/Justification pairs without questions and fills them in from the configuration", () => {
    const text = [
      "### Agenda",
      "A.",
      "### Team Member Input",
      "B.",
      "### Recommendation",
      "C.",
      "### Answers",
      "Answer: Existing nanobodies.",
      "Justification: They bind already.",
      "",
      "Answer: ESM then AlphaFold.",
      "Justification: Cheap first.",
      "### Next Steps",
      "D.",
    ].join("\n");
    expect(parseSummary(text, { questions: QUESTIONS }).answers).toEqual([
      { question: QUESTIONS[0], answer: "Existing nanobodies.", justification: "They bind already." },
      { question: QUESTIONS[1], answer: "ESM then AlphaFold.", justification: "Cheap first." },
    ]);
  });

  it("reads inline bold section labels and Q1/A1-style answers", () => {
    const text = [
      "**Agenda:** Nanobodies for the new variant.",
      "**Team Member Input:** Everyone agreed.",
      "**Recommendation**: Start from Ty1.",
      "**Answers:**",
      "**Q1.** Existing or de novo?",
      "A: Existing.",
      "Reason: faster.",
      "**Q2:** Which tools?",
      "A: ESM.",
      "**Next Steps:** Collect structures.",
    ].join("\n");
    const parsed = parseSummary(text);
    expect(parsed.missingSections).toEqual([]);
    expect(parsed.agenda).toBe("Nanobodies for the new variant.");
    expect(parsed.recommendation).toBe("Start from Ty1.");
    expect(parsed.answers).toEqual([
      { question: "Existing or de novo?", answer: "Existing.", justification: "faster." },
      { question: "Which tools?", answer: "ESM." },
    ]);
    expect(parsed.nextSteps).toBe("Collect structures.");
  });

  it("keeps multi-line and numbered-list answers inside their question", () => {
    const text = [
      "### Answers",
      "#### Question 1: Which tools?",
      "Answer:",
      "1. ESM",
      "2. AlphaFold-Multimer",
      "",
      "Justification: Cheap first,",
      "then expensive.",
      "",
      "#### Question 2: How many rounds?",
      "**Answer:** Two.",
    ].join("\n");
    expect(parseSummary(text).answers).toEqual([
      { question: "Which tools?", answer: "1. ESM\n2. AlphaFold-Multimer", justification: "Cheap first,\nthen expensive." },
      { question: "How many rounds?", answer: "Two." },
    ]);
  });

  it("takes prose after an unlabelled numbered question as its answer, and matches questions by number", () => {
    const text = [
      "### Answers",
      "2. Which computational tools should we use?",
      "ESM first.",
      "",
      "1. Should we start from existing ones?",
      "Yes.",
    ].join("\n");
    const answers = parseSummary(text, { questions: QUESTIONS }).answers;
    expect(answers.map((a) => a.answer)).toEqual(["ESM first.", "Yes."]);
    expect(answers[0]?.question).toBe("Which computational tools should we use?");
  });

  it("reports missing sections instead of failing, and reads 'No agenda questions.' as no answers", () => {
    const parsed = parseSummary("### Recommendation\nDo it.\n\n### Answers\nNo agenda questions.");
    expect(parsed.recommendation).toBe("Do it.");
    expect(parsed.answers).toEqual([]);
    expect(parsed.missingSections).toEqual(["agenda", "teamMemberInput", "nextSteps"]);
    expect(parseSummary("just prose").missingSections).toHaveLength(5);
  });

  it("does not take headings inside code fences for sections", () => {
    const parsed = parseSummary("### Recommendation\nRun this:\n```\n### Next Steps\n```\n### Next Steps\nShip.");
    expect(parsed.recommendation).toBe("Run this:\n```\n### Next Steps\n```");
    expect(parsed.nextSteps).toBe("Ship.");
  });

  // Each shape below made the old regular expressions backtrack polynomially or worse: 4,000
  // characters of the bold one took 43 s, 1,000 of the rules one over 5 minutes. 100,000 now take
  // 0.1–0.4 s; the bound is generous on purpose (a loaded CI machine), not a benchmark.
  const N = 100_000;
  const adversarial: Record<string, string> = {
    "spaces after a heading's hashes": `# ${" ".repeat(N)}a`,
    "spaces inside a bold label": `**a${" ".repeat(N)}x`,
    "colons inside a bold label": `**a${" : ".repeat(N / 3)}x`,
    "spaces after a bare label": `Agenda${" ".repeat(N)}x`,
    "many horizontal rules": `### Agenda\nx${"\n---\n".repeat(N / 5)}x`,
    "rules between blank lines": `### Agenda\nx\n${"---\n\n".repeat(N / 5)}x`,
    "spaces after a field label": `### Answers\nanswer${" ".repeat(N)}x`,
    "spaces after a numbered item": `### Answers\n1. ${" ".repeat(N)}\u2028x`,
    "empty answers between blank lines": `### Answers\n${"Answer:\n\n".repeat(N / 9)}`,
    "many numbered questions": `### Answers\n${"1. What?\nprose\n".repeat(N / 16)}`,
  };
  for (const [shape, text] of Object.entries(adversarial)) {
    it(`parses ${text.length.toLocaleString("en")} characters of ${shape} in linear time`, () => {
      const started = performance.now();
      const parsed = parseSummary(text, { questions: ["What is the best scaffold?"] });
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(parsed.missingSections.length).toBeGreaterThan(0);
    });
  }
});
