/**
 * Who is signed in, as reactive state for the whole site: the server's auth config, the
 * current user, and the actions that change them (sign in, register, change password, sign
 * out). The HTTP layer reports sessions it finds ended or refreshed through `installSessionHooks`.
 */
import { createSignal } from "solid-js";
import * as authApi from "../api/auth-api.ts";
import { CSRF_COOKIE, isApiError, readCookie, refreshSession, setSessionHooks } from "../api/http.ts";
import type { AuthConfig, LoginInput, PasswordChangeInput, RegisterInput, Session, User } from "../api/types.ts";

export type SessionState =
  | { status: "loading" }
  /** the API could not be reached or answered with an error while starting up */
  | { status: "unavailable"; error: unknown }
  | { status: "signed-out" }
  | { status: "signed-in"; user: User };

const [state, setState] = createSignal<SessionState>({ status: "loading" });
const [config, setConfig] = createSignal<AuthConfig>();

export { state as sessionState };

/** The signed-in user, or undefined. */
export function currentUser(): User | undefined {
  const s = state();
  return s.status === "signed-in" ? s.user : undefined;
}

/** False in single-user local mode (AUTH_ENABLED=false): no accounts, no sign-in pages. */
export function authEnabled(): boolean {
  return config()?.authEnabled ?? true;
}

function acceptSession(session: Session): User {
  setState({ status: "signed-in", user: session.user });
  return session.user;
}

export function installSessionHooks(): void {
  setSessionHooks({
    onSessionEnded() {
      if (state().status === "signed-in") setState({ status: "signed-out" });
    },
    onPasswordChangeRequired() {
      const s = state();
      if (s.status === "signed-in" && !s.user.mustChangePassword) {
        setState({ status: "signed-in", user: { ...s.user, mustChangePassword: true } });
      }
    },
    onRefreshed(session) {
      if (state().status !== "signed-out") acceptSession(session);
    },
  });
}

/** Loads the auth config and the current user; call once at start-up (and to retry). */
export async function loadSession(): Promise<void> {
  setState({ status: "loading" });
  try {
    const cfg = await authApi.fetchAuthConfig();
    setConfig(cfg);
    // Without the CSRF cookie there is no cookie session to resume: skip the certain 401.
    if (cfg.authEnabled && readCookie(CSRF_COOKIE) === undefined) {
      setState({ status: "signed-out" });
      return;
    }
    setState({ status: "signed-in", user: await authApi.fetchMe() });
  } catch (e: unknown) {
    if (isApiError(e) && e.status === 401) {
      setState({ status: "signed-out" });
    } else if (isApiError(e, "PASSWORD_CHANGE_REQUIRED")) {
      // /auth/me refuses users who must change their password; a refresh still returns the user.
      await recoverUserForPasswordChange();
    } else {
      setState({ status: "unavailable", error: e });
    }
  }
}

async function recoverUserForPasswordChange(): Promise<void> {
  try {
    if (await refreshSession()) {
      if (state().status === "signed-in") return;
    }
  } catch {
    // fall through: sign in again
  }
  setState({ status: "signed-out" });
}

export async function signIn(input: LoginInput): Promise<User> {
  return acceptSession(await authApi.login(input));
}

export async function registerAccount(input: RegisterInput): Promise<User> {
  return acceptSession(await authApi.register(input));
}

export async function changePassword(input: PasswordChangeInput): Promise<User> {
  return acceptSession(await authApi.changePassword(input));
}

/** Ends the session on the server (best effort) and locally. */
export async function signOut(): Promise<void> {
  try {
    await authApi.logout();
  } finally {
    setState({ status: "signed-out" });
  }
}

/** Updates the signed-in user after the API returned a newer copy of them. */
export function updateCurrentUser(user: User): void {
  if (currentUser()?.id === user.id) setState({ status: "signed-in", user });
}
