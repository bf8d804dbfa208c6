/**
 * A failed load in words, with "Try again" when the caller can retry. Renders nothing without
 * an error, like ErrorAlert.
 */
import { Show } from "solid-js";
import { ErrorAlert } from "./ErrorAlert.tsx";

export interface LoadErrorProps {
  error: unknown;
  /** what failed to load, e.g. "Could not load the images." */
  title: string;
  /** loads again; without it there is no "Try again" button */
  onRetry?: () => void;
}

export function LoadError(props: LoadErrorProps) {
  return (
    <Show when={props.error !== undefined && props.error !== null}>
      <ErrorAlert error={props.error} title={props.title} />
      <Show when={props.onRetry}>
        <button type="button" class="button" onClick={() => props.onRetry?.()}>
          Try again
        </button>
      </Show>
    </Show>
  );
}
