/** The fields of an agent (title, expertise, goal, role, model, optional temperature). */
import { createUniqueId, Show } from "solid-js";
import type { Agent, AgentInput } from "../api/types.ts";
import { createAction } from "../lib/action.ts";
import { ErrorAlert } from "./ErrorAlert.tsx";
import { TemperatureField } from "./TemperatureField.tsx";

/** Suggested model ids; any id the API accepts may be typed. */
export const MODEL_SUGGESTIONS = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"] as const;

export interface AgentFormProps {
  /** accessible name of the form, e.g. "Add agent" */
  label: string;
  submitLabel: string;
  /** edit this agent; without it the form creates one and clears itself afterwards */
  agent?: Agent;
  onSubmit: (input: AgentInput) => Promise<void>;
  onCancel?: () => void;
}

function readInput(data: FormData, editing: boolean): AgentInput {
  const text = (name: string) => String(data.get(name) ?? "").trim();
  const rawTemperature = text("temperature");
  const input: AgentInput = {
    title: text("title"),
    expertise: text("expertise"),
    goal: text("goal"),
    role: text("role"),
    model: text("model"),
  };
  if (rawTemperature !== "") input.temperature = Number(rawTemperature);
  else if (editing) input.temperature = null;
  return input;
}

export function AgentForm(props: AgentFormProps) {
  const { busy, error, run } = createAction();
  const modelListId = createUniqueId();

  async function onSubmit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    await run(async () => {
      await props.onSubmit(readInput(new FormData(form), props.agent !== undefined));
      if (!props.agent) {
        form.reset();
        // `value` is set as a property, so reset() empties it: put the suggestion back.
        const model = form.elements.namedItem("model");
        if (model instanceof HTMLInputElement) model.value = MODEL_SUGGESTIONS[0];
      }
    });
  }

  return (
    <form class="form agent-form" aria-label={props.label} data-testid="agent-form" onSubmit={onSubmit}>
      <div class="form-grid">
        <label class="field">
          <span class="field-label">Title</span>
          <input name="title" type="text" required maxLength={200} value={props.agent?.title ?? ""} placeholder="e.g. Immunologist" />
        </label>
        <label class="field">
          <span class="field-label">Model</span>
          <input
            name="model"
            type="text"
            required
            maxLength={100}
            list={modelListId}
            value={props.agent?.model ?? MODEL_SUGGESTIONS[0]}
            autocomplete="off"
            spellcheck={false}
          />
        </label>
      </div>
      <label class="field">
        <span class="field-label">Expertise</span>
        <textarea name="expertise" required rows={2} maxLength={4000} placeholder="e.g. antibody engineering and immune response">
          {props.agent?.expertise ?? ""}
        </textarea>
      </label>
      <label class="field">
        <span class="field-label">Goal</span>
        <textarea name="goal" required rows={2} maxLength={4000} placeholder="e.g. design nanobodies that bind the new variant">
          {props.agent?.goal ?? ""}
        </textarea>
      </label>
      <label class="field">
        <span class="field-label">Role</span>
        <textarea name="role" required rows={2} maxLength={4000} placeholder="e.g. propose and critique binder candidates">
          {props.agent?.role ?? ""}
        </textarea>
      </label>
      <TemperatureField
        class="field-short"
        value={props.agent?.temperature ?? ""}
        hint="Optional, 0–1. Leave empty for the model's default."
      />
      <datalist id={modelListId}>
        {MODEL_SUGGESTIONS.map((m) => (
          <option value={m} />
        ))}
      </datalist>
      <ErrorAlert error={error()} />
      <div class="form-actions">
        <button type="submit" class="button button-primary" disabled={busy()}>
          {busy() ? "Saving…" : props.submitLabel}
        </button>
        <Show when={props.onCancel}>
          {(cancel) => (
            <button type="button" class="button" onClick={() => cancel()()}>
              Cancel
            </button>
          )}
        </Show>
      </div>
    </form>
  );
}
