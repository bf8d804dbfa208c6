/**
 * Setting up a meeting: its type, agenda (questions, rules, contexts, earlier summaries to build
 * on), rounds, temperature, who takes part, a budget, and whether to start at once or to run
 * several parallel copies that are merged at the end.
 */
import { A, useNavigate, useParams } from "@solidjs/router";
import { createResource, createSignal, createUniqueId, For, Match, Show, Switch } from "solid-js";
import { CONSISTENT_TEMPERATURE, MEETING_LIMITS } from "../../../durable-objects/meeting/meeting-config.ts";
import { createMeeting, createParallelMeetings, listMeetings } from "../api/meetings-api.ts";
import { getTeam, listAgents } from "../api/teams-api.ts";
import type { MeetingInput, MeetingType } from "../api/types.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { ListInput } from "../components/ListInput.tsx";
import { MeetingAgentFields, type MeetingAgentSelection } from "../components/MeetingAgentFields.tsx";
import { MeetingTuningFields } from "../components/MeetingTuningFields.tsx";
import { createAction } from "../lib/action.ts";
import { formatDate } from "../lib/format.ts";
import { PRINCIPAL_INVESTIGATOR_ID, SCIENTIFIC_CRITIC_ID } from "../lib/meeting-labels.ts";
import { usePageTitle } from "../lib/page-title.ts";

const L = MEETING_LIMITS;
const MIN_COPIES = 2;
const MAX_COPIES = 5;

