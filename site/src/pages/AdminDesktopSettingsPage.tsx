/** /admin/desktop-settings: the deployment's desktop quotas and idle timeout. */
import { createResource, createSignal, Show } from "solid-js";
import { getDesktopSettings, saveDesktopSettings } from "../api/admin-desktops-api.ts";
import { ActionFeedback } from "../components/ActionFeedback.tsx";
import { LoadError } from "../components/LoadError.tsx";
import { NumberSetting } from "../components/NumberSetting.tsx";
import { createAction } from "../lib/action.ts";
import { usePageTitle } from "../lib/page-title.ts";

export function AdminDesktopSettingsPage() {
  usePageTitle(() => "Desktop quotas");
  const [settings, { mutate, refetch }] = createResource(getDesktopSettings);
  const { busy, error, run } = createAction();
  const [notice, setNotice] = createSignal<string>();

  async function onSubmit(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const num = (name: string) => Number(String(data.get(name) ?? ""));
    setNotice(undefined);
    await run(async () => {
      mutate(
        await saveDesktopSettings({
          maxConcurrentSessions: num("maxConcurrentSessions"),
          perUserSessionLimit: num("perUserSessionLimit"),
          idleTimeoutMinutes: num("idleTimeoutMinutes"),
        }),
      );
      setNotice("Quotas saved.");
    });
  }

  return (
    <section class="card" aria-labelledby="quotas-heading">
      <h2 id="quotas-heading">Quotas and idle timeout</h2>
      <LoadError error={settings.error} title="Could not load the settings." onRetry={refetch} />
      <Show when={settings.latest}>
        {(s) => (
          <form class="form" aria-label="Desktop quotas" onSubmit={onSubmit}>
            <NumberSetting
              name="maxConcurrentSessions"
              label="Max concurrent sessions"
              min={0}
              max={100000}
              step={1}
              value={s().maxConcurrentSessions}
              hint="Desktops running, starting or waking across the deployment."
            />
            <NumberSetting
              name="perUserSessionLimit"
              label="Per-user session limit"
              min={0}
              max={1000}
              step={1}
              value={s().perUserSessionLimit}
              hint="A user's desktops that are not stopped (hibernated ones count)."
            />
            <NumberSetting
              name="idleTimeoutMinutes"
              label="Idle timeout (minutes)"
              min={0}
              max={10080}
              step={1}
              value={s().idleTimeoutMinutes}
              hint="Hibernate (or stop) a desktop without input this long; 0 never does."
            />
            <ActionFeedback error={error()} notice={notice()} />
            <div class="form-actions">
              <button type="submit" class="button button-primary" disabled={busy()}>
                Save quotas
              </button>
            </div>
          </form>
        )}
      </Show>
    </section>
  );
}
