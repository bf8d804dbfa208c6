/**
 * The frame of every page: a skip link, the header (app name, navigation, the signed-in user
 * and Sign out) and the main region. It also starts the session on first render.
 */
import { A, useNavigate } from "@solidjs/router";
import { createSignal, type JSX, Match, onMount, Show, Switch } from "solid-js";
import { authEnabled, currentUser, loadSession, sessionState, signOut } from "../session/session.ts";
import { Avatar } from "./Avatar.tsx";
import { ErrorAlert } from "./ErrorAlert.tsx";

export interface AppShellProps {
  children?: JSX.Element;
}

export function AppShell(props: AppShellProps) {
  onMount(() => void loadSession());
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" class="main" tabindex="-1">
        <Switch>
          <Match when={sessionState().status === "loading"}>
            <p class="muted" role="status">
              Loading…
            </p>
          </Match>
          <Match when={sessionState().status === "unavailable"}>
            <Unavailable />
          </Match>
          <Match when={true}>{props.children}</Match>
        </Switch>
      </main>
    </>
  );
}

function Unavailable() {
  const error = () => {
    const s = sessionState();
    return s.status === "unavailable" ? s.error : undefined;
  };
  return (
    <section class="card narrow">
      <h1>Atrium is not reachable</h1>
      <ErrorAlert error={error()} />
      <button type="button" class="button button-primary" onClick={() => void loadSession()}>
        Try again
      </button>
    </section>
  );
}

function Header() {
  const navigate = useNavigate();
  const [signingOut, setSigningOut] = createSignal(false);
  const user = currentUser;

  async function onSignOut() {
    setSigningOut(true);
    try {
      await signOut();
    } catch {
      // The local session is cleared either way; the server side expires on its own.
    } finally {
      setSigningOut(false);
      navigate("/login", { replace: true });
    }
  }

  return (
    <header class="site-header">
      <div class="site-header-inner">
        <A href="/teams" class="brand" aria-label="Atrium home">
          <img src="/favicon.svg" alt="" width="24" height="24" />
          <span>Atrium</span>
        </A>
        <nav aria-label="Main" class="main-nav">
          <ul>
            <Show when={user() && !user()?.mustChangePassword}>
              <li>
                <A href="/teams" activeClass="active">
                  Teams
                </A>
              </li>
              <li>
                <A href="/desktops" activeClass="active">
                  Desktops
                </A>
              </li>
              <li>
                <A href="/settings" activeClass="active">
                  Settings
                </A>
              </li>
              <Show when={user()?.isAdmin}>
                <li>
                  <A href="/admin" activeClass="active">
                    Admin
                  </A>
                </li>
              </Show>
            </Show>
            <li>
              <a href="/api/docs" rel="external">
                API docs
              </a>
            </li>
          </ul>
        </nav>
        <div class="user-menu">
          <Show when={user()}>
            {(u) => (
              <>
                <span class="user-chip" data-testid="current-user">
                  <Avatar id={u().id} name={u().displayName || u().username} size="small" />
                  <span>
                    <span class="user-name">{u().displayName}</span> <span class="muted">@{u().username}</span>
                  </span>
                </span>
                <Show when={authEnabled()}>
                  <Show when={!u().mustChangePassword}>
                    <A href="/account/password" class="button button-quiet">
                      Password
                    </A>
                  </Show>
                  <button type="button" class="button" onClick={onSignOut} disabled={signingOut()}>
                    Sign out
                  </button>
                </Show>
              </>
            )}
          </Show>
          <Show when={!user() && authEnabled() && sessionState().status === "signed-out"}>
            <A href="/login" class="button button-quiet">
              Sign in
            </A>
            <A href="/register" class="button">
              Create account
            </A>
          </Show>
        </div>
      </div>
    </header>
  );
}
