/**
 * Who takes part in a meeting: the lead and members (team meeting) or the one member (individual
 * meeting), and the critic. Agents are the team's plus the built-in Principal Investigator and
 * Scientific Critic. Speakers are told apart by title, so an agent already given one part is not
 * offered for another.
 */
import { createUniqueId, For, Show } from "solid-js";
import type { Agent, MeetingType } from "../api/types.ts";
import { PRINCIPAL_INVESTIGATOR, PRINCIPAL_INVESTIGATOR_ID, SCIENTIFIC_CRITIC, SCIENTIFIC_CRITIC_ID } from "../lib/meeting-labels.ts";
import { FormField } from "./FormField.tsx";

export interface MeetingAgentSelection {
  leadId: string;
  memberIds: string[];
  memberId: string;
  critic: boolean;
  criticId: string;
}

export interface MeetingAgentFieldsProps {
  type: MeetingType;
  agents: readonly Agent[];
  value: MeetingAgentSelection;
  onChange: (value: MeetingAgentSelection) => void;
}

/** The built-in agent offered first for a part: the Principal Investigator leads or answers, the Scientific Critic critiques. */
const BUILT_IN_LEAD = { id: PRINCIPAL_INVESTIGATOR_ID, title: PRINCIPAL_INVESTIGATOR.title };
const BUILT_IN_CRITIC = { id: SCIENTIFIC_CRITIC_ID, title: SCIENTIFIC_CRITIC.title };

interface AgentOptionsProps {
  builtIn: { id: string; title: string };
  agents: readonly Agent[];
  /** an agent that already has another part, offered but disabled */
  taken: (agent: Agent) => boolean;
}

/** The options of a `<select>` of agents: the built-in one, then the team's. */
function AgentOptions(props: AgentOptionsProps) {
  return (
    <>
      <option value={props.builtIn.id}>{props.builtIn.title} (built in)</option>
      <For each={props.agents}>
        {(agent) => (
          <option value={agent.id} disabled={props.taken(agent)}>
            {agent.title}
          </option>
        )}
      </For>
    </>
  );
}

export function MeetingAgentFields(props: MeetingAgentFieldsProps) {
  const membersHint = createUniqueId();
  const criticHint = createUniqueId();
  const set = (patch: Partial<MeetingAgentSelection>) => props.onChange({ ...props.value, ...patch });
  const titleOf = (id: string) =>
    id === PRINCIPAL_INVESTIGATOR_ID
      ? PRINCIPAL_INVESTIGATOR.title
      : id === SCIENTIFIC_CRITIC_ID
        ? SCIENTIFIC_CRITIC.title
        : (props.agents.find((a) => a.id === id)?.title ?? "");
  const criticTitle = () => (props.value.critic ? titleOf(props.value.criticId).toLowerCase() : undefined);
  const takenByCritic = (agent: Agent) => criticTitle() === agent.title.toLowerCase();
  const takenBySpeaker = (agent: Agent) =>
    props.type === "team" ? props.value.leadId === agent.id || props.value.memberIds.includes(agent.id) : props.value.memberId === agent.id;

  function toggleMember(id: string, on: boolean) {
    const chosen = new Set(props.value.memberIds);
    if (on) chosen.add(id);
    else chosen.delete(id);
    // Members speak in the order they are listed here.
    set({ memberIds: props.agents.filter((a) => chosen.has(a.id)).map((a) => a.id) });
  }

  function chooseLead(id: string) {
    // The lead cannot also be a member.
    set({ leadId: id, memberIds: props.value.memberIds.filter((m) => m !== id) });
  }

  return (
    <fieldset class="fieldset participants">
      <legend class="field-label">Participants</legend>
      <Show
        when={props.type === "team"}
        fallback={
          <FormField label="Member" class="field-medium" hint="The one agent who answers the agenda, round after round.">
            {(ids) => (
              <select
                id={ids.control}
                name="memberAgentId"
                required
                aria-describedby={ids.hint}
                value={props.value.memberId}
                onChange={(e) => set({ memberId: e.currentTarget.value })}
              >
                <option value="" disabled>
                  Choose an agent…
                </option>
                <AgentOptions builtIn={BUILT_IN_LEAD} agents={props.agents} taken={takenByCritic} />
              </select>
            )}
          </FormField>
        }
      >
        <div class="participants-team">
          <FormField label="Lead" hint="Opens the meeting, synthesises each round and writes the summary.">
            {(ids) => (
              <select
                id={ids.control}
                name="leadAgentId"
                required
                aria-describedby={ids.hint}
                value={props.value.leadId}
                onChange={(e) => chooseLead(e.currentTarget.value)}
              >
                <AgentOptions builtIn={BUILT_IN_LEAD} agents={props.agents} taken={takenByCritic} />
              </select>
            )}
          </FormField>
          <fieldset class="fieldset" aria-describedby={membersHint}>
            <legend class="field-label">Members</legend>
            <p class="field-hint" id={membersHint}>
              They speak in the order listed, every round.
            </p>
            <Show
              when={props.agents.length > 0}
              fallback={<p class="empty">This team has no agents yet. Add them on the team page first.</p>}
            >
              <ul class="check-list">
                <For each={props.agents}>
                  {(agent) => {
                    const isLead = () => props.value.leadId === agent.id;
                    const unavailable = () => isLead() || takenByCritic(agent);
                    return (
                      <li>
                        <label class="check" classList={{ "check-disabled": unavailable() }}>
                          <input
                            type="checkbox"
                            name="memberAgentIds"
                            value={agent.id}
                            checked={props.value.memberIds.includes(agent.id)}
                            disabled={unavailable()}
                            onChange={(e) => toggleMember(agent.id, e.currentTarget.checked)}
                          />
                          <span>
                            {agent.title}
                            <Show when={isLead()}>
                              <span class="muted"> (chairing)</span>
                            </Show>
                            <Show when={!isLead() && takenByCritic(agent)}>
                              <span class="muted"> (critiquing)</span>
                            </Show>
                          </span>
                        </label>
                      </li>
                    );
                  }}
                </For>
              </ul>
            </Show>
          </fieldset>
        </div>
      </Show>
      <div class="critic-row">
        <div class="field">
          <label class="check">
            <input
              type="checkbox"
              name="critic"
              checked={props.value.critic}
              aria-describedby={criticHint}
              onChange={(e) => set({ critic: e.currentTarget.checked })}
            />
            <span class="field-label">Critic</span>
          </label>
          <span class="field-hint" id={criticHint}>
            {props.type === "team"
              ? "The critic speaks last in every round, before the lead decides."
              : "The critic reviews every answer; the member then refines it."}
          </span>
        </div>
        <Show when={props.value.critic}>
          <FormField label="Who critiques">
            {(ids) => (
              <select
                id={ids.control}
                name="criticAgentId"
                value={props.value.criticId}
                onChange={(e) => set({ criticId: e.currentTarget.value })}
              >
                <AgentOptions builtIn={BUILT_IN_CRITIC} agents={props.agents} taken={takenBySpeaker} />
              </select>
            )}
          </FormField>
        </Show>
      </div>
    </fieldset>
  );
}
