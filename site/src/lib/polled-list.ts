/**
 * A list kept fresh by polling while the tab is visible. Each answer is reconciled into a store
 * by id, so rows keep their identity between polls: a row's open "confirm" step or focus is not
 * lost when the data under it refreshes.
 */
import { createEffect, createSignal, on, onCleanup } from "solid-js";
import { createStore, reconcile, unwrap } from "solid-js/store";

export interface PolledList<T> {
  items: T[];
  /** true once the first answer arrived */
  loaded(): boolean;
  /** the last failure, cleared by the next success */
  error(): unknown;
  refresh(): Promise<void>;
  /** Changes the list locally (after an action), until the next poll. */
  update(fn: (items: T[]) => T[]): void;
}

export function createPolledList<T extends { id: string }, Q>(
  query: () => Q,
  fetcher: (query: Q) => Promise<T[]>,
  intervalMs: number,
): PolledList<T> {
  const [store, setStore] = createStore<{ items: T[] }>({ items: [] });
  const [loaded, setLoaded] = createSignal(false);
  const [error, setError] = createSignal<unknown>();
  let generation = 0;
  let inFlight = false;

  const refresh = async () => {
    const mine = ++generation;
    inFlight = true;
    try {
      const items = await fetcher(query());
      if (mine !== generation) return;
      setStore("items", reconcile(items, { key: "id" }));
      setError(undefined);
      setLoaded(true);
    } catch (e: unknown) {
      if (mine === generation) setError(e);
    } finally {
      if (mine === generation) inFlight = false;
    }
  };

  createEffect(
    on(query, () => {
      setLoaded(false);
      void refresh();
    }),
  );
  const timer = setInterval(() => {
    if (!inFlight && document.visibilityState === "visible") void refresh();
  }, intervalMs);
  onCleanup(() => clearInterval(timer));

  return {
    get items() {
      return store.items;
    },
    loaded,
    error,
    refresh,
    update: (fn) => setStore("items", reconcile(fn([...unwrap(store.items)]), { key: "id" })),
  };
}
