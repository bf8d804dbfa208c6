/** What a meeting was asked to do and who takes part, folded away under "Agenda and settings". */
import { For, Show } from "solid-js";
import { criticOf, leadOf } from "../../../durable-objects/meeting/meeting-config.ts";
import type { Meeting } from "../api/types.ts";
import { formatUsd } from "../lib/format.ts";
import { MarkdownText } from "./MarkdownText.tsx";

export function MeetingDetails(props: { meeting: Meeting }) {
  const config = () => props.meeting.config;
  const critic = () => criticOf(config());
  const members = () => {
    const c = config();
    return c.type === "team" ? c.members.map((m) => m.title).join(", ") : undefined;
  };
  return (
    <details class="card meeting-details" data-testid="meeting-details">
      <summary>Agenda and settings</summary>
      <div class="meeting-details-body">
        <section>
          <h3>Agenda</h3>
          <MarkdownText text={config().agenda} baseLevel={4} />
        </section>
        <Show when={config().agendaQuestions.length > 0}>
          <section>
            <h3>Questions</h3>
            <ol>
              <For each={config().agendaQuestions}>{(q) => <li>{q}</li>}</For>
            </ol>
          </section>
        </Show>
        <Show when={config().agendaRules.length > 0}>
          <section>
            <h3>Rules</h3>
            <ol>
              <For each={config().agendaRules}>{(r) => <li>{r}</li>}</For>
            </ol>
          </section>
        </Show>
        <dl class="agent-fields">
          <dt>{config().type === "team" ? "Lead" : "Member"}</dt>
          <dd>{leadOf(config()).title}</dd>
          <Show when={members()}>
            {(list) => (
              <>
                <dt>Members</dt>
                <dd>{list()}</dd>
              </>
            )}
          </Show>
          <dt>Critic</dt>
          <dd>{critic()?.title ?? "none"}</dd>
          <dt>Rounds</dt>
          <dd>{config().rounds}</dd>
          <dt>Temperature</dt>
          <dd>{config().temperature}</dd>
          <Show when={config().maxCostUsd}>
            {(b) => (
              <>
                <dt>Budget</dt>
                <dd>{formatUsd(b())}</dd>
              </>
            )}
          </Show>
          <Show when={config().contexts.length > 0}>
            <dt>Contexts</dt>
            <dd>{config().contexts.length}</dd>
          </Show>
          <Show when={config().summaries.length > 0}>
            <dt>Earlier summaries</dt>
            <dd>{config().summaries.length}</dd>
          </Show>
        </dl>
      </div>
    </details>
  );
}
