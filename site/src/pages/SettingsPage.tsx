/**
 * The caller's own settings: their Anthropic API key (stored encrypted, never shown again, only
 * its last characters), what their meetings have cost so far and what is left of today's meeting limits.
 */
import { createResource, createSignal, createUniqueId, Show } from "solid-js";
import { getUsage, listApiKeys, removeApiKey, saveApiKey } from "../api/account-api.ts";
import type { MeetingAllowance } from "../api/types.ts";
import { ActionFeedback } from "../components/ActionFeedback.tsx";
import { ConfirmButton } from "../components/ConfirmButton.tsx";
import { DataTable } from "../components/DataTable.tsx";
import { LoadState } from "../components/LoadState.tsx";
import { createAction } from "../lib/action.ts";
import { formatCount, formatDateTime, formatUsd } from "../lib/format.ts";
import { usePageTitle } from "../lib/page-title.ts";

export function SettingsPage() {
  usePageTitle(() => "Settings");
  return (
    <div class="page">
      <h1 class="page-heading">Settings</h1>
      <ApiKeySection />
      <UsageSection />
    </div>
  );
}

function ApiKeySection() {
  const [keys, { refetch, mutate }] = createResource(listApiKeys);
  const { busy, error, setError, run } = createAction();
  const [notice, setNotice] = createSignal<string>();
  const hintId = createUniqueId();
  const anthropic = () => keys.latest?.keys.find((k) => k.provider === "anthropic");

  async function onSave(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const apiKey = String(new FormData(form).get("apiKey") ?? "").trim();
    if (!apiKey) return;
    setNotice(undefined);
    await run(async () => {
      const saved = await saveApiKey("anthropic", apiKey);
      mutate((list) => list && { ...list, keys: [...list.keys.filter((k) => k.provider !== "anthropic"), saved] });
      form.reset();
      setNotice(`Key ending in ${saved.hint.replace(/^…/, "")} saved. New meetings you start use it.`);
    });
  }

  async function onRemove() {
    setError(undefined);
    setNotice(undefined);
    try {
      await removeApiKey("anthropic");
      mutate((list) => list && { ...list, keys: list.keys.filter((k) => k.provider !== "anthropic") });
      setNotice("Key removed.");
    } catch (e: unknown) {
      setError(e);
    }
  }

  return (
    <section class="card" aria-labelledby="api-key-heading" data-testid="api-key-settings">
      <h2 id="api-key-heading">Your API key</h2>
      <LoadState error={keys.error} value={keys.latest} errorTitle="Could not load your API keys." loadingText="Loading…" onRetry={refetch}>
        {(list) => (
          <>
            <Show
              when={anthropic()}
              fallback={
                <p data-testid="api-key-status">
                  <span class="badge">not set</span> You have no Anthropic API key stored.
                </p>
              }
            >
              {(key) => (
                <div class="key-status">
                  <p data-testid="api-key-status">
                    <span class="badge badge-active">set</span> Your key ending in <code>{key().hint}</code> is stored (updated{" "}
                    {formatDateTime(key().updatedAt)}).
                  </p>
                  <ConfirmButton label="Remove" ariaLabel="Remove API key" confirmLabel="Yes, remove my key" onConfirm={onRemove} />
                </div>
              )}
            </Show>
            <p class="muted" id={hintId}>
              Meetings you start call Claude with your key. Without one,{" "}
              {list().deploymentKey
                ? "they use this deployment's own key."
                : "they would use the deployment's key, but none is configured here, so they run on the offline model: clearly labelled placeholder text, free."}{" "}
              The key is stored encrypted and never shown again; only its last characters are.
            </p>
          </>
        )}
      </LoadState>
      <form class="form form-inline" aria-label="Save API key" onSubmit={onSave}>
        <label class="field">
          <span class="field-label">Anthropic API key</span>
          <input
            name="apiKey"
            type="password"
            required
            autocomplete="off"
            spellcheck={false}
            placeholder={anthropic() ? "Paste a new key to replace the stored one" : "sk-ant-…"}
            aria-describedby={hintId}
            maxLength={500}
          />
        </label>
        <div class="form-actions">
          <button type="submit" class="button button-primary" disabled={busy()}>
            {busy() ? "Saving…" : "Save"}
          </button>
        </div>
      </form>
      <ActionFeedback error={error()} notice={notice()} />
    </section>
  );
}

function UsageSection() {
  const [usage, { refetch }] = createResource(getUsage);
  return (
    <section class="card" aria-labelledby="usage-heading" data-testid="usage">
      <h2 id="usage-heading">Your usage</h2>
      <LoadState error={usage.error} value={usage.latest} errorTitle="Could not load your usage." loadingText="Loading…" onRetry={refetch}>
        {(u) => (
          <>
            <dl class="usage-totals">
              <div>
                <dt>Cost</dt>
                <dd data-testid="usage-cost">{formatUsd(u().costUsd)}</dd>
              </div>
              <div>
                <dt>Model calls</dt>
                <dd>{formatCount(u().calls)}</dd>
              </div>
              <div>
                <dt>Input tokens</dt>
                <dd>{formatCount(u().inputTokens)}</dd>
              </div>
              <div>
                <dt>Output tokens</dt>
                <dd>{formatCount(u().outputTokens)}</dd>
              </div>
            </dl>
            <AllowanceList allowance={u().allowance} />
            <Show when={u().byModel.length > 0} fallback={<p class="empty">No model calls yet.</p>}>
              <DataTable items={u().byModel} columns={["Model", "Calls", "Cost"]} caption="Usage by model">
                {(row) => (
                  <tr>
                    <td>
                      <code>{row.model}</code>
                    </td>
                    <td>{formatCount(row.calls)}</td>
                    <td>{formatUsd(row.costUsd)}</td>
                  </tr>
                )}
              </DataTable>
            </Show>
          </>
        )}
      </LoadState>
    </section>
  );
}

/** What is left of the deployment's meeting limits over the last 24 hours. */
function AllowanceList(props: { allowance: MeetingAllowance }) {
  const a = () => props.allowance;
  return (
    <>
      <h3>Left today (last {a().windowHours} hours)</h3>
      <dl class="usage-totals" data-testid="usage-allowance">
        <div>
          <dt>Meetings</dt>
          <dd data-testid="allowance-meetings">
            {formatCount(a().meetingsLeft)} of {formatCount(a().meetingsPerDay)}
          </dd>
        </div>
        <Show
          when={a().spendLimitApplies}
          fallback={
            <div>
              <dt>Spend</dt>
              <dd data-testid="allowance-spend">not limited (your own key, or no deployment key)</dd>
            </div>
          }
        >
          <div>
            <dt>Spend on the deployment's key</dt>
            <dd data-testid="allowance-spend">
              {formatUsd(a().spendLeftUsd)} of {formatUsd(a().dailySpendUsd)}
            </dd>
          </div>
          <div>
            <dt>Meeting budget</dt>
            <dd>
              {formatUsd(a().defaultMeetingBudgetUsd)} by default, at most {formatUsd(a().maxMeetingBudgetUsd)}
            </dd>
          </div>
        </Show>
      </dl>
    </>
  );
}
