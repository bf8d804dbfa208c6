/**
 * "Branch from here": a new meeting that shares this one's transcript up to a finished turn and
 * continues with changed rounds, temperature or agenda. Starts as a copy of the current settings.
 */
import { createSignal } from "solid-js";
import { MEETING_LIMITS } from "../../../durable-objects/meeting/meeting-config.ts";
import { branchMeeting } from "../api/meetings-api.ts";
import type { BranchInput, Meeting } from "../api/types.ts";
import { createAction } from "../lib/action.ts";
import { ErrorAlert } from "./ErrorAlert.tsx";
import { ListInput } from "./ListInput.tsx";
import { MeetingTuningFields } from "./MeetingTuningFields.tsx";

const L = MEETING_LIMITS;

export interface BranchFormProps {
  meeting: Meeting;
  fromTurnIndex: number;
  /** who spoke the turn, for the form's name */
  speaker: string;
  onBranched: (meeting: Meeting) => void;
  onCancel: () => void;
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export function BranchForm(props: BranchFormProps) {
  const config = () => props.meeting.config;
  const [agenda, setAgenda] = createSignal(config().agenda);
  const [questions, setQuestions] = createSignal<string[]>([...config().agendaQuestions]);
  const [rules, setRules] = createSignal<string[]>([...config().agendaRules]);
  const { busy, error, run } = createAction();

  async function onSubmit(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const input: BranchInput = { fromTurnIndex: props.fromTurnIndex, start: data.get("start") === "on" };
    const rounds = Number(data.get("rounds"));
    const temperature = String(data.get("temperature") ?? "").trim();
    if (rounds !== config().rounds) input.rounds = rounds;
    if (temperature !== "" && Number(temperature) !== config().temperature) input.temperature = Number(temperature);
    const budget = String(data.get("maxCostUsd") ?? "").trim();
    if (budget !== "" && Number(budget) !== config().maxCostUsd) input.maxCostUsd = Number(budget);
    // Send only what changed, so the branch inherits everything else.
    if (agenda().trim() !== config().agenda) input.agenda = agenda().trim();
    const q = questions()
      .map((x) => x.trim())
      .filter(Boolean);
    const r = rules()
      .map((x) => x.trim())
      .filter(Boolean);
    if (!sameList(q, config().agendaQuestions)) input.agendaQuestions = q;
    if (!sameList(r, config().agendaRules)) input.agendaRules = r;
    await run(async () => props.onBranched(await branchMeeting(props.meeting.id, input)));
  }

  return (
    <form
      class="form branch-form"
      aria-label={`Branch from turn ${props.fromTurnIndex + 1} (${props.speaker})`}
      data-testid="branch-form"
      onSubmit={onSubmit}
    >
      <h3>Branch from turn {props.fromTurnIndex + 1}</h3>
      <p class="field-hint">
        A new meeting that keeps the transcript up to and including this turn, then continues with the settings below.
      </p>
      <MeetingTuningFields
        rounds={config().rounds}
        temperature={config().temperature}
        maxCostUsd={config().maxCostUsd}
        roundsHint="More rounds than the original continue the discussion; the same or fewer write a new summary."
      />
      <label class="field">
        <span class="field-label">Agenda</span>
        <textarea
          name="agenda"
          required
          rows={3}
          maxLength={L.maxAgendaChars}
          value={agenda()}
          onInput={(e) => setAgenda(e.currentTarget.value)}
        />
      </label>
      <div class="form-grid">
        <ListInput
          legend="Questions"
          itemLabel={(i) => `Branch question ${i + 1}`}
          addLabel="Add question"
          items={questions()}
          onChange={setQuestions}
          maxItems={L.maxQuestions}
          maxLength={L.maxItemChars}
        />
        <ListInput
          legend="Rules"
          itemLabel={(i) => `Branch rule ${i + 1}`}
          addLabel="Add rule"
          items={rules()}
          onChange={setRules}
          maxItems={L.maxRules}
          maxLength={L.maxItemChars}
        />
      </div>
      <label class="check">
        <input type="checkbox" name="start" checked />
        <span>Start now</span>
      </label>
      <ErrorAlert error={error()} title="Could not branch the meeting." />
      <div class="form-actions">
        <button type="submit" class="button button-primary" disabled={busy()}>
          {busy() ? "Branching…" : "Create branch"}
        </button>
        <button type="button" class="button" onClick={() => props.onCancel()}>
          Cancel
        </button>
      </div>
    </form>
  );
}
