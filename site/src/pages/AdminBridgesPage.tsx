/**
 * /admin/bridges: register a node-bridge (its token is shown once, with a copy button), list
 * bridges filtered by platform, status and region with their capacity, load, version and
 * heartbeat age (refreshed every few seconds), and drain / undrain, rotate the token or
 * deregister one.
 */
import { createSignal, For, Show } from "solid-js";
import { deregisterBridge, listBridges, registerBridge, rotateBridgeToken, setBridgeDrain } from "../api/admin-desktops-api.ts";
import { BRIDGE_STATUSES, type Bridge, type BridgeQuery, type BridgeStatus, PLATFORMS, type Platform } from "../api/desktop-types.ts";
import { ConfirmButton } from "../components/ConfirmButton.tsx";
import { CopyButton } from "../components/CopyButton.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { FilterSelect } from "../components/FilterSelect.tsx";
import { LoadState } from "../components/LoadState.tsx";
import { usePageTitle } from "../lib/page-title.ts";
import { createPolledList } from "../lib/polled-list.ts";

const POLL_MS = 5_000;

function heartbeatAge(seconds: number | null): string {
  if (seconds === null) return "never";
  if (seconds < 60) return `${Math.round(seconds)} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

export function AdminBridgesPage() {
  usePageTitle(() => "Bridges");
  const [query, setQuery] = createSignal<BridgeQuery>({});
  const bridges = createPolledList(query, listBridges, POLL_MS);
  const [secret, setSecret] = createSignal<{ name: string; token: string }>();
  const [error, setError] = createSignal<unknown>();
  const [busy, setBusy] = createSignal<string>();

  async function onRegister(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    setError(undefined);
    setBusy("register");
    try {
      const region = String(data.get("region") ?? "").trim();
      const { bridge, token } = await registerBridge({
        name: String(data.get("name") ?? "").trim(),
        platform: String(data.get("platform")) as Platform,
        ...(region && { region }),
      });
      setSecret({ name: bridge.name, token });
      form.reset();
      void bridges.refresh();
    } catch (e: unknown) {
      setError(e);
    } finally {
      setBusy(undefined);
    }
  }

  async function act(bridge: Bridge, fn: () => Promise<void>) {
    setBusy(bridge.id);
    setError(undefined);
    try {
      await fn();
    } catch (e: unknown) {
      setError(e);
    } finally {
      setBusy(undefined);
    }
  }

  const drain = (b: Bridge) =>
    act(b, async () => {
      const updated = await setBridgeDrain(b.id, !b.draining);
      bridges.update((list) => list.map((x) => (x.id === updated.id ? updated : x)));
    });
  const rotate = (b: Bridge) =>
    act(b, async () => {
      const { bridge, token } = await rotateBridgeToken(b.id);
      setSecret({ name: bridge.name, token });
      bridges.update((list) => list.map((x) => (x.id === bridge.id ? bridge : x)));
    });
  const deregister = (b: Bridge) =>
    act(b, async () => {
      await deregisterBridge(b.id);
      bridges.update((list) => list.filter((x) => x.id !== b.id));
    });

  function onFilter(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const platform = String(data.get("platform") ?? "");
    const status = String(data.get("status") ?? "");
    const region = String(data.get("region") ?? "").trim();
    setQuery({
      ...(platform && { platform: platform as Platform }),
      ...(status && { status: status as BridgeStatus }),
      ...(region && { region }),
    });
  }

  return (
    <>
      <section class="card" aria-labelledby="register-bridge-heading">
        <h2 id="register-bridge-heading">Register a bridge</h2>
        <form class="form form-row" aria-label="Register a bridge" onSubmit={onRegister}>
          <label class="field">
            <span class="field-label">Bridge name</span>
            <input name="name" required maxLength={100} />
          </label>
          <label class="field">
            <span class="field-label">Platform</span>
            <select name="platform">
              <For each={PLATFORMS}>{(p) => <option value={p}>{p}</option>}</For>
            </select>
          </label>
          <label class="field">
            <span class="field-label">Region</span>
            <input name="region" maxLength={64} pattern="[a-z0-9][a-z0-9\-]*" placeholder="default" />
          </label>
          <button type="submit" class="button button-primary" disabled={busy() === "register"}>
            Register bridge
          </button>
        </form>
        <Show when={secret()}>
          {(s) => (
            <div class="alert alert-success secret" role="status" data-testid="bridge-token">
              <p>
                The token of <strong>{s().name}</strong>. It is shown only now: configure the bridge with it (BRIDGE_TOKEN).
              </p>
              <div class="secret-box">
                <code data-testid="bridge-token-value">{s().token}</code>
                <CopyButton text={s().token} label="Copy token" />
                <button type="button" class="button button-small button-quiet" onClick={() => setSecret(undefined)}>
                  Done
                </button>
              </div>
            </div>
          )}
        </Show>
        <ErrorAlert error={error()} />
      </section>

      <section class="card" aria-labelledby="bridges-heading">
        <h2 id="bridges-heading">Bridges</h2>
        <form class="form form-row filters" aria-label="Filter bridges" onSubmit={onFilter}>
          <FilterSelect label="Platform" name="platform" options={PLATFORMS} />
          <FilterSelect label="Status" name="status" options={BRIDGE_STATUSES} />
          <label class="field">
            <span class="field-label">Region filter</span>
            <input name="region" maxLength={64} />
          </label>
          <button type="submit" class="button">
            Apply
          </button>
        </form>
        {/* A failed poll after the first answer keeps the last list on screen. */}
        <LoadState
          error={bridges.loaded() ? undefined : bridges.error()}
          value={bridges.loaded() ? bridges.items : undefined}
          errorTitle="Could not load the bridges."
          loadingText="Loading bridges…"
          emptyText="No bridges match."
        >
          {(list) => (
            <DataTable
              items={list()}
              columns={["Name", "Platform", "Region", "Status", "Sessions", "Version", "Heartbeat"]}
              actions
              testId="bridges-table"
            >
              {(b) => (
                <tr data-testid="bridge-row" data-name={b.name}>
                  <td>{b.name}</td>
                  <td>{b.platform}</td>
                  <td>{b.region}</td>
                  <td>
                    <span class="badge-group">
                      <span class={b.status === "online" ? "badge badge-active" : "badge"}>{b.status}</span>
                      <Show when={b.draining}>
                        <span class="badge badge-status-paused">drained</span>
                      </Show>
                    </span>
                  </td>
                  <td class="nowrap">
                    {b.activeSessions} / {b.capacity}
                  </td>
                  <td>{b.version ?? "—"}</td>
                  <td class="nowrap">{heartbeatAge(b.heartbeatAgeSeconds)}</td>
                  <td class="cell-actions">
                    <button
                      type="button"
                      class="button button-small"
                      disabled={busy() === b.id}
                      aria-label={`${b.draining ? "Undrain" : "Drain"} ${b.name}`}
                      onClick={() => void drain(b)}
                    >
                      {b.draining ? "Undrain" : "Drain"}
                    </button>
                    <ConfirmButton
                      size="small"
                      label="Rotate token"
                      ariaLabel={`Rotate the token of ${b.name}`}
                      confirmLabel="Yes, rotate"
                      disabled={busy() === b.id}
                      onConfirm={() => rotate(b)}
                    />
                    <ConfirmButton
                      size="small"
                      label="Deregister"
                      ariaLabel={`Deregister ${b.name}`}
                      confirmLabel={`Yes, deregister ${b.name}`}
                      disabled={busy() === b.id}
                      onConfirm={() => deregister(b)}
                    />
                  </td>
                </tr>
              )}
            </DataTable>
          )}
        </LoadState>
      </section>
    </>
  );
}
