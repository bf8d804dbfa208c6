/**
 * A labelled form control with an optional hint under it. The caller renders the control and is
 * handed the ids to wire (its own `id` for the label, the hint's for `aria-describedby`), so every
 * form labels and describes its inputs and selects the same way.
 */
import { createUniqueId, type JSX, Show } from "solid-js";

export interface FormFieldIds {
  control: string;
  /** undefined when the field has no hint */
  hint: string | undefined;
}

export interface FormFieldProps {
  label: string;
  /** words under the control */
  hint?: JSX.Element;
  /** extra classes besides "field", e.g. "field-short" */
  class?: string;
  children: (ids: FormFieldIds) => JSX.Element;
}

export function FormField(props: FormFieldProps) {
  const controlId = createUniqueId();
  const hintId = createUniqueId();
  const hasHint = () => props.hint !== undefined;
  return (
    <div class={props.class ? `field ${props.class}` : "field"}>
      <label class="field-label" for={controlId}>
        {props.label}
      </label>
      {props.children({ control: controlId, hint: hasHint() ? hintId : undefined })}
      <Show when={hasHint()}>
        <span class="field-hint" id={hintId}>
          {props.hint}
        </span>
      </Show>
    </div>
  );
}
