/**
 * Data a view loads, in one of four states: the failure (with "Try again" when retry is
 * possible), a "Loading …" status, an empty message, or the data itself. Every list and summary
 * of the site shows them the same way, with the same roles for screen readers and tests.
 */
import { type Accessor, type JSX, Match, Switch } from "solid-js";
import { LoadError } from "./LoadError.tsx";

export interface LoadStateProps<T extends object> {
  /** the load's failure; it takes the data's place */
  error: unknown;
  /**
   * the loaded data, undefined until the first answer. Read only while there is no error, so a
   * resource's `latest` (which throws after a failure) can be passed as it is.
   */
  value: T | undefined;
  /** what failed to load, e.g. "Could not load the images." */
  errorTitle: string;
  /** e.g. "Loading images…" */
  loadingText: string;
  /** shown instead of the data when it is empty; without it empty data is rendered as it is */
  emptyText?: string;
  /** whether the data is empty; by default, whether it is an empty array */
  isEmpty?: (value: T) => boolean;
  onRetry?: () => void;
  children: (value: Accessor<T>) => JSX.Element;
}

const isEmptyArray = (value: object) => Array.isArray(value) && value.length === 0;

export function LoadState<T extends object>(props: LoadStateProps<T>) {
  const empty = () => {
    const value = props.value;
    return props.emptyText !== undefined && value !== undefined && (props.isEmpty ?? isEmptyArray)(value);
  };
  return (
    <Switch>
      <Match when={props.error}>
        <LoadError error={props.error} title={props.errorTitle} onRetry={props.onRetry} />
      </Match>
      <Match when={props.value === undefined}>
        <p class="muted" role="status">
          {props.loadingText}
        </p>
      </Match>
      <Match when={empty()}>
        <p class="empty">{props.emptyText}</p>
      </Match>
      <Match when={props.value}>{(value) => props.children(value)}</Match>
    </Switch>
  );
}
