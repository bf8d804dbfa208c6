/**
 * RoomBase: the reusable shell of every room Durable Object (team presence, meetings; later
 * conversations). It accepts WebSockets the Worker has already authenticated, keeps each
 * socket's identity in its attachment (so it survives hibernation), logs events with a growing
 * `seq` in SQLite, replays what a client missed (`?since=`), broadcasts live events, publishes
 * who is in the room (`presence`, debounced), and checks every incoming frame against a zod
 * schema and the sender's role.
 */
import { DurableObject } from "cloudflare:workers";
import type { z } from "zod";
import { findMalformedText } from "../../worker/lib/well-formed-text.ts";
import { EventLog } from "./event-log.ts";
import { presenceBody, summarizePresence } from "./presence.ts";
import {
  ACCESS_REVOKED_CLOSE,
  type AccessChange,
  IDENTITY_HEADER,
  type PresenceEntry,
  ROOM_SUBPROTOCOL,
  type RoomErrorCode,
  type RoomIdentity,
  RoomIdentitySchema,
  type RoomRole,
} from "./protocol.ts";
import { loggableError } from "../../worker/lib/safe-log.ts";

export interface SocketAttachment {
  /** random id of this connection */
  id: string;
  identity: RoomIdentity;
  connectedAt: number;
}

export interface RoomOptions<Frame extends { type: string }> {
  /** schema of every frame a client may send (a discriminated union on `type`) */
  clientFrame: z.ZodType<Frame>;
  /** which roles may send which frame types */
  permissions: { [K in Frame["type"]]: readonly RoomRole[] };
  /** how many events the log keeps (0 = all) */
  maxEvents: number;
  /** what a client that connects without `since` gets replayed */
  replayWithoutSince: "all" | "none";
  /** largest accepted client frame in bytes */
  maxFrameBytes?: number;
  /**
   * For a client that connects without `since`: skip events of a type (key) older than the newest
   * event of another type (value) that makes them redundant — see EventLog.compacted. Reconnects
   * with `since` always get exactly the events they missed.
   */
  compactReplay?: Readonly<Record<string, string>>;
  /**
   * Also delete the events `compactReplay` skips from storage (every COMPACT_EVERY events), so the
   * log stays bounded: a reconnect with `since` then gets, instead of a finished turn's deltas, its
   * final message, and only the latest presence.
   */
  compactStored?: boolean;
}

/** How often (in appended events) a `compactStored` room compacts its log. */
const COMPACT_EVERY = 64;

/** Presence is published at most this often (see #presenceChanged). */
const PRESENCE_INTERVAL_MS = 500;
const PING = '{"type":"ping"}';
const PONG = '{"type":"pong"}';

export abstract class RoomBase<Frame extends { type: string }> extends DurableObject<Env> {
  protected readonly log: EventLog;
  readonly #options: RoomOptions<Frame>;
  #presenceTimer: ReturnType<typeof setTimeout> | undefined;
  /** when presence was last published (0: not since this instance started) */
  #presenceAt = 0;

