/**
 * The sockets of one desktop session and the byte relay between them (see protocol.ts): viewer
 * sockets, the bridge's primary control socket and one bridge data socket per viewer. Each
 * viewer's bytes go through its RFB filter (input from anyone but the controlling viewer is
 * dropped); the desktop's bytes go to the viewer as they are, with pause / resume sent to the
 * bridge when the viewer falls behind on its acks (protocol.ts, "Flow control"). Uses the hibernation API: everything a socket needs after
 * the object was evicted lives in its attachment, and the maps below are rebuilt from them.
 */
import { errorBody } from "../../worker/lib/errors.ts";
import {
  backpressure,
  type DataHubFrame,
  type DesktopSocketErrorCode,
  type DesktopState,
  PRIMARY_CONN,
  PrimaryBridgeFrameSchema,
  type PrimaryHubFrame,
  ViewerClientFrameSchema,
  type ViewerServerFrame,
} from "./protocol.ts";
import { closeQuietly, replyCloseCode, safeJson, sendJson, sendText } from "../lib/sockets.ts";
import { initialRfbState, RfbClientStream, type RfbClientState } from "./rfb-client-stream.ts";
import type { TicketGrant } from "./ticket-store.ts";

interface ViewerAttachment {
  kind: "viewer";
  connId: string;
  userId: string;
  viewOnly: boolean;
  shareId: string | null;
  connectedAt: number;
  /** paired with its data socket: RFB bytes flow */
  streaming: boolean;
  rfb: RfbClientState;
}
interface DataAttachment {
  kind: "data";
  connId: string;
  paused: boolean;
}
interface PrimaryAttachment {
  kind: "primary";
}
type Attachment = ViewerAttachment | DataAttachment | PrimaryAttachment;

interface Viewer {
  ws: WebSocket;
  att: ViewerAttachment;
  rfb: RfbClientStream;
  checkpoint: string;
  /** bytes that arrived before the data socket (RFB clients wait for the server, so rarely any) */
  queued: Uint8Array[];
  queuedBytes: number;
  /** bytes sent to the viewer and not yet acknowledged (in memory: after an eviction it starts again at 0) */
  unacked: number;
  /** restored after an eviction: its first ack may cover bytes this instance never counted */
  restored: boolean;
}

export interface RelayHooks {
  state(): { state: DesktopState; detail: string | null };
  /** the controlling viewer sent real input (key, pointer) */
  onInput(now: number): void;
  /** someone opened a hibernated desktop: wake it */
  onViewerOfHibernated(): void;
}

const MAX_QUEUED_BYTES = 256 * 1024;
const CONTROLLER_KEY = "controller";

export class DesktopRelay {
  readonly #ctx: DurableObjectState;
  readonly #hooks: RelayHooks;
  readonly #viewers = new Map<string, Viewer>();
  readonly #data = new Map<string, WebSocket>();
  readonly #index = new WeakMap<WebSocket, Attachment>();
  #primary: WebSocket | undefined;
  #controller: string | null;

