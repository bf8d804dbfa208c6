/** Sign in with a username or email and a password. */
import { A, Navigate, useNavigate, useSearchParams } from "@solidjs/router";
import { Match, Switch } from "solid-js";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { createAction } from "../lib/action.ts";
import { safeNextPath } from "../lib/format.ts";
import { usePageTitle } from "../lib/page-title.ts";
import { authEnabled, currentUser, signIn } from "../session/session.ts";

export function LoginPage() {
  usePageTitle(() => "Sign in");
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const { busy, error, run } = createAction();
  const next = () => safeNextPath(params.next) ?? "/teams";

  async function onSubmit(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    // Read before signing in: the redirect below changes the location (and its ?next).
    const destination = next();
    await run(async () => {
      await signIn({ login: String(data.get("login") ?? "").trim(), password: String(data.get("password") ?? "") });
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
          <h1>Sign in to Atrium</h1>
          <form class="form" aria-label="Sign in" data-testid="login-form" onSubmit={onSubmit}>
            <label class="field">
              <span class="field-label">Username or email</span>
              <input name="login" type="text" autocomplete="username" required maxLength={254} autofocus />
            </label>
            <label class="field">
              <span class="field-label">Password</span>
              <input name="password" type="password" autocomplete="current-password" required maxLength={256} />
            </label>
            <ErrorAlert error={error()} />
            <button type="submit" class="button button-primary" disabled={busy()}>
              {busy() ? "Signing in…" : "Sign in"}
            </button>
          </form>
          <p class="muted">
            New here? <A href={`/register${params.next ? `?next=${encodeURIComponent(next())}` : ""}`}>Create an account</A>
          </p>
        </section>
      </Match>
    </Switch>
  );
}
