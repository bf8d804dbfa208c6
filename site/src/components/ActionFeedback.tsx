/**
 * What the last action came to: its failure in words, or a success notice. Both are announced to
 * screen readers; neither renders without something to say.
 */
import { Show } from "solid-js";
import { ErrorAlert } from "./ErrorAlert.tsx";

export interface ActionFeedbackProps {
  error: unknown;
  notice: string | undefined;
}

export function ActionFeedback(props: ActionFeedbackProps) {
  return (
    <>
      <ErrorAlert error={props.error} />
      <Show when={props.notice}>
        <p class="alert alert-success" role="status">
          {props.notice}
        </p>
      </Show>
    </>
  );
}
