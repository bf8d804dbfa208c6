/**
 * /desktops: the template gallery (start a desktop, optionally on a platform or in a region)
 * and the caller's sessions with their live state, polled every few seconds while the tab is
 * visible, with stop / hibernate / wake / delete. Refusals (quota, capacity) are shown in words.
 */
import { A, useNavigate } from "@solidjs/router";
import { createResource, createSignal, For, Show } from "solid-js";
import { PLATFORMS, type DesktopSession, type DesktopTemplateSummary, type Platform } from "../api/desktop-types.ts";
import { actOnDesktop, type DesktopAction, deleteDesktop, listDesktops, listDesktopTemplates, startDesktop } from "../api/desktops-api.ts";
import { ConfirmButton } from "../components/ConfirmButton.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { LoadState } from "../components/LoadState.tsx";
import { describeDesktopError, STATE_LABELS, stateBadgeClass } from "../lib/desktop-labels.ts";
import { formatDateTime } from "../lib/format.ts";
import { usePageTitle } from "../lib/page-title.ts";
import { createPolledList } from "../lib/polled-list.ts";

const POLL_MS = 3_000;

export function DesktopsPage() {
  usePageTitle(() => "Desktops");
  const navigate = useNavigate();
  const [templates, { refetch: refetchTemplates }] = createResource(listDesktopTemplates);
  const sessions = createPolledList(
    () => "all",
    () => listDesktops(),
    POLL_MS,
  );
  const [startError, setStartError] = createSignal<string>();
  const [actionError, setActionError] = createSignal<string>();
  const [busy, setBusy] = createSignal<string>();

  async function onStart(template: DesktopTemplateSummary, platform: Platform | undefined, region: string | undefined) {
    setBusy(template.id);
    setStartError(undefined);
    try {
      const session = await startDesktop({ templateId: template.id, ...(platform && { platform }), ...(region && { region }) });
      sessions.update((list) => [session, ...list]);
      navigate(`/desktops/${session.id}`);
    } catch (e: unknown) {
      setStartError(describeDesktopError(e));
    } finally {
      setBusy(undefined);
    }
  }

  async function onAction(session: DesktopSession, action: DesktopAction | "delete") {
    setBusy(session.id);
    setActionError(undefined);
    try {
      if (action === "delete") {
        await deleteDesktop(session.id);
        sessions.update((list) => list.filter((s) => s.id !== session.id));
      } else {
        const updated = await actOnDesktop(session.id, action);
        sessions.update((list) => list.map((s) => (s.id === updated.id ? updated : s)));
      }
    } catch (e: unknown) {
      setActionError(describeDesktopError(e));
    } finally {
      setBusy(undefined);
    }
  }

  return (
    <div class="page">
      <div class="page-heading">
        <h1>Desktops</h1>
      </div>
      <section class="card" aria-labelledby="templates-heading">
        <h2 id="templates-heading">Start a desktop</h2>
        <Show when={startError()}>
          <p class="alert alert-error" role="alert" data-testid="start-error">
            {startError()}
          </p>
        </Show>
        <LoadState
          error={templates.error}
          value={templates()}
          errorTitle="Could not load the templates."
          loadingText="Loading templates…"
          emptyText="No desktop templates are available yet. An administrator adds them."
          onRetry={refetchTemplates}
        >
          {(list) => (
            <ul class="template-gallery" data-testid="template-gallery">
              <For each={list()}>
                {(t) => <TemplateCard template={t} busy={busy() === t.id} onStart={(p, r) => void onStart(t, p, r)} />}
              </For>
            </ul>
          )}
        </LoadState>
      </section>

      <section class="card" aria-labelledby="sessions-heading">
        <h2 id="sessions-heading">Your desktops</h2>
        <Show when={actionError()}>
          <p class="alert alert-error" role="alert">
            {actionError()}
          </p>
        </Show>
        {/* A failed poll after the first answer keeps the last list on screen. */}
        <LoadState
          error={sessions.loaded() ? undefined : sessions.error()}
          value={sessions.loaded() ? sessions.items : undefined}
          errorTitle="Could not load your desktops."
          loadingText="Loading your desktops…"
          emptyText="You have no desktops yet."
        >
          {(list) => (
            <DataTable items={list()} columns={["Desktop", "State", "Platform", "Started"]} actions testId="desktop-sessions">
              {(s) => (
                <tr data-testid="desktop-session" data-state={s.state}>
                  <td>
                    <Show when={s.state !== "stopped" && s.state !== "failed"} fallback={s.templateName}>
                      <A href={`/desktops/${s.id}`}>{s.templateName}</A>
                    </Show>
                  </td>
                  <td>
                    <span class={stateBadgeClass(s.state)} data-testid="desktop-state">
                      {STATE_LABELS[s.state]}
                    </span>
                    <Show when={s.stateDetail}>
                      <div class="muted small">{s.stateDetail}</div>
                    </Show>
                  </td>
                  <td>{s.platform ?? "—"}</td>
                  <td>{formatDateTime(s.createdAt)}</td>
                  <td class="cell-actions">
                    <SessionActions session={s} busy={busy() === s.id} onAction={(a) => void onAction(s, a)} />
                  </td>
                </tr>
              )}
            </DataTable>
          )}
        </LoadState>
      </section>
    </div>
  );
}

