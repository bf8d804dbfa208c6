/** Create an account (and be signed in). */
import { A, Navigate, useNavigate, useSearchParams } from "@solidjs/router";
import { createUniqueId, Match, Switch } from "solid-js";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { createAction } from "../lib/action.ts";
import { safeNextPath } from "../lib/format.ts";
import { usePageTitle } from "../lib/page-title.ts";
import { authEnabled, currentUser, registerAccount } from "../session/session.ts";

export function RegisterPage() {
  usePageTitle(() => "Create account");
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const { busy, error, run } = createAction();
  const next = () => safeNextPath(params.next) ?? "/teams";
  const usernameHint = createUniqueId();
  const passwordHint = createUniqueId();

  async function onSubmit(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    const displayName = String(data.get("displayName") ?? "").trim();
    // Read before signing in: the redirect below changes the location (and its ?next).
    const destination = next();
    await run(async () => {
      await registerAccount({
        username: String(data.get("username") ?? "").trim(),
        email: String(data.get("email") ?? "").trim(),
        password: String(data.get("password") ?? ""),
        ...(displayName && { displayName }),
      });
      navigate(destination, { replace: true });
    });
  }

  return (
    <Switch>
      <Match when={!authEnabled() || currentUser()}>
        <Navigate href={next()} />
      </Match>
      <Match when={true}>
        <section class="card narrow auth-card">
          <h1>Create your account</h1>
          <form class="form" aria-label="Create account" data-testid="register-form" onSubmit={onSubmit}>
            <div class="field">
              <label class="field-control">
                <span class="field-label">Username</span>
                <input
                  name="username"
                  type="text"
                  autocomplete="username"
                  required
                  minLength={3}
                  maxLength={32}
                  pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{2,31}"
                  aria-describedby={usernameHint}
                  autofocus
                />
              </label>
              <span class="field-hint" id={usernameHint}>
                3–32 letters, digits, “_”, “.” or “-”, starting with a letter or digit.
              </span>
            </div>
            <label class="field">
              <span class="field-label">Email</span>
              <input name="email" type="email" autocomplete="email" required maxLength={254} />
            </label>
            <label class="field">
              <span class="field-label">Display name</span>
              <input name="displayName" type="text" autocomplete="name" maxLength={80} placeholder="Optional" />
            </label>
            <div class="field">
              <label class="field-control">
                <span class="field-label">Password</span>
                <input
                  name="password"
                  type="password"
                  autocomplete="new-password"
                  required
                  minLength={10}
                  maxLength={256}
                  aria-describedby={passwordHint}
                />
              </label>
              <span class="field-hint" id={passwordHint}>
                At least 10 characters.
              </span>
            </div>
            <ErrorAlert error={error()} />
            <button type="submit" class="button button-primary" disabled={busy()}>
              {busy() ? "Creating account…" : "Create account"}
            </button>
          </form>
          <p class="muted">
            Already have an account? <A href="/login">Sign in</A>
          </p>
        </section>
      </Match>
    </Switch>
  );
}
