/**
 * How long and how freely a meeting runs: rounds, temperature and an optional cost budget. Shared
 * by the new-meeting form and the branch form, which differ only in starting values and hints.
 * Uncontrolled: the form reads `rounds`, `temperature` and `maxCostUsd` from its FormData.
 */
import type { JSX } from "solid-js";
import { MEETING_LIMITS } from "../../../durable-objects/meeting/meeting-config.ts";
import { FormField } from "./FormField.tsx";
import { TemperatureField } from "./TemperatureField.tsx";

const L = MEETING_LIMITS;

export interface MeetingTuningFieldsProps {
  /** starting values */
  rounds: number;
  temperature: number;
  maxCostUsd?: number;
  roundsHint: JSX.Element;
  temperatureHint?: JSX.Element;
  budgetHint?: JSX.Element;
}

export function MeetingTuningFields(props: MeetingTuningFieldsProps) {
  return (
    <div class="form-grid form-grid-narrow">
      <FormField label="Rounds" hint={props.roundsHint}>
        {(ids) => (
          <input
            id={ids.control}
            name="rounds"
            type="number"
            required
            min={L.minRounds}
            max={L.maxRounds}
            step="1"
            value={props.rounds}
            inputmode="numeric"
            aria-describedby={ids.hint}
          />
        )}
      </FormField>
      <TemperatureField value={props.temperature} hint={props.temperatureHint} />
      <FormField label="Budget (USD)" hint={props.budgetHint}>
        {(ids) => (
          <input
            id={ids.control}
            name="maxCostUsd"
            type="number"
            min="0.01"
            step="0.01"
            inputmode="decimal"
            value={props.maxCostUsd ?? ""}
            placeholder="No limit"
            aria-describedby={ids.hint}
          />
        )}
      </FormField>
    </div>
  );
}
