/** An error in words, announced to screen readers. Renders nothing without an error. */
import { For, Show } from "solid-js";
import { describeError } from "../lib/errors.ts";

export interface ErrorAlertProps {
  error: unknown;
  /** what was being attempted, e.g. "Could not add the member." */
  title?: string;
}

export function ErrorAlert(props: ErrorAlertProps) {
  const description = () => (props.error === undefined || props.error === null ? undefined : describeError(props.error));
  return (
    <Show when={description()}>
      {(d) => (
        <div class="alert alert-error" role="alert" data-testid="error">
          <Show when={props.title}>
            <strong>{props.title} </strong>
          </Show>
          <span>{d().message}</span>
          <Show when={d().fields.length > 0}>
            <ul>
              <For each={d().fields}>{(f) => <li>{f}</li>}</For>
            </ul>
          </Show>
        </div>
      )}
    </Show>
  );
}
