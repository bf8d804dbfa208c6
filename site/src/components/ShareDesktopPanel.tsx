/**
 * The owner's share links for one desktop: make a view-only link for the people in the owner's
 * teams now (its token is shown once, in the link's fragment so it never reaches a server log),
 * see who each link is for, copy it, and revoke links already handed out (their viewers are
 * disconnected). People who join a team later are not on an existing link.
 */
import { createResource, createSignal, For, Show } from "solid-js";
import { createDesktopShare, listDesktopShares, revokeDesktopShare } from "../api/desktops-api.ts";
import { createAction } from "../lib/action.ts";
import { formatDateTime } from "../lib/format.ts";
import { CopyButton } from "./CopyButton.tsx";
import { ErrorAlert } from "./ErrorAlert.tsx";

/** "Ann, Bob and 3 more" ("no one" for links made before recipients were recorded). */
function recipientNames(recipients: { displayName: string }[]): string {
  if (recipients.length === 0) return "no one";
  const shown = recipients.slice(0, 3).map((r) => r.displayName);
  const more = recipients.length - shown.length;
  return more > 0 ? `${shown.join(", ")} and ${more} more` : shown.join(", ");
}

export function ShareDesktopPanel(props: { sessionId: string }) {
  const [shares, { refetch }] = createResource(() => props.sessionId, listDesktopShares);
  const [link, setLink] = createSignal<string>();
  const { busy, error, setError, run } = createAction();

  async function share() {
    await run(async () => {
      const created = await createDesktopShare(props.sessionId);
      // Same origin as this page, whatever origin the API believes it has.
      setLink(`${window.location.origin}/desktops/shared#token=${encodeURIComponent(created.token)}`);
      void refetch();
    });
  }

  async function revoke(shareId: string) {
    setError(undefined);
    try {
      await revokeDesktopShare(props.sessionId, shareId);
      void refetch();
    } catch (e: unknown) {
      setError(e);
    }
  }

  const active = () => (shares.latest ?? []).filter((s) => !s.revokedAt && new Date(s.expiresAt).getTime() > Date.now());

  return (
    <section class="viewer-panel" aria-labelledby="share-heading">
      <h2 id="share-heading">Share</h2>
      <p class="muted small">
        A view-only link for the people in your teams now, valid for 24 hours. People who join your teams later need a new link.
      </p>
      <button type="button" class="button button-small" disabled={busy()} onClick={() => void share()}>
        Create share link
      </button>
      <ErrorAlert error={error()} />
      <Show when={link()}>
        {(l) => (
          <div class="secret-box" data-testid="share-link">
            <input type="text" readOnly value={l()} aria-label="Share link" onFocus={(e) => e.currentTarget.select()} />
            <CopyButton text={l()} label="Copy link" />
          </div>
        )}
      </Show>
      <Show when={active().length > 0}>
        <ul class="inline-list share-list">
          <For each={active()}>
            {(s) => (
              <li>
                <span class="muted small">
                  Link from {formatDateTime(s.createdAt)}, until {formatDateTime(s.expiresAt)}, for {recipientNames(s.recipients)}
                </span>{" "}
                <button type="button" class="button button-small button-danger-quiet" onClick={() => void revoke(s.id)}>
                  Revoke
                </button>
              </li>
            )}
          </For>
        </ul>
      </Show>
    </section>
  );
}