  constructor(ctx: DurableObjectState, env: Env, options: RoomOptions<Frame>) {
    super(ctx, env);
    this.#options = options;
    this.log = new EventLog(ctx.storage.sql, options.maxEvents);
    // Keep-alive pings are answered without waking a hibernated room.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  /** Called for every valid frame the sender's role allows. */
  protected abstract onFrame(ws: WebSocket, frame: Frame, identity: RoomIdentity): void | Promise<void>;

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade", { status: 426 });
    }
    const parsed = RoomIdentitySchema.safeParse(safeJson(request.headers.get(IDENTITY_HEADER)));
    if (!parsed.success) return new Response("Missing identity", { status: 400 });
    const identity = parsed.data;
    const sinceParam = new URL(request.url).searchParams.get("since");
    const since = sinceParam === null ? null : Number(sinceParam);
    if (since !== null && (!Number.isSafeInteger(since) || since < 0)) {
      return new Response("since must be a non-negative integer", { status: 400 });
    }

    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [identity.userId]);
    const attachment: SocketAttachment = { id: crypto.randomUUID(), identity, connectedAt: Date.now() };
    server.serializeAttachment(attachment);

    if (since !== null) {
      for (const event of this.log.after(since)) server.send(event.frame);
    } else if (this.#options.replayWithoutSince === "all") {
      const events = this.#options.compactReplay ? this.log.compacted(this.#options.compactReplay) : this.log.after(0);
      for (const event of events) server.send(event.frame);
    }
    this.#presenceChanged();

    const offered =
      request.headers
        .get("Sec-WebSocket-Protocol")
        ?.split(",")
        .map((p) => p.trim()) ?? [];
    const headers = offered.includes(ROOM_SUBPROTOCOL) ? { "Sec-WebSocket-Protocol": ROOM_SUBPROTOCOL } : undefined;
    return new Response(null, { status: 101, webSocket: client, ...(headers && { headers }) });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const attachment = ws.deserializeAttachment() as SocketAttachment | null;
    if (!attachment) return;
    const limit = this.#options.maxFrameBytes ?? 16 * 1024;
    const size = typeof message === "string" ? message.length : message.byteLength;
    if (size > limit) return this.sendError(ws, "FRAME_TOO_LARGE", `Frames are limited to ${limit} bytes.`);
    if (typeof message !== "string") return this.sendError(ws, "BAD_FRAME", "Frames must be JSON text.");
    const json = safeJson(message);
    if (json === undefined) return this.sendError(ws, "BAD_FRAME", "Frames must be JSON objects.");
    if (isPing(json)) {
      ws.send(JSON.stringify({ type: "pong", seq: this.log.lastSeq() }));
      return;
    }
    // Checked for every frame of every room here, before any command sees it (see well-formed-text.ts).
    const malformed = findMalformedText(json);
    if (malformed) {
      const at = malformed.path.length ? `${malformed.path.join(".")}: ` : "";
      return this.sendError(ws, "VALIDATION_FAILED", `${at}${malformed.message}`);
    }
    const result = this.#options.clientFrame.safeParse(json);
    if (!result.success) {
      const type = typeof json === "object" && json !== null && "type" in json ? String(json.type) : undefined;
      const known = type !== undefined && type in this.#options.permissions;
      return this.sendError(
        ws,
        known ? "BAD_FRAME" : "UNKNOWN_COMMAND",
        known ? `Invalid '${type}' frame: ${result.error.issues[0]?.message ?? "bad shape"}` : `Unknown frame type '${type ?? ""}'.`,
      );
    }
    const frame = result.data;
    const allowed = (this.#options.permissions as Record<string, readonly RoomRole[]>)[frame.type] ?? [];
    if (!allowed.includes(attachment.identity.role)) {
      return this.sendError(ws, "FORBIDDEN", `A ${attachment.identity.role} may not send '${frame.type}'.`);
    }
    try {
      await this.onFrame(ws, frame, attachment.identity);
    } catch (e: unknown) {
      console.error("room frame handler failed", loggableError(e));
      this.sendError(ws, "INTERNAL", "Something went wrong handling that frame.");
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, _reason: string, _wasClean: boolean): Promise<void> {
    this.#dropSocket(ws, code === 1006 ? 1000 : code);
  }

  override async webSocketError(ws: WebSocket, _error: unknown): Promise<void> {
    this.#dropSocket(ws, 1011);
  }

  #dropSocket(ws: WebSocket, code: number): void {
    const attachment = ws.deserializeAttachment() as SocketAttachment | null;
    try {
      ws.close(code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000);
    } catch {
      // Already closed: a benign teardown race.
    }
    if (attachment) this.#presenceChanged();
  }

  /**
   * RPC from the Worker when a user's access changed: with a new `role` the user's sockets go on
   * under it at once (a demoted editor's next command is refused); without one they get an
   * ACCESS_REVOKED error frame and are closed with 1008. Returns how many of the user's sockets
   * were in the room, so the Worker can forget rooms the user has left.
   */
  changeAccess(change: AccessChange): number {
    let matched = 0;
    for (const ws of this.ctx.getWebSockets(change.userId)) {
      const attachment = ws.deserializeAttachment() as SocketAttachment | null;
      if (!attachment || attachment.identity.userId !== change.userId) continue;
      if (change.familyId !== undefined && attachment.identity.familyId !== change.familyId) continue;
      if (ws.readyState !== WebSocket.OPEN) continue;
      matched += 1;
      if (change.role) {
        ws.serializeAttachment({ ...attachment, identity: { ...attachment.identity, role: change.role } } satisfies SocketAttachment);
      } else {
        this.sendError(ws, "ACCESS_REVOKED", change.reason);
        try {
          ws.close(ACCESS_REVOKED_CLOSE, change.reason.slice(0, 120));
        } catch {
          // Already closed: a benign teardown race.
        }
      }
    }
    if (matched > 0) this.#presenceChanged();
    return matched;
  }

  /** Who is in the room now (RPC too: the API and tests read it). */
  viewers(): PresenceEntry[] {
    return summarizePresence(this.sockets().map((s) => s.attachment.identity));
  }

  /**
   * Presence changes are published at most every PRESENCE_INTERVAL_MS: the first change after a
   * quiet spell at once, the ones after it together at the end of the interval. Each presence
   * event goes to every socket, so publishing one per join would cost O(viewers²) as a large
   * audience arrives.
   */
  #presenceChanged(): void {
    if (this.#presenceTimer !== undefined) return;
    const wait = this.#presenceAt + PRESENCE_INTERVAL_MS - Date.now();
    if (wait <= 0) {
      this.#publishPresence();
      return;
    }
    this.#presenceTimer = setTimeout(() => {
      this.#presenceTimer = undefined;
      this.#publishPresence();
    }, wait);
  }

  #publishPresence(): void {
    this.#presenceAt = Date.now();
    this.publish("presence", { ...presenceBody(this.viewers()) });
  }

  /** Open sockets with their identities (excluding ones already closing). */
  protected sockets(): { ws: WebSocket; attachment: SocketAttachment }[] {
    const out: { ws: WebSocket; attachment: SocketAttachment }[] = [];
    for (const ws of this.ctx.getWebSockets()) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      const attachment = ws.deserializeAttachment() as SocketAttachment | null;
      if (attachment) out.push({ ws, attachment });
    }
    return out;
  }

  /** Logs an event and sends it to every open socket. Returns its `seq`. */
  protected publish(type: string, data: Record<string, unknown> = {}): number {
    const { seq, frame } = this.log.append(type, data);
    this.broadcastRaw(frame);
    const { compactStored, compactReplay } = this.#options;
    if (compactStored && compactReplay && seq % COMPACT_EVERY === 0) this.log.compact(compactReplay);
    return seq;
  }

  /** Sends an already-serialized frame to every open socket (serialized once, sent N times). */
  protected broadcastRaw(frame: string): void {
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(frame);
      } catch {
        // The socket is closing; its close handler does the bookkeeping.
      }
    }
  }

  protected sendError(ws: WebSocket, code: RoomErrorCode, message: string): void {
    try {
      ws.send(JSON.stringify({ type: "error", code, message }));
    } catch {
      // Closing socket.
    }
  }
}

function safeJson(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isPing(json: unknown): boolean {
  return (
    typeof json === "object" &&
    json !== null &&
    !Array.isArray(json) &&
    (json as { type?: unknown }).type === "ping" &&
    Object.keys(json).length === 1
  );
}

export { PONG as ROOM_PONG, PING as ROOM_PING };
