/**
 * A desktop on screen: noVNC (loaded with a dynamic import, so its code is fetched only when a
 * viewer opens) attached to the desktop socket's RFB channel (lib/desktop-channel.ts). While the
 * desktop is not streaming it shows its progress ("Starting…", "Waking…"); once it streams it
 * offers take-control, clipboard, scaling / remote resize and full screen; owners can also make
 * a view-only share link. Stable test ids: desktop-screen, view-only-badge, viewer-state.
 */
import type RFB from "@novnc/novnc";
import { createEffect, createSignal, type JSX, onCleanup, onMount, Show } from "solid-js";
import type { DesktopState } from "../api/desktop-types.ts";
import { actOnDesktop } from "../api/desktops-api.ts";
import { isApiError } from "../api/http.ts";
import {
  connectDesktopViewer,
  type DesktopViewerConnection,
  type ViewerEnd,
  type ViewerRole,
  type ViewerStatus,
} from "../lib/desktop-channel.ts";
import { describeDesktopError, PROGRESS_TEXT, STATE_LABELS } from "../lib/desktop-labels.ts";
import { ShareDesktopPanel } from "./ShareDesktopPanel.tsx";

export interface DesktopViewerProps {
  sessionId: string;
  /** a fresh ticket for every connection */
  /** see DesktopViewerOptions.fetchTicket */
  fetchTicket(reconnect: boolean): Promise<{ wsPath: string }>;
  /** the owner's own viewer: share links and waking a hibernated desktop */
  owner: boolean;
  /** extra controls for the toolbar's start (e.g. a back link) */
  children?: JSX.Element;
}