function TemplateCard(props: {
  template: DesktopTemplateSummary;
  busy: boolean;
  onStart: (platform: Platform | undefined, region: string | undefined) => void;
}) {
  const [platform, setPlatform] = createSignal<Platform | "">("");
  const [region, setRegion] = createSignal("");
  const t = () => props.template;
  return (
    <li class="template-card" data-testid="template-card" data-name={t().name}>
      <h3>{t().name}</h3>
      <Show when={t().description}>
        <p>{t().description}</p>
      </Show>
      <p class="muted small">
        {t().kind === "vm" ? "Virtual machine" : "Container"} · {t().cpu} CPU · {Math.round(t().memoryMb / 102.4) / 10} GiB
        {t().persistentHome ? " · persistent home" : ""}
        {t().adminOnly ? " · administrators only" : ""}
      </p>
      <form
        class="form form-row"
        aria-label={`Start ${t().name}`}
        onSubmit={(e) => {
          e.preventDefault();
          props.onStart(platform() || undefined, region().trim() || undefined);
        }}
      >
        <label class="field">
          <span class="field-label">Platform</span>
          <select value={platform()} onChange={(e) => setPlatform(e.currentTarget.value as Platform | "")}>
            <option value="">Any</option>
            <For each={PLATFORMS}>{(p) => <option value={p}>{p}</option>}</For>
          </select>
        </label>
        <label class="field">
          <span class="field-label">Region</span>
          <input type="text" maxLength={64} placeholder="any" value={region()} onInput={(e) => setRegion(e.currentTarget.value)} />
        </label>
        <button type="submit" class="button button-primary" disabled={props.busy}>
          {props.busy ? "Starting…" : "Start"}
        </button>
      </form>
    </li>
  );
}

function SessionActions(props: { session: DesktopSession; busy: boolean; onAction: (action: DesktopAction | "delete") => void }) {
  const s = () => props.session;
  const name = () => s().templateName;
  return (
    <>
      <Show when={s().state === "running"}>
        <A class="button button-small button-primary" href={`/desktops/${s().id}`}>
          Open
        </A>
        {/* Local desktops are processes on the bridge's host: they cannot hibernate. */}
        <Show when={s().platform !== "local"}>
          <button type="button" class="button button-small" disabled={props.busy} onClick={() => props.onAction("hibernate")}>
            Hibernate
          </button>
        </Show>
      </Show>
      <Show when={s().state === "hibernated"}>
        <button type="button" class="button button-small" disabled={props.busy} onClick={() => props.onAction("wake")}>
          Wake
        </button>
      </Show>
      <Show when={s().state !== "stopped" && s().state !== "failed" && s().state !== "stopping"}>
        <ConfirmButton
          size="small"
          label="Stop"
          ariaLabel={`Stop ${name()}`}
          confirmLabel={`Yes, stop ${name()}`}
          disabled={props.busy}
          onConfirm={() => props.onAction("stop")}
        />
      </Show>
      <Show when={s().state === "stopped" || s().state === "failed"}>
        <ConfirmButton
          size="small"
          label="Delete"
          ariaLabel={`Delete ${name()}`}
          confirmLabel="Yes, delete"
          disabled={props.busy}
          onConfirm={() => props.onAction("delete")}
        />
      </Show>
    </>
  );
}
