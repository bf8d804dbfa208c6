/**
 * A table with one row per item: the scrolling wrapper, the column headings and the body. Tables
 * with row buttons end in an "Actions" column whose heading is for screen readers only.
 */
import { For, type JSX, Show } from "solid-js";

export interface DataTableProps<T> {
  items: readonly T[];
  columns: readonly string[];
  /** add the last, visually unlabelled column for each row's buttons */
  actions?: boolean;
  /** a caption for screen readers only */
  caption?: string;
  dense?: boolean;
  testId?: string;
  /** one `<tr>` for an item */
  children: (item: T) => JSX.Element;
}

export function DataTable<T>(props: DataTableProps<T>) {
  return (
    <div class="table-wrap">
      <table class={props.dense ? "table table-dense" : "table"} data-testid={props.testId}>
        <Show when={props.caption}>
          <caption class="visually-hidden">{props.caption}</caption>
        </Show>
        <thead>
          <tr>
            <For each={props.columns}>{(column) => <th scope="col">{column}</th>}</For>
            <Show when={props.actions}>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </Show>
          </tr>
        </thead>
        <tbody>
          <For each={props.items}>{(item) => props.children(item)}</For>
        </tbody>
      </table>
    </div>
  );
}