export function MeetingSetupPage() {
  const params = useParams<{ teamId: string }>();
  const navigate = useNavigate();
  const teamId = () => params.teamId;
  const [team] = createResource(teamId, getTeam);
  const [agents] = createResource(teamId, listAgents);
  const [meetings] = createResource(teamId, listMeetings);
  usePageTitle(() => "New meeting");

  const [type, setType] = createSignal<MeetingType>("team");
  const [agenda, setAgenda] = createSignal("");
  const [questions, setQuestions] = createSignal<string[]>([]);
  const [rules, setRules] = createSignal<string[]>([]);
  const [contexts, setContexts] = createSignal<string[]>([]);
  const [earlier, setEarlier] = createSignal<string[]>([]);
  const [selection, setSelection] = createSignal<MeetingAgentSelection>({
    leadId: PRINCIPAL_INVESTIGATOR_ID,
    memberIds: [],
    memberId: "",
    critic: true,
    criticId: SCIENTIFIC_CRITIC_ID,
  });
  const [parallel, setParallel] = createSignal(false);
  const { busy, error, setError, run } = createAction();
  const [problem, setProblem] = createSignal<string>();

  const parallelHint = createUniqueId();

  const loadedTeam = () => (team.state === "ready" || team.state === "refreshing" ? team.latest : undefined);
  const canEdit = () => loadedTeam()?.role === "owner" || loadedTeam()?.role === "editor";
  const agentList = () => (agents.state === "errored" ? [] : (agents.latest ?? []));
  const finishedMeetings = () =>
    (meetings.state === "errored" ? [] : (meetings.latest ?? [])).filter((m) => m.status === "completed" && m.summaryText);

  function toggleEarlier(id: string, on: boolean) {
    setEarlier((ids) => (on ? [...ids.filter((x) => x !== id), id] : ids.filter((x) => x !== id)));
  }

  /** Checks what the form cannot express with `required`; returns a problem in words. */
  function check(): string | undefined {
    const s = selection();
    if (type() === "team" && s.memberIds.length === 0) return "Choose at least one member for a team meeting.";
    if (type() === "team" && s.memberIds.length > L.maxMembers) return `A team meeting can have at most ${L.maxMembers} members.`;
    if (type() === "individual" && !s.memberId) return "Choose the member who answers in an individual meeting.";
    return undefined;
  }

  function readInput(data: FormData): MeetingInput {
    const text = (name: string) => String(data.get(name) ?? "").trim();
    const nonEmpty = (items: string[]) => items.map((x) => x.trim()).filter(Boolean);
    const s = selection();
    const input: MeetingInput = {
      type: type(),
      agenda: agenda().trim(),
      rounds: Number(text("rounds")),
      critic: s.critic,
      start: data.get("start") === "on",
    };
    const q = nonEmpty(questions());
    const r = nonEmpty(rules());
    const c = nonEmpty(contexts());
    if (q.length) input.agendaQuestions = q;
    if (r.length) input.agendaRules = r;
    if (c.length) input.contexts = c;
    if (earlier().length) input.earlierMeetingIds = earlier();
    if (text("temperature") !== "") input.temperature = Number(text("temperature"));
    if (text("maxCostUsd") !== "") input.maxCostUsd = Number(text("maxCostUsd"));
    if (s.critic && s.criticId !== SCIENTIFIC_CRITIC_ID) input.criticAgentId = s.criticId;
    if (type() === "team") {
      input.leadAgentId = s.leadId;
      input.memberAgentIds = s.memberIds;
    } else {
      input.memberAgentId = s.memberId;
    }
    return input;
  }

  async function onSubmit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    setError(undefined);
    setProblem(check());
    if (problem()) return;
    const data = new FormData(form);
    const input = readInput(data);
    await run(async () => {
      if (parallel()) {
        const group = await createParallelMeetings(teamId(), { ...input, copies: Number(data.get("copies") ?? MIN_COPIES) });
        const first = group.meetings[0];
        navigate(first ? `/meetings/${first.id}` : `/teams/${teamId()}`);
      } else {
        const meeting = await createMeeting(teamId(), input);
        navigate(`/meetings/${meeting.id}`);
      }
    });
  }

  return (
    <div class="page">
      <p class="breadcrumbs">
        <A href={`/teams/${teamId()}`}>← {loadedTeam()?.name ?? "Team"}</A>
      </p>
      <Switch>
        <Match when={team.error}>
          <ErrorAlert error={team.error} title="Could not load the team." />
        </Match>
        <Match when={!loadedTeam()}>
          <p class="muted" role="status">
            Loading…
          </p>
        </Match>
        <Match when={!canEdit()}>
          <section class="card narrow">
            <h1>New meeting</h1>
            <p>Only this team's editors and owners can set up meetings. You can watch its meetings from the team page.</p>
          </section>
        </Match>
        <Match when={true}>
          <form class="card form meeting-form" aria-labelledby="new-meeting-heading" data-testid="meeting-form" onSubmit={onSubmit}>
            <h1 id="new-meeting-heading">New meeting</h1>

            <fieldset class="fieldset">
              <legend class="field-label">Meeting type</legend>
              <div class="segmented">
                <label class="segmented-option">
                  <input type="radio" name="type" value="team" checked={type() === "team"} onChange={() => setType("team")} />
                  <span>Team meeting</span>
                </label>
                <label class="segmented-option">
                  <input
                    type="radio"
                    name="type"
                    value="individual"
                    checked={type() === "individual"}
                    onChange={() => setType("individual")}
                  />
                  <span>Individual meeting</span>
                </label>
              </div>
              <p class="field-hint">
                {type() === "team"
                  ? "A lead and several members discuss the agenda for a number of rounds; the lead then writes a structured summary."
                  : "One agent answers the agenda, a critic reviews it, and after the rounds the agent gives a final answer."}
              </p>
            </fieldset>

            <label class="field">
              <span class="field-label">Agenda</span>
              <textarea
                name="agenda"
                required
                rows={5}
                maxLength={L.maxAgendaChars}
                value={agenda()}
                onInput={(e) => setAgenda(e.currentTarget.value)}
                placeholder="What should the meeting work on? e.g. Design nanobodies that bind the KP.3 variant of SARS-CoV-2."
              />
            </label>

            <ListInput
              legend="Questions"
              itemLabel={(i) => `Question ${i + 1}`}
              addLabel="Add question"
              items={questions()}
              onChange={setQuestions}
              maxItems={L.maxQuestions}
              maxLength={L.maxItemChars}
              hint="The summary answers each one."
            />
            <ListInput
              legend="Rules"
              itemLabel={(i) => `Rule ${i + 1}`}
              addLabel="Add rule"
              items={rules()}
              onChange={setRules}
              maxItems={L.maxRules}
              maxLength={L.maxItemChars}
              hint="Constraints every speaker must follow."
            />

            <ListInput
              legend="Contexts"
              itemLabel={(i) => `Context ${i + 1}`}
              addLabel="Add context"
              items={contexts()}
              onChange={setContexts}
              multiline
              maxItems={L.maxContexts}
              maxLength={L.maxContextChars}
              hint="Background material the agents read first: data, papers, code."
            />

            <fieldset class="fieldset">
              <legend class="field-label">Earlier meetings to build on</legend>
              <Switch>
                <Match when={meetings.error}>
                  <ErrorAlert error={meetings.error} title="Could not load this team's meetings." />
                </Match>
                <Match when={meetings.loading && !meetings.latest}>
                  <p class="muted">Loading meetings…</p>
                </Match>
                <Match when={finishedMeetings().length === 0}>
                  <p class="field-hint">No finished meetings yet. Their summaries can feed later meetings.</p>
                </Match>
                <Match when={true}>
                  <p class="field-hint">The summaries of the meetings you tick are given to every speaker.</p>
                  <ul class="check-list">
                    <For each={finishedMeetings()}>
                      {(m) => (
                        <li>
                          <label class="check">
                            <input
                              type="checkbox"
                              name="earlierMeetingIds"
                              value={m.id}
                              checked={earlier().includes(m.id)}
                              onChange={(e) => toggleEarlier(m.id, e.currentTarget.checked)}
                            />
                            <span>
                              {m.title} <span class="muted">· {formatDate(m.completedAt ?? m.createdAt)}</span>
                            </span>
                          </label>
                        </li>
                      )}
                    </For>
                  </ul>
                </Match>
              </Switch>
            </fieldset>

            <MeetingTuningFields
              rounds={2}
              temperature={CONSISTENT_TEMPERATURE}
              roundsHint={`${L.minRounds}–${L.maxRounds}. Every round, each participant speaks once.`}
              temperatureHint="0–1. Low is consistent, high is creative."
              budgetHint="Optional. The meeting stops before a call that could exceed it."
            />

            <Show when={agents.error}>
              <ErrorAlert error={agents.error} title="Could not load the team's agents." />
            </Show>
            <MeetingAgentFields type={type()} agents={agentList()} value={selection()} onChange={setSelection} />

            <fieldset class="fieldset">
              <legend class="field-label">Running</legend>
              <label class="check">
                <input type="checkbox" name="start" checked />
                <span>Start now</span>
              </label>
              <label class="check">
                <input
                  type="checkbox"
                  name="parallel"
                  checked={parallel()}
                  aria-describedby={parallelHint}
                  onChange={(e) => setParallel(e.currentTarget.checked)}
                />
                <span>Run in parallel, then merge</span>
              </label>
              <p class="field-hint" id={parallelHint}>
                The copies run independently at a creative temperature; when all have finished, a merge meeting combines their summaries
                into one at a consistent temperature.
              </p>
              <Show when={parallel()}>
                <label class="field field-short">
                  <span class="field-label">Copies</span>
                  <input name="copies" type="number" required min={MIN_COPIES} max={MAX_COPIES} step="1" value="3" inputmode="numeric" />
                </label>
              </Show>
            </fieldset>

            <Show when={problem()}>
              <p class="alert alert-error" role="alert">
                {problem()}
              </p>
            </Show>
            <ErrorAlert error={error()} title="Could not create the meeting." />
            <div class="form-actions">
              <button type="submit" class="button button-primary" disabled={busy()}>
                {busy() ? "Creating…" : "Create meeting"}
              </button>
              <A href={`/teams/${teamId()}`} class="button button-quiet">
                Cancel
              </A>
            </div>
          </form>
        </Match>
      </Switch>
    </div>
  );
}
