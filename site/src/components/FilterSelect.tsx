/**
 * One `<select>` of a filter form: "All" (the empty value) and then the given choices. The form
 * reads it by `name` on submit.
 */
import { For } from "solid-js";

export interface FilterSelectProps {
  label: string;
  name: string;
  /** the values, shown as they are, or value / label pairs */
  options: readonly (string | { value: string; label: string })[];
}

export function FilterSelect(props: FilterSelectProps) {
  return (
    <label class="field">
      <span class="field-label">{props.label}</span>
      <select name={props.name}>
        <option value="">All</option>
        <For each={props.options}>
          {(o) => (typeof o === "string" ? <option value={o}>{o}</option> : <option value={o.value}>{o.label}</option>)}
        </For>
      </select>
    </label>
  );
}
