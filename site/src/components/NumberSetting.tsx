/**
 * One numeric setting of an admin settings form: a label, a required number input named after
 * the setting (read back from the form's FormData on submit) and a hint under it.
 */
export interface NumberSettingProps {
  /** the input's name: the settings field it edits */
  name: string;
  label: string;
  hint: string;
  value: number;
  min: number;
  max: number;
  /** 1 for counts, 0.01 for dollar amounts */
  step: number;
}

export function NumberSetting(props: NumberSettingProps) {
  return (
    <label class="field">
      <span class="field-label">{props.label}</span>
      <input name={props.name} type="number" min={props.min} max={props.max} step={props.step} required value={props.value} />
      <span class="field-hint">{props.hint}</span>
    </label>
  );
}
