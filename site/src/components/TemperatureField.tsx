/**
 * A sampling temperature, 0–1 in steps of 0.05, as the agent form and the meeting forms ask for it.
 * Uncontrolled: the form reads `temperature` from its FormData ("" when left empty).
 */
import type { JSX } from "solid-js";
import { FormField } from "./FormField.tsx";

export interface TemperatureFieldProps {
  /** starting value; "" leaves it empty */
  value: number | "";
  hint?: JSX.Element;
  /** extra classes besides "field", e.g. "field-short" */
  class?: string;
}

export function TemperatureField(props: TemperatureFieldProps) {
  return (
    <FormField label="Temperature" class={props.class} hint={props.hint}>
      {(ids) => (
        <input
          id={ids.control}
          name="temperature"
          type="number"
          min="0"
          max="1"
          step="0.05"
          inputmode="decimal"
          value={props.value}
          aria-describedby={ids.hint}
        />
      )}
    </FormField>
  );
}