  constructor(ctx: DurableObjectState, hooks: RelayHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
    for (const ws of ctx.getWebSockets()) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      const att = ws.deserializeAttachment() as Attachment | null;
      if (att) this.#register(ws, att, true);
    }
    const stored = ctx.storage.kv.get<string>(CONTROLLER_KEY) ?? null;
    this.#controller = stored && this.#viewers.has(stored) ? stored : null;
    // What the viewers had not acknowledged was lost with the old instance: start the count
    // again from zero, which a paused data socket would wait for in vain.
    for (const ws of this.#data.values()) {
      const att = this.#attachment(ws);
      if (att?.kind === "data" && att.paused) this.#setPaused(ws, att, false);
    }
  }

  /** `restored`: the socket outlived an earlier instance of this object (rebuilt from its attachment). */
  #register(ws: WebSocket, att: Attachment, restored = false): void {
    this.#index.set(ws, att);
    switch (att.kind) {
      case "viewer": {
        const rfb = new RfbClientStream(att.rfb);
        this.#viewers.set(att.connId, { ws, att, rfb, checkpoint: rfb.checkpointKey(), queued: [], queuedBytes: 0, unacked: 0, restored });
        break;
      }
      case "data":
        this.#data.set(att.connId, ws);
        break;
      case "primary":
        this.#primary = ws;
        break;
    }
  }

  #attachment(ws: WebSocket): Attachment | undefined {
    let att = this.#index.get(ws);
    if (!att) {
      att = (ws.deserializeAttachment() as Attachment | null) ?? undefined;
      if (!att) return undefined;
      // Only an open socket takes its place in the maps: one that was already closing when the
      // object was re-created (the constructor skips those) must not displace its live successor.
      if (ws.readyState === WebSocket.OPEN) this.#register(ws, att, true);
      else this.#index.set(ws, att);
    }
    return att;
  }

  // ── accepting sockets ────────────────────────────────────────────────────────────────────

  acceptViewer(grant: TicketGrant): Response {
    const connId = crypto.randomUUID();
    const pair = new WebSocketPair();
    const ws = pair[1];
    // The attachment (with the share link it came through) is on the socket before the socket is
    // anywhere else: whatever finds it (closeShare, a later instance) knows where it came from.
    const att: ViewerAttachment = { kind: "viewer", ...grant, connId, connectedAt: Date.now(), streaming: false, rfb: initialRfbState() };
    ws.serializeAttachment(att);
    this.#ctx.acceptWebSocket(ws, ["viewer"]);
    this.#register(ws, att);
    const { state, detail } = this.#hooks.state();
    send(ws, { type: "state", state, detail });
    if (!grant.viewOnly && !this.#controller) this.#setController(connId);
    else send(ws, this.#roleOf(att));
    if (state === "running") this.#requestOpen(connId);
    else if (state === "hibernated" && grant.wake) this.#hooks.onViewerOfHibernated();
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /** The bridge's primary socket (`conn=primary`) or the data socket of one viewer. */
  acceptBridge(conn: string): Response {
    if (conn !== PRIMARY_CONN && !this.#viewers.has(conn)) {
      return Response.json(errorBody("NOT_FOUND", "No viewer waits for that connection (it may have left)."), { status: 404 });
    }
    const pair = new WebSocketPair();
    const ws = pair[1];
    if (conn === PRIMARY_CONN) {
      if (this.#primary) this.#close(this.#primary, 4000, "Replaced by a newer primary connection.");
      this.#ctx.acceptWebSocket(ws, ["primary"]);
      const att: PrimaryAttachment = { kind: "primary" };
      ws.serializeAttachment(att);
      this.#register(ws, att);
      if (this.#hooks.state().state === "running")
        for (const v of this.#viewers.values()) if (!v.att.streaming) this.#requestOpen(v.att.connId);
    } else {
      // One RFB connection per viewer: a second data socket for a viewer that already streams
      // would splice a fresh handshake into its stream.
      if (this.#data.has(conn)) {
        return Response.json(errorBody("INVALID_STATE", "That viewer already has its desktop connection."), { status: 409 });
      }
      this.#ctx.acceptWebSocket(ws, ["data"]);
      const att: DataAttachment = { kind: "data", connId: conn, paused: false };
      ws.serializeAttachment(att);
      this.#register(ws, att);
      const viewer = this.#viewers.get(conn);
      if (viewer) {
        viewer.att.streaming = true;
        viewer.ws.serializeAttachment(viewer.att);
        send(viewer.ws, { type: "ready" });
        for (const chunk of viewer.queued) ws.send(chunk);
        viewer.queued = [];
        viewer.queuedBytes = 0;
      }
    }
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  // ── frames ───────────────────────────────────────────────────────────────────────────────

  message(ws: WebSocket, message: string | ArrayBuffer): void {
    const att = this.#attachment(ws);
    if (!att) return;
    switch (att.kind) {
      case "viewer": {
        const viewer = this.#viewers.get(att.connId);
        if (!viewer) return;
        if (typeof message === "string") this.#onViewerText(viewer, message);
        else this.#onViewerBytes(viewer, new Uint8Array(message));
        return;
      }
      case "data": {
        // Text on a data socket would be a bridge bug; the data plane is binary.
        if (typeof message === "string") return;
        const viewer = this.#viewers.get(att.connId);
        if (!viewer) return;
        // RFB 3.3's security type comes from the server: the filter must see it before the viewer does.
        if (viewer.rfb.pushServer(new Uint8Array(message))) this.#checkpoint(viewer);
        try {
          viewer.ws.send(message);
        } catch {
          return;
        }
        viewer.unacked += message.byteLength;
        if (backpressure(viewer.unacked, att.paused) === "pause") this.#setPaused(ws, att, true);
        return;
      }
      case "primary":
        if (typeof message === "string") this.#onPrimaryText(ws, message);
        return;
    }
  }

  #onViewerBytes(viewer: Viewer, bytes: Uint8Array): void {
    const filtered = viewer.att.viewOnly || this.#controller !== viewer.att.connId;
    const result = viewer.rfb.push(bytes, filtered);
    if (result.error) {
      send(viewer.ws, { type: "error", code: "RFB_UNSUPPORTED", message: result.error });
      this.#close(viewer.ws, 1008, "RFB stream not supported for this viewer.");
      return;
    }
    if (result.inputs > 0 && !filtered) this.#hooks.onInput(Date.now());
    this.#checkpoint(viewer);
    if (result.forward.length === 0) return;
    const data = this.#data.get(viewer.att.connId);
    if (data) {
      try {
        data.send(result.forward);
      } catch {
        // Closing: its close handler ends the viewer too.
      }
      return;
    }
    viewer.queuedBytes += result.forward.length;
    if (viewer.queuedBytes > MAX_QUEUED_BYTES) {
      this.#close(viewer.ws, 1008, "Too much data before the desktop connected.");
      return;
    }
    viewer.queued.push(result.forward.slice());
  }

  /** Persists the viewer's RFB filter state when it changed in a way worth keeping across hibernation. */
  #checkpoint(viewer: Viewer): void {
    const key = viewer.rfb.checkpointKey();
    if (key === viewer.checkpoint) return;
    viewer.checkpoint = key;
    viewer.att.rfb = viewer.rfb.snapshot();
    viewer.ws.serializeAttachment(viewer.att);
  }

  #onViewerText(viewer: Viewer, text: string): void {
    const parsed = ViewerClientFrameSchema.safeParse(safeJson(text));
    if (!parsed.success) {
      send(viewer.ws, { type: "error", code: "BAD_FRAME", message: "Text frames must be JSON control frames (ping, take_control, ack)." });
      return;
    }
    switch (parsed.data.type) {
      case "ping":
        send(viewer.ws, { type: "pong" });
        return;
      case "take_control":
        if (viewer.att.viewOnly) send(viewer.ws, { type: "error", code: "FORBIDDEN", message: "This viewer is view-only." });
        else this.#setController(viewer.att.connId);
        return;
      case "ack": {
        // Acks steer how much the DO buffers: one for bytes never sent is a broken or hostile
        // client (unless this instance is new and never counted what the viewer got before).
        if (parsed.data.bytes > viewer.unacked && !viewer.restored) {
          send(viewer.ws, { type: "error", code: "BAD_FRAME", message: "That ack covers more bytes than were sent." });
          this.#close(viewer.ws, 1008, "Acknowledged bytes that were never sent.");
          return;
        }
        viewer.restored = false;
        viewer.unacked = Math.max(0, viewer.unacked - parsed.data.bytes);
        const data = this.#data.get(viewer.att.connId);
        const att = data ? this.#attachment(data) : undefined;
        if (data && att?.kind === "data" && backpressure(viewer.unacked, att.paused) === "resume") this.#setPaused(data, att, false);
        return;
      }
    }
  }

  #onPrimaryText(ws: WebSocket, text: string): void {
    const parsed = PrimaryBridgeFrameSchema.safeParse(safeJson(text));
    if (!parsed.success) return;
    if (parsed.data.type === "ping") {
      sendText(ws, JSON.stringify({ type: "pong" }));
      return;
    }
    const viewer = this.#viewers.get(parsed.data.connId);
    if (viewer) {
      send(viewer.ws, {
        type: "error",
        code: "DESKTOP_UNREACHABLE",
        message: parsed.data.message || "The bridge could not reach the desktop.",
      });
      this.#close(viewer.ws, 1011, "The desktop is unreachable.");
    }
  }

  // ── closing ──────────────────────────────────────────────────────────────────────────────

  /** A socket closed or failed (from the peer's side or ours). */
  closed(ws: WebSocket, code: number): void {
    const att = this.#attachment(ws);
    closeQuietly(ws, replyCloseCode(code), "closed");
    if (att) this.#forget(ws, att);
  }

  #close(ws: WebSocket, code: number, reason: string): void {
    closeQuietly(ws, code, reason);
    const att = this.#attachment(ws);
    if (att) this.#forget(ws, att);
  }

  #forget(ws: WebSocket, att: Attachment): void {
    switch (att.kind) {
      case "viewer": {
        if (this.#viewers.get(att.connId)?.ws !== ws) return;
        this.#viewers.delete(att.connId);
        // One RFB connection per viewer: it ends with the viewer.
        const data = this.#data.get(att.connId);
        if (data) this.#close(data, 1000, "The viewer left.");
        else if (!att.streaming && this.#primary)
          sendText(this.#primary, JSON.stringify({ type: "close", connId: att.connId } satisfies PrimaryHubFrame));
        if (this.#controller === att.connId) this.#setController(this.#nextController());
        return;
      }
      case "data": {
        if (this.#data.get(att.connId) !== ws) return;
        this.#data.delete(att.connId);
        const viewer = this.#viewers.get(att.connId);
        if (viewer?.att.streaming) {
          const running = this.#hooks.state().state === "running";
          this.#close(
            viewer.ws,
            running ? 1011 : 1001,
            running ? "The desktop connection closed." : `The desktop is ${this.#hooks.state().state}.`,
          );
        }
        return;
      }
      case "primary":
        if (this.#primary === ws) this.#primary = undefined;
        return;
    }
  }

  // ── session state ────────────────────────────────────────────────────────────────────────

  /** The session moved to `state`: tell every viewer; pair waiting viewers once it runs; end streams when it stops running. */
  onState(state: DesktopState, detail: string | null): void {
    for (const v of [...this.#viewers.values()]) send(v.ws, { type: "state", state, detail });
    if (state === "running") {
      for (const v of this.#viewers.values()) if (!v.att.streaming) this.#requestOpen(v.att.connId);
      return;
    }
    // The RFB connections end with the desktop's process; a viewer that comes back wakes it.
    for (const v of [...this.#viewers.values()]) if (v.att.streaming) this.#close(v.ws, 1001, `The desktop is ${state}.`);
    for (const ws of [...this.#data.values()]) this.#close(ws, 1000, `The desktop is ${state}.`);
    if (state === "hibernated" || state === "stopped" || state === "failed") {
      if (this.#primary) this.#close(this.#primary, 1000, `The desktop is ${state}.`);
    }
    if (state === "stopped" || state === "failed") {
      for (const v of [...this.#viewers.values()]) {
        send(v.ws, { type: "error", code: "DESKTOP_STOPPED", message: `The desktop is ${state}.` });
        this.#close(v.ws, 1000, `The desktop is ${state}.`);
      }
    }
  }

  /** Tells the viewers waiting for a wake that it did not happen. */
  wakeFailed(code: string, message: string): void {
    for (const v of [...this.#viewers.values()]) {
      if (v.att.streaming) continue;
      send(v.ws, { type: "error", code: "WAKE_FAILED", message: `${code}: ${message}` });
      this.#close(v.ws, 1011, "The desktop could not wake.");
    }
  }

  /**
   * Ends the viewers that came through a revoked share link. The sockets' own attachments are
   * the record, not the map of paired viewers: every viewer socket the object holds is checked.
   */
  closeShare(shareId: string): number {
    const sockets = new Set<WebSocket>([...this.#ctx.getWebSockets("viewer"), ...[...this.#viewers.values()].map((v) => v.ws)]);
    let n = 0;
    for (const ws of sockets) {
      const att = this.#attachment(ws);
      if (att?.kind !== "viewer" || att.shareId !== shareId) continue;
      send(ws, { type: "error", code: "FORBIDDEN", message: "The share link was revoked." });
      this.#close(ws, 1008, "Share revoked.");
      n += 1;
    }
    return n;
  }

  /** Ends a user's viewers (all of them, or only those that came through share links). */
  closeUser(userId: string, sharedOnly: boolean, reason: string): number {
    let n = 0;
    for (const v of [...this.#viewers.values()]) {
      if (v.att.userId !== userId || (sharedOnly && v.att.shareId === null)) continue;
      send(v.ws, { type: "error", code: "ACCESS_REVOKED", message: reason });
      this.#close(v.ws, 1008, reason.slice(0, 120));
      n += 1;
    }
    return n;
  }

  closeAll(reason: string): void {
    for (const ws of this.#ctx.getWebSockets()) this.#close(ws, 1000, reason);
  }

  viewerCount(): number {
    return this.#viewers.size;
  }

  // ── roles and pairing ────────────────────────────────────────────────────────────────────

  #requestOpen(connId: string): void {
    if (this.#primary) sendText(this.#primary, JSON.stringify({ type: "open", connId } satisfies PrimaryHubFrame));
  }

  /** The longest-connected viewer that may control, when the controller leaves. */
  #nextController(): string | null {
    let best: ViewerAttachment | undefined;
    for (const v of this.#viewers.values()) if (!v.att.viewOnly && (!best || v.att.connectedAt < best.connectedAt)) best = v.att;
    return best?.connId ?? null;
  }

  #setController(connId: string | null): void {
    this.#controller = connId;
    if (connId) this.#ctx.storage.kv.put(CONTROLLER_KEY, connId);
    else this.#ctx.storage.kv.delete(CONTROLLER_KEY);
    for (const v of this.#viewers.values()) send(v.ws, this.#roleOf(v.att));
  }

  #roleOf(att: ViewerAttachment): ViewerServerFrame {
    return { type: "role", control: this.#controller === att.connId, viewOnly: att.viewOnly };
  }

  // ── backpressure ─────────────────────────────────────────────────────────────────────────

  #setPaused(ws: WebSocket, att: DataAttachment, paused: boolean): void {
    sendText(ws, JSON.stringify({ type: paused ? "pause" : "resume" } satisfies DataHubFrame));
    att.paused = paused;
    ws.serializeAttachment(att);
  }
}

function send(ws: WebSocket, frame: ViewerServerFrame | { type: "error"; code: DesktopSocketErrorCode; message: string }): void {
  sendJson(ws, frame);
}
