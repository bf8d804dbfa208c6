/**
 * Change the password: forced after an administrator created the account (or reset it), or
 * chosen by the user. The server ends every other session and sends a fresh one.
 */
import { A } from "@solidjs/router";
import { createSignal, createUniqueId, Show } from "solid-js";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { createAction } from "../lib/action.ts";
import { usePageTitle } from "../lib/page-title.ts";
import { changePassword } from "../session/session.ts";

export interface ChangePasswordPageProps {
  /** the account may do nothing else until the password is changed */
  forced?: boolean;
}

export function ChangePasswordPage(props: ChangePasswordPageProps) {
  usePageTitle(() => (props.forced ? "Choose a new password" : "Change password"));
  const { busy, error, setError, run } = createAction();
  const [done, setDone] = createSignal(false);
  const hint = createUniqueId();

  async function onSubmit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const currentPassword = String(data.get("currentPassword") ?? "");
    const newPassword = String(data.get("newPassword") ?? "");
    setError(undefined);
    setDone(false);
    if (newPassword !== String(data.get("confirmPassword") ?? "")) {
      setError(new Error("The new password and its confirmation do not match."));
      return;
    }
    if (newPassword === currentPassword) {
      setError(new Error("The new password must differ from the current one."));
      return;
    }
    await run(async () => {
      await changePassword({ currentPassword, newPassword });
      form.reset();
      setDone(true);
    });
  }

  return (
    <section class="card narrow auth-card">
      <h1>{props.forced ? "Choose a new password" : "Change password"}</h1>
      <Show when={props.forced}>
        <p>Your account needs a new password before you continue. Choose one only you know.</p>
      </Show>
      <form class="form" aria-label="Change password" data-testid="password-form" onSubmit={onSubmit}>
        <label class="field">
          <span class="field-label">Current password</span>
          <input name="currentPassword" type="password" autocomplete="current-password" required maxLength={256} autofocus />
        </label>
        <div class="field">
          <label class="field-control">
            <span class="field-label">New password</span>
            <input
              name="newPassword"
              type="password"
              autocomplete="new-password"
              required
              minLength={10}
              maxLength={256}
              aria-describedby={hint}
            />
          </label>
          <span class="field-hint" id={hint}>
            At least 10 characters. Your other sessions will be signed out.
          </span>
        </div>
        <label class="field">
          <span class="field-label">Confirm new password</span>
          <input name="confirmPassword" type="password" autocomplete="new-password" required minLength={10} maxLength={256} />
        </label>
        <ErrorAlert error={error()} />
        <Show when={done()}>
          <p class="alert alert-success" role="status">
            Password changed. <A href="/teams">Go to your teams</A>
          </p>
        </Show>
        <button type="submit" class="button button-primary" disabled={busy()}>
          {busy() ? "Saving…" : "Change password"}
        </button>
      </form>
    </section>
  );
}
