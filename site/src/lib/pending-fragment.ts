/**
 * A URL fragment that must survive the detour through the login page. Fragments carry secrets
 * that must never reach a server (a share link's `#token=…`), so they are not put into the
 * login page's `?next=` (which the server sees) but kept in this tab's sessionStorage, for the
 * path they belong to, and taken back once by the page that needs them.
 */
const KEY = "atrium.pendingFragment";

/** Before sending a visitor to sign in: remember `hash` for `path` (nothing when there is none). */
export function rememberFragment(path: string, hash: string): void {
  if (!hash || hash === "#") return;
  try {
    sessionStorage.setItem(KEY, JSON.stringify({ path, hash }));
  } catch {
    // Storage disabled: the visitor opens the link again after signing in.
  }
}

/**
 * The fragment of the current URL, or the one remembered for this path. It stays remembered
 * (pages may be created more than once while the session settles) until `forgetFragment()`.
 */
export function currentFragment(path: string): string {
  if (window.location.pathname === path && window.location.hash) return window.location.hash;
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as { path?: unknown; hash?: unknown } | null;
    return saved && saved.path === path && typeof saved.hash === "string" ? saved.hash : "";
  } catch {
    return "";
  }
}

/** Drops the remembered fragment once the page that needed it has used it. */
export function forgetFragment(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Storage disabled: nothing was kept.
  }
}
