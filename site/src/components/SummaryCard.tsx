/**
 * A finished meeting's summary: the structured sections (Agenda, Team Member Input,
 * Recommendation, Answers as question → answer with justification, Next Steps, and Provenance on
 * merges) and the raw Markdown it was parsed from. Sections the model left empty are skipped;
 * when nothing could be parsed the Markdown is shown as it is.
 */
import { For, Show } from "solid-js";
import { type MeetingSummary, MeetingSummarySchema, SUMMARY_SECTIONS } from "../../../durable-objects/meeting/summary.ts";
import { MarkdownText } from "./MarkdownText.tsx";

export interface SummaryCardProps {
  summaryText: string;
  summary: Record<string, unknown> | null;
  /** "Summary" for team meetings, "Final answer" for individual ones */
  heading: string;
}

type TextSection = Exclude<(typeof SUMMARY_SECTIONS)[number]["key"], "answers">;

function hasContent(s: MeetingSummary): boolean {
  return SUMMARY_SECTIONS.some(({ key }) => (key === "answers" ? s.answers.length > 0 : s[key].trim() !== ""));
}

export function SummaryCard(props: SummaryCardProps) {
  const parsed = () => {
    const result = MeetingSummarySchema.safeParse(props.summary);
    return result.success && hasContent(result.data) ? result.data : undefined;
  };
  return (
    <section class="card summary" aria-labelledby="summary-heading" data-testid="summary">
      <h2 id="summary-heading">{props.heading}</h2>
      <Show when={parsed()} fallback={<MarkdownText text={props.summaryText} baseLevel={3} />}>
        {(s) => (
          <div class="summary-sections">
            <For each={SUMMARY_SECTIONS}>
              {({ key, heading }) => (
                <Show
                  when={key === "answers"}
                  fallback={
                    <Show when={s()[key as TextSection].trim()}>
                      <section class="summary-section" data-section={key}>
                        <h3>{heading}</h3>
                        <MarkdownText text={s()[key as TextSection]} baseLevel={4} />
                      </section>
                    </Show>
                  }
                >
                  <Show when={s().answers.length > 0}>
                    <section class="summary-section" data-section="answers">
                      <h3>{heading}</h3>
                      <ol class="answers">
                        <For each={s().answers}>
                          {(a) => (
                            <li class="answer" data-testid="summary-answer">
                              <p class="answer-question">{a.question || "Question"}</p>
                              <div class="answer-body">
                                <span class="answer-arrow" aria-hidden="true">
                                  →
                                </span>
                                <MarkdownText text={a.answer} baseLevel={5} />
                              </div>
                              <Show when={a.justification}>
                                {(j) => (
                                  <div class="answer-justification">
                                    <span class="field-label">Justification</span>
                                    <MarkdownText text={j()} baseLevel={5} />
                                  </div>
                                )}
                              </Show>
                            </li>
                          )}
                        </For>
                      </ol>
                    </section>
                  </Show>
                </Show>
              )}
            </For>
            <Show when={s().provenance}>
              {(p) => (
                <section class="summary-section" data-section="provenance">
                  <h3>Provenance</h3>
                  <MarkdownText text={p()} baseLevel={4} />
                </section>
              )}
            </Show>
          </div>
        )}
      </Show>
      <details class="summary-raw">
        <summary>Raw Markdown</summary>
        <pre data-testid="summary-markdown">{props.summaryText}</pre>
      </details>
    </section>
  );
}
