/** /admin/meeting-settings: the deployment's meeting limits (per user per day, and meeting budgets). */
import { createResource, createSignal, Show } from "solid-js";
import { getMeetingSettings, saveMeetingSettings } from "../api/admin-api.ts";
import { ActionFeedback } from "../components/ActionFeedback.tsx";
import { LoadError } from "../components/LoadError.tsx";
import { NumberSetting } from "../components/NumberSetting.tsx";
import { createAction } from "../lib/action.ts";
import { usePageTitle } from "../lib/page-title.ts";

export function AdminMeetingSettingsPage() {
  usePageTitle(() => "Meeting limits");
  const [settings, { mutate, refetch }] = createResource(getMeetingSettings);
  const { busy, error, run } = createAction();
  const [notice, setNotice] = createSignal<string>();

  async function onSubmit(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const num = (name: string) => Number(String(data.get(name) ?? ""));
    setNotice(undefined);
    await run(async () => {
      mutate(
        await saveMeetingSettings({
          meetingsPerUserPerDay: num("meetingsPerUserPerDay"),
          dailySpendUsdPerUser: num("dailySpendUsdPerUser"),
          defaultMeetingBudgetUsd: num("defaultMeetingBudgetUsd"),
          maxMeetingBudgetUsd: num("maxMeetingBudgetUsd"),
        }),
      );
      setNotice("Limits saved.");
    });
  }

  return (
    <section class="card" aria-labelledby="meeting-limits-heading">
      <h2 id="meeting-limits-heading">Meeting limits</h2>
      <p class="field-hint">
        Per user, over the last 24 hours. The spend limit and budgets apply to meetings on the deployment's Anthropic key; users' own keys
        are not limited.
      </p>
      <LoadError error={settings.error} title="Could not load the limits." onRetry={refetch} />
      <Show when={settings.latest}>
        {(s) => (
          <form class="form" aria-label="Meeting limits" onSubmit={onSubmit}>
            <NumberSetting
              name="meetingsPerUserPerDay"
              label="Meetings per user per day"
              min={0}
              max={100000}
              step={1}
              value={s().meetingsPerUserPerDay}
              hint="Meetings a user may create (each branch and parallel copy counts), whichever key pays."
            />
            <NumberSetting
              name="dailySpendUsdPerUser"
              label="Spend per user per day (USD)"
              min={0}
              max={100000}
              step={0.01}
              value={s().dailySpendUsdPerUser}
              hint="On the deployment's key; a running meeting stops at the turn that could pass it."
            />
            <NumberSetting
              name="defaultMeetingBudgetUsd"
              label="Default meeting budget (USD)"
              min={0.01}
              max={100000}
              step={0.01}
              value={s().defaultMeetingBudgetUsd}
              hint="For a meeting on the deployment's key that sets no budget."
            />
            <NumberSetting
              name="maxMeetingBudgetUsd"
              label="Maximum meeting budget (USD)"
              min={0.01}
              max={100000}
              step={0.01}
              value={s().maxMeetingBudgetUsd}
              hint="The largest budget a meeting on the deployment's key may have."
            />
            <ActionFeedback error={error()} notice={notice()} />
            <div class="form-actions">
              <button type="submit" class="button button-primary" disabled={busy()}>
                Save limits
              </button>
            </div>
          </form>
        )}
      </Show>
    </section>
  );
}
