/**
 * Who takes part in a meeting: the lead and members (team meeting) or the one member (individual
 * meeting), and the critic. Agents are the team's plus the built-in Principal Investigator and
 * Scientific Critic. Speakers are told apart by title, so an agent already given one part is not
 * offered for another.
 */
import { createUniqueId, For, Show } from "solid-js";
import type { Agent, MeetingType } from "../api/types.ts";
import { PRINCIPAL_INVESTIGATOR, PRINCIPAL_INVESTIGATOR_ID, SCIENTIFIC_CRITIC, SCIENTIFIC_CRITIC_ID } from "../lib/meeting-labels.ts";

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

export function MeetingAgentFields(props: MeetingAgentFieldsProps) {
  const membersHint = createUniqueId();
  const memberSelect = createUniqueId();
  const memberHint = createUniqueId();
  const leadSelect = createUniqueId();
  const leadHint = createUniqueId();
  const criticSelect = createUniqueId();
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
          <div class="field field-medium">
            <label class="field-label" for={memberSelect}>
              Member
            </label>
            <select
              id={memberSelect}
              name="memberAgentId"
              required
              aria-describedby={memberHint}
              value={props.value.memberId}
              onChange={(e) => set({ memberId: e.currentTarget.value })}
            >
              <option value="" disabled>
                Choose an agent…
              </option>
              <option value={PRINCIPAL_INVESTIGATOR_ID}>{PRINCIPAL_INVESTIGATOR.title} (built in)</option>
              <For each={props.agents}>
                {(agent) => (
                  <option value={agent.id} disabled={takenByCritic(agent)}>
                    {agent.title}
                  </option>
                )}
              </For>
            </select>
            <span class="field-hint" id={memberHint}>
              The one agent who answers the agenda, round after round.
            </span>
          </div>
        }
      >
        <div class="participants-team">
          <div class="field">
            <label class="field-label" for={leadSelect}>
              Lead
            </label>
            <select
              id={leadSelect}
              name="leadAgentId"
              required
              aria-describedby={leadHint}
              value={props.value.leadId}
              onChange={(e) => chooseLead(e.currentTarget.value)}
            >
              <option value={PRINCIPAL_INVESTIGATOR_ID}>{PRINCIPAL_INVESTIGATOR.title} (built in)</option>
              <For each={props.agents}>
                {(agent) => (
                  <option value={agent.id} disabled={takenByCritic(agent)}>
                    {agent.title}
                  </option>
                )}
              </For>
            </select>
            <span class="field-hint" id={leadHint}>
              Opens the meeting, synthesises each round and writes the summary.
            </span>
          </div>
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
          <div class="field">
            <label class="field-label" for={criticSelect}>
              Who critiques
            </label>
            <select
              id={criticSelect}
              name="criticAgentId"
              value={props.value.criticId}
              onChange={(e) => set({ criticId: e.currentTarget.value })}
            >
              <option value={SCIENTIFIC_CRITIC_ID}>{SCIENTIFIC_CRITIC.title} (built in)</option>
              <For each={props.agents}>
                {(agent) => (
                  <option
                    value={agent.id}
                    disabled={
                      props.type === "team"
                        ? props.value.leadId === agent.id || props.value.memberIds.includes(agent.id)
                        : props.value.memberId === agent.id
                    }
                  >
                    {agent.title}
                  </option>
                )}
              </For>
            </select>
          </div>
        </Show>
      </div>
    </fieldset>
  );
}
