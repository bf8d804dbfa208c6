/** /admin/desktop-sessions: every user's desktops, filtered by bridge, platform, user and state; stop any. */
import { createResource, createSignal, Show } from "solid-js";
import { listAllSessions, listBridges, stopAnySession } from "../api/admin-desktops-api.ts";
import { type AdminDesktopSession, type AdminSessionQuery, type DesktopState, PLATFORMS, type Platform } from "../api/desktop-types.ts";
import { ConfirmButton } from "../components/ConfirmButton.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { FilterSelect } from "../components/FilterSelect.tsx";
import { LoadState } from "../components/LoadState.tsx";
import { STATE_LABELS, stateBadgeClass } from "../lib/desktop-labels.ts";
import { formatDateTime } from "../lib/format.ts";
import { usePageTitle } from "../lib/page-title.ts";

const PAGE_SIZE = 50;
const STATES = Object.keys(STATE_LABELS) as DesktopState[];

export function AdminDesktopSessionsPage() {
  usePageTitle(() => "Desktop sessions");
  const [query, setQuery] = createSignal<AdminSessionQuery>({ limit: PAGE_SIZE, offset: 0 });
  const [page, { mutate, refetch }] = createResource(query, listAllSessions);
  const [bridges] = createResource(() => listBridges());
  const [error, setError] = createSignal<unknown>();
  const [busy, setBusy] = createSignal<string>();

  function onFilter(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const get = (name: string) => String(data.get(name) ?? "").trim();
    setQuery({
      limit: PAGE_SIZE,
      offset: 0,
      ...(get("bridgeId") && { bridgeId: get("bridgeId") }),
      ...(get("platform") && { platform: get("platform") as Platform }),
      ...(get("userId") && { userId: get("userId") }),
      ...(get("state") && { state: get("state") as DesktopState }),
    });
  }

  async function stop(s: AdminDesktopSession) {
    setBusy(s.id);
    setError(undefined);
    try {
      const updated = await stopAnySession(s.id);
      mutate((p) => p && { ...p, sessions: p.sessions.map((x) => (x.id === updated.id ? { ...updated, username: x.username } : x)) });
    } catch (e: unknown) {
      setError(e);
    } finally {
      setBusy(undefined);
    }
  }

  const bridgeName = (id: string | null) => (id ? (bridges.latest?.find((b) => b.id === id)?.name ?? id.slice(0, 8)) : "—");
  const offset = () => query().offset ?? 0;
  const result = () => (page.state === "errored" ? undefined : page.latest);

  return (
    <section class="card" aria-labelledby="all-sessions-heading">
      <h2 id="all-sessions-heading">All desktop sessions</h2>
      <form class="form form-row filters" aria-label="Filter sessions" onSubmit={onFilter}>
        <FilterSelect label="Bridge" name="bridgeId" options={(bridges.latest ?? []).map((b) => ({ value: b.id, label: b.name }))} />
        <FilterSelect label="Platform" name="platform" options={PLATFORMS} />
        <label class="field">
          <span class="field-label">User id</span>
          <input name="userId" pattern="[0-9a-fA-F\-]{36}" placeholder="any" value={query().userId ?? ""} />
        </label>
        <FilterSelect label="State" name="state" options={STATES} />
        <button type="submit" class="button">
          Apply
        </button>
        <button type="button" class="button button-quiet" onClick={() => void refetch()}>
          Refresh
        </button>
      </form>
      <ErrorAlert error={error()} />
      <LoadState
        error={page.error}
        value={result()}
        isEmpty={(p) => p.sessions.length === 0}
        errorTitle="Could not load the sessions."
        loadingText="Loading sessions…"
        emptyText="No sessions match."
        onRetry={refetch}
      >
        {(p) => (
          <>
            <DataTable
              items={p().sessions}
              columns={["User", "Template", "State", "Bridge", "Platform", "Started"]}
              actions
              testId="admin-sessions"
            >
              {(s) => (
                <tr data-testid="admin-session" data-state={s.state}>
                  <td>
                    <button
                      type="button"
                      class="button-link"
                      title="Show only this user's sessions"
                      onClick={() => setQuery({ limit: PAGE_SIZE, offset: 0, userId: s.userId })}
                    >
                      @{s.username}
                    </button>
                  </td>
                  <td>{s.templateName}</td>
                  <td>
                    <span class={stateBadgeClass(s.state)}>{STATE_LABELS[s.state]}</span>
                  </td>
                  <td>{bridgeName(s.bridgeId)}</td>
                  <td>{s.platform ?? "—"}</td>
                  <td>{formatDateTime(s.createdAt)}</td>
                  <td class="cell-actions">
                    <Show when={s.state !== "stopped" && s.state !== "failed" && s.state !== "stopping"}>
                      <ConfirmButton
                        size="small"
                        label="Stop"
                        ariaLabel={`Stop @${s.username}'s ${s.templateName}`}
                        confirmLabel="Yes, stop it"
                        disabled={busy() === s.id}
                        onConfirm={() => stop(s)}
                      />
                    </Show>
                  </td>
                </tr>
              )}
            </DataTable>
            <div class="pager">
              <span class="muted">
                {offset() + 1}–{offset() + p().sessions.length} of {p().total}
              </span>
              <button
                type="button"
                class="button"
                disabled={offset() === 0}
                onClick={() => setQuery((q) => ({ ...q, offset: Math.max(0, offset() - PAGE_SIZE) }))}
              >
                Previous
              </button>
              <button
                type="button"
                class="button"
                disabled={offset() + p().sessions.length >= p().total}
                onClick={() => setQuery((q) => ({ ...q, offset: offset() + PAGE_SIZE }))}
              >
                Next
              </button>
            </div>
          </>
        )}
      </LoadState>
    </section>
  );
}
