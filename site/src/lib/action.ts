/**
 * The busy flag and error of one user action (a form submit, a button press), so a component
 * does not repeat the same busy/error/try/finally dance around every request: the button is
 * disabled while the request runs, and a failure is kept for an <ErrorAlert> instead of thrown.
 */
import { type Accessor, createSignal } from "solid-js";

export interface Action {
  /** true while a `run` is under way */
  busy: Accessor<boolean>;
  /** the last failure; cleared when the next `run` starts */
  error: Accessor<unknown>;
  /** Shows a problem found without a request (a check, or a related action sharing the alert). */
  setError(error: unknown): void;
  /** Runs `fn` as the action: its result, or `undefined` after a failure (stored in `error`). */
  run<T>(fn: () => Promise<T>): Promise<T | undefined>;
}

export function createAction(): Action {
  const [busy, setBusy] = createSignal(false);
  const [error, setErrorSignal] = createSignal<unknown>();
  // Through a function, so an error value is stored as is, never called as an updater.
  const setError = (value: unknown) => setErrorSignal(() => value);

  async function run<T>(fn: () => Promise<T>): Promise<T | undefined> {
    setBusy(true);
    setError(undefined);
    try {
      return await fn();
    } catch (e: unknown) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }

  return { busy, error, setError, run };
}
