/** The audit log, newest first, filtered by action, actor and time, paged by `before` cursor. */
import { createResource, createSignal, For, Show } from "solid-js";
import { listAudit } from "../api/admin-api.ts";
import type { AuditEntry, AuditQuery } from "../api/types.ts";
import { DataTable } from "../components/DataTable.tsx";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { LoadState } from "../components/LoadState.tsx";
import { formatDateTime, localInputToIso } from "../lib/format.ts";
import { usePageTitle } from "../lib/page-title.ts";

const PAGE_SIZE = 50;
const ACTION_SUGGESTIONS = [
  "auth.",
  "auth.login.success",
  "auth.login.failure",
  "auth.login.rate_limited",
  "auth.password.change",
  "auth.refresh.reuse_detected",
  "team.",
  "team.member.",
  "admin.",
  "admin.user.",
];

function targetText(entry: AuditEntry): string {
  if (!entry.targetType && !entry.targetId) return "—";
  const name = typeof entry.detail.username === "string" ? entry.detail.username : undefined;
  // Ids are long; the full id is in the cell's title.
  const id = entry.targetId && entry.targetId.length > 12 ? `${entry.targetId.slice(0, 8)}…` : entry.targetId;
  return [entry.targetType, name ?? id].filter(Boolean).join(": ");
}

function detailText(detail: Record<string, unknown>): string {
  return Object.keys(detail).length === 0 ? "" : JSON.stringify(detail);
}

export function AdminAuditPage() {
  usePageTitle(() => "Audit log");
  const [filters, setFilters] = createSignal<AuditQuery>({ limit: PAGE_SIZE });
  /** cursors of the pages before this one, to go back to newer entries */
  const [newer, setNewer] = createSignal<(number | undefined)[]>([]);
  const [page, { refetch }] = createResource(filters, listAudit);
  const [formError, setFormError] = createSignal<unknown>();
  const pageValue = () => (page.state === "errored" ? undefined : page.latest);

  function onFilter(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const text = (name: string) => String(data.get(name) ?? "").trim() || undefined;
    const from = localInputToIso(String(data.get("from") ?? ""));
    const to = localInputToIso(String(data.get("to") ?? ""));
    if (from && to && from > to) {
      setFormError(new Error("“From” must be before “To”."));
      return;
    }
    setFormError(undefined);
    setNewer([]);
    setFilters({ action: text("action"), actor: text("actor"), from, to, limit: PAGE_SIZE });
  }

  function onClear(event: Event) {
    (event.currentTarget as HTMLButtonElement).form?.reset();
    setFormError(undefined);
    setNewer([]);
    setFilters({ limit: PAGE_SIZE });
  }

  function older(nextBefore: number) {
    setNewer((stack) => [...stack, filters().before]);
    setFilters((f) => ({ ...f, before: nextBefore }));
  }

  function back() {
    const stack = newer();
    setNewer(stack.slice(0, -1));
    setFilters((f) => ({ ...f, before: stack[stack.length - 1] }));
  }

  return (
    <section class="card" aria-labelledby="audit-heading">
      <h2 id="audit-heading">Audit log</h2>
      <form class="form form-row filters" aria-label="Filter audit log" onSubmit={onFilter}>
        <label class="field">
          <span class="field-label">Action</span>
          <input name="action" type="text" list="audit-actions" maxLength={100} placeholder="e.g. auth. or team.create" />
          <datalist id="audit-actions">
            <For each={ACTION_SUGGESTIONS}>{(a) => <option value={a} />}</For>
          </datalist>
        </label>
        <label class="field">
          <span class="field-label">Actor</span>
          <input name="actor" type="text" maxLength={254} placeholder="username" />
        </label>
        <label class="field">
          <span class="field-label">From</span>
          <input name="from" type="datetime-local" />
        </label>
        <label class="field">
          <span class="field-label">To</span>
          <input name="to" type="datetime-local" />
        </label>
        <div class="form-actions">
          <button type="submit" class="button button-primary">
            Apply
          </button>
          <button type="button" class="button" onClick={onClear}>
            Clear
          </button>
        </div>
      </form>
      <p class="field-hint">An action ending in “.” matches every action that starts with it.</p>
      <ErrorAlert error={formError()} />
      <LoadState
        error={page.error}
        value={pageValue()}
        isEmpty={(p) => p.entries.length === 0}
        errorTitle="Could not load the audit log."
        loadingText="Loading entries…"
        emptyText="No entries match."
        onRetry={refetch}
      >
        {(p) => (
          <DataTable items={p().entries} columns={["Time", "Actor", "Action", "Target", "IP", "Detail"]} dense testId="audit-table">
            {(entry) => (
              <tr data-testid="audit-row">
                <td class="nowrap">
                  <time datetime={entry.at} title={entry.at}>
                    {formatDateTime(entry.at)}
                  </time>
                </td>
                <td>{entry.actorName ?? entry.actorId ?? "—"}</td>
                <td>
                  <code>{entry.action}</code>
                </td>
                <td class="cell-wrap" title={entry.targetId ?? undefined}>
                  {targetText(entry)}
                </td>
                <td class="nowrap">{entry.ip ?? "—"}</td>
                <td class="cell-detail">
                  <code>{detailText(entry.detail)}</code>
                </td>
              </tr>
            )}
          </DataTable>
        )}
      </LoadState>
      <div class="pager">
        <button type="button" class="button" disabled={newer().length === 0} onClick={back}>
          Newer
        </button>
        <Show
          when={pageValue()?.nextBefore}
          fallback={
            <button type="button" class="button" disabled>
              Older
            </button>
          }
        >
          {(cursor) => (
            <button type="button" class="button" onClick={() => older(cursor())}>
              Older
            </button>
          )}
        </Show>
      </div>
    </section>
  );
}