function socketUrl(path: string): string {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

export function DesktopViewer(props: DesktopViewerProps) {
  const [status, setStatus] = createSignal<ViewerStatus>("connecting");
  const [desktop, setDesktop] = createSignal<{ state: DesktopState; detail: string | null }>();
  const [role, setRole] = createSignal<ViewerRole>();
  const [ended, setEnded] = createSignal<ViewerEnd>();
  const [notice, setNotice] = createSignal<string>();
  const [connected, setConnected] = createSignal(false);
  const [needsPassword, setNeedsPassword] = createSignal(false);
  const [remoteClipboard, setRemoteClipboard] = createSignal("");
  const [scale, setScale] = createSignal(true);
  const [resize, setResize] = createSignal(false);
  const [waking, setWaking] = createSignal(false);
  let screen!: HTMLDivElement;
  let frame!: HTMLDivElement;
  let clipboardInput!: HTMLTextAreaElement;
  let rfb: RFB | undefined;
  let connection: DesktopViewerConnection | undefined;
  let disposed = false;

  onMount(async () => {
    let RfbClient: typeof RFB;
    try {
      RfbClient = (await import("@novnc/novnc")).default;
    } catch {
      setEnded({ message: "Could not load the desktop viewer. Reload the page to try again.", code: undefined });
      return;
    }
    if (disposed) return;
    connection = connectDesktopViewer({
      fetchTicket: props.fetchTicket,
      openSocket: (path) => new WebSocket(socketUrl(path)),
      onStatus: (s) => {
        setStatus(s);
        if (s !== "streaming") setConnected(false);
      },
      onState: (state, detail) => setDesktop({ state, detail }),
      onRole: setRole,
      onServerError: (_code, message) => setNotice(message),
      onEnded: setEnded,
      retryTicket: (e) => isApiError(e, "NETWORK_ERROR") || (isApiError(e) && (e.status >= 500 || e.status === 429)),
      describeTicketError: (e) => ({ message: describeDesktopError(e), code: isApiError(e) ? e.code : undefined }),
      onStream(channel) {
        screen.replaceChildren();
        const client = new RfbClient(screen, channel, { shared: true });
        client.scaleViewport = scale();
        client.resizeSession = resize();
        client.viewOnly = !role()?.control;
        client.background = "transparent";
        client.addEventListener("connect", () => {
          if (rfb === client) setConnected(true);
        });
        client.addEventListener("disconnect", () => {
          if (rfb === client) setConnected(false);
        });
        client.addEventListener("credentialsrequired", () => setNeedsPassword(true));
        client.addEventListener("securityfailure", (e) =>
          setNotice(`The desktop refused the connection: ${e.detail.reason ?? "security failure"}.`),
        );
        client.addEventListener("clipboard", (e) => setRemoteClipboard(e.detail.text));
        rfb = client;
      },
    });
  });

  onCleanup(() => {
    disposed = true;
    connection?.close();
    rfb = undefined;
  });

  createEffect(() => {
    const control = role()?.control ?? false;
    if (rfb) rfb.viewOnly = !control;
  });
  createEffect(() => {
    const s = scale();
    if (rfb) rfb.scaleViewport = s;
  });
  createEffect(() => {
    const r = resize();
    if (rfb) rfb.resizeSession = r;
  });

  const live = () => status() === "streaming" && connected();
  const viewOnly = () => role()?.viewOnly ?? false;
  const canTakeControl = () => live() && role() !== undefined && !role()?.viewOnly && !role()?.control;

  const stateLabel = () => {
    if (ended()) return "Disconnected";
    switch (status()) {
      case "connecting":
        return "Connecting…";
      case "reconnecting":
        return "Reconnecting…";
      case "streaming":
        return connected() ? "Connected" : "Opening the screen…";
      case "waiting": {
        const d = desktop();
        return d ? STATE_LABELS[d.state] : "Connected";
      }
      case "closed":
        return "Disconnected";
    }
  };

  const progressText = () => {
    const d = desktop();
    if (status() === "reconnecting") return "The connection dropped. Reconnecting…";
    if (d && PROGRESS_TEXT[d.state]) return PROGRESS_TEXT[d.state];
    if (d?.state === "running") return "Opening the screen…";
    return "Connecting to the desktop…";
  };

  async function wake() {
    setWaking(true);
    setNotice(undefined);
    try {
      const session = await actOnDesktop(props.sessionId, "wake");
      setDesktop({ state: session.state, detail: session.stateDetail });
    } catch (e: unknown) {
      setNotice(describeDesktopError(e));
    } finally {
      setWaking(false);
    }
  }

  function toggleFullScreen() {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void frame.requestFullscreen().catch(() => setNotice("Full screen is not available here."));
  }

  function onPassword(event: SubmitEvent) {
    event.preventDefault();
    const password = String(new FormData(event.currentTarget as HTMLFormElement).get("vnc-password") ?? "");
    rfb?.sendCredentials({ password });
    setNeedsPassword(false);
  }

  return (
    <div class="desktop-viewer">
      <div class="viewer-toolbar" role="toolbar" aria-label="Desktop viewer">
        {props.children}
        <span class="badge viewer-state" role="status" data-testid="viewer-state" data-status={status()} data-state={desktop()?.state}>
          {stateLabel()}
        </span>
        <Show when={viewOnly()}>
          <span class="badge badge-view-only" data-testid="view-only-badge">
            View only
          </span>
        </Show>
        <Show when={role() && !viewOnly() && !role()?.control && live()}>
          <span class="badge">Someone else has control</span>
        </Show>
        <Show when={canTakeControl()}>
          <button type="button" class="button button-small" onClick={() => connection?.takeControl()}>
            Take control
          </button>
        </Show>
        <span class="viewer-toolbar-gap" />
        <label class="check">
          <input type="checkbox" checked={scale()} onChange={(e) => setScale(e.currentTarget.checked)} /> Scale to window
        </label>
        <Show when={!viewOnly()}>
          <label class="check">
            <input type="checkbox" checked={resize()} onChange={(e) => setResize(e.currentTarget.checked)} /> Resize desktop to window
          </label>
        </Show>
        <button type="button" class="button button-small" onClick={toggleFullScreen}>
          Full screen
        </button>
      </div>

      <Show when={notice()}>
        <p class="alert alert-error" role="alert">
          {notice()}
        </p>
      </Show>

      <div class="viewer-frame" ref={frame}>
        <div class="viewer-screen" ref={screen} data-testid="desktop-screen" data-connected={live() ? "true" : "false"} />
        <Show when={!live()}>
          <div class="viewer-overlay" data-testid="viewer-progress">
            <Show
              when={ended()}
              fallback={
                <>
                  <span class="spinner" aria-hidden="true" />
                  <p>{progressText()}</p>
                  <Show when={desktop()?.detail}>
                    <p class="muted small">{desktop()?.detail}</p>
                  </Show>
                  <Show when={props.owner && desktop()?.state === "hibernated"}>
                    <button type="button" class="button button-primary" disabled={waking()} onClick={() => void wake()}>
                      Wake it
                    </button>
                  </Show>
                </>
              }
            >
              {(end) => (
                <>
                  <p data-testid="viewer-ended">{end().message}</p>
                  <a class="button" href="/desktops">
                    Back to desktops
                  </a>
                </>
              )}
            </Show>
          </div>
        </Show>
        <Show when={needsPassword()}>
          <form class="viewer-overlay form" onSubmit={onPassword}>
            <label class="field">
              <span class="field-label">Desktop password</span>
              <input name="vnc-password" type="password" autocomplete="off" />
            </label>
            <button type="submit" class="button button-primary">
              Connect
            </button>
          </form>
        </Show>
      </div>

      <div class="viewer-panels">
        <section class="viewer-panel" aria-labelledby="clipboard-heading">
          <h2 id="clipboard-heading">Clipboard</h2>
          <Show when={remoteClipboard()}>
            <label class="field">
              <span class="field-label">Copied on the desktop</span>
              <textarea readOnly rows={2} value={remoteClipboard()} />
            </label>
          </Show>
          <Show when={!viewOnly()} fallback={<p class="muted small">View-only viewers cannot paste into the desktop.</p>}>
            <label class="field">
              <span class="field-label">Text to paste into the desktop</span>
              <textarea ref={clipboardInput} rows={2} />
            </label>
            <button
              type="button"
              class="button button-small"
              disabled={!live() || !role()?.control}
              onClick={() => rfb?.clipboardPasteFrom(clipboardInput.value)}
            >
              Send to desktop clipboard
            </button>
          </Show>
        </section>
        <Show when={props.owner}>
          <ShareDesktopPanel sessionId={props.sessionId} />
        </Show>
      </div>
    </div>
  );
}
