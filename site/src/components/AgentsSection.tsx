/**
 * A team's agents. Editors and owners add, edit and delete them; viewers read. Only one form
 * is open at a time so every field label on the page stays unique.
 */
import { createSignal, For, Show } from "solid-js";
import { createAgent, deleteAgent, updateAgent } from "../api/teams-api.ts";
import type { Agent } from "../api/types.ts";
import { ActionFeedback } from "./ActionFeedback.tsx";
import { AgentForm } from "./AgentForm.tsx";
import { ConfirmButton } from "./ConfirmButton.tsx";
import { LoadState } from "./LoadState.tsx";

export interface AgentsSectionProps {
  teamId: string;
  agents: Agent[] | undefined;
  loadError: unknown;
  canEdit: boolean;
  onChange: (agents: Agent[]) => void;
}

export function AgentsSection(props: AgentsSectionProps) {
  const [editingId, setEditingId] = createSignal<string>();
  const [error, setError] = createSignal<unknown>();
  const [notice, setNotice] = createSignal<string>();
  const list = () => props.agents ?? [];

  async function onCreate(input: Parameters<typeof createAgent>[1]) {
    setNotice(undefined);
    const agent = await createAgent(props.teamId, input);
    props.onChange([...list(), agent]);
    setNotice(`Agent “${agent.title}” added.`);
  }

  async function onUpdate(agentId: string, input: Parameters<typeof updateAgent>[2]) {
    setNotice(undefined);
    const agent = await updateAgent(props.teamId, agentId, input);
    props.onChange(list().map((a) => (a.id === agent.id ? agent : a)));
    setEditingId(undefined);
    setNotice(`Agent “${agent.title}” saved.`);
  }

  async function onDelete(agent: Agent) {
    setError(undefined);
    setNotice(undefined);
    try {
      await deleteAgent(props.teamId, agent.id);
      props.onChange(list().filter((a) => a.id !== agent.id));
      setNotice(`Agent “${agent.title}” deleted.`);
    } catch (e: unknown) {
      setError(e);
    }
  }

  return (
    <section class="card" aria-labelledby="agents-heading" data-testid="agents">
      <h2 id="agents-heading">Agents</h2>
      <Show when={!props.canEdit}>
        <p class="muted">You can view this team's agents; editors and owners can change them.</p>
      </Show>
      <LoadState
        error={props.loadError}
        value={props.agents}
        errorTitle="Could not load the agents."
        loadingText="Loading agents…"
        emptyText={`No agents yet.${props.canEdit ? " Add the first one below." : ""}`}
      >
        {(agents) => (
          <ul class="agent-list" data-testid="agent-list">
            <For each={agents()}>
              {(agent) => (
                <li class="agent" data-testid="agent">
                  <Show
                    when={editingId() === agent.id}
                    fallback={
                      <>
                        <div class="agent-head">
                          <h3>{agent.title}</h3>
                          <span class="agent-model">
                            <code>{agent.model}</code>
                            <Show when={agent.temperature !== null}>
                              <span class="muted"> · temperature {agent.temperature}</span>
                            </Show>
                          </span>
                        </div>
                        <dl class="agent-fields">
                          <dt>Expertise</dt>
                          <dd>{agent.expertise}</dd>
                          <dt>Goal</dt>
                          <dd>{agent.goal}</dd>
                          <dt>Role</dt>
                          <dd>{agent.role}</dd>
                        </dl>
                        <Show when={props.canEdit}>
                          <div class="form-actions">
                            <button
                              type="button"
                              class="button"
                              aria-label={`Edit ${agent.title}`}
                              onClick={() => {
                                setNotice(undefined);
                                setEditingId(agent.id);
                              }}
                            >
                              Edit
                            </button>
                            <ConfirmButton
                              label="Delete"
                              ariaLabel={`Delete ${agent.title}`}
                              confirmLabel={`Delete “${agent.title}”`}
                              onConfirm={() => onDelete(agent)}
                            />
                          </div>
                        </Show>
                      </>
                    }
                  >
                    <AgentForm
                      label={`Edit agent ${agent.title}`}
                      submitLabel="Save agent"
                      agent={agent}
                      onSubmit={(input) => onUpdate(agent.id, input)}
                      onCancel={() => setEditingId(undefined)}
                    />
                  </Show>
                </li>
              )}
            </For>
          </ul>
        )}
      </LoadState>
      <ActionFeedback error={error()} notice={notice()} />
      <Show when={props.canEdit && editingId() === undefined && !props.loadError}>
        <div class="subsection">
          <h3>Add agent</h3>
          <AgentForm label="Add agent" submitLabel="Add agent" onSubmit={onCreate} />
        </div>
      </Show>
    </section>
  );
}
