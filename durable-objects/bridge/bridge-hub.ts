/**
 * BridgeHub: one Durable Object per node-bridge. Holds the bridge's control WebSocket (the
 * Worker has checked its token), records hello / heartbeats in Postgres, marks the bridge
 * offline after MISSED_HEARTBEATS_OFFLINE silent intervals (alarm), delivers commands from the
 * DesktopSessions and redelivers every unfinished one after a reconnect, writes each command's
 * status through to Postgres (pending → sent → ack → completed | failed), forwards results to
 * the session, fails commands the bridge does not answer in time (command-deadlines.ts: BRIDGE_OFFLINE
 * / BRIDGE_TIMEOUT, so a dead bridge never leaves a desktop "starting" for ever), and reconciles
 * sessions with what the bridge reports it runs.
 */
import type { Pool } from "@neondatabase/serverless";
import { DurableObject } from "cloudflare:workers";
import { and, eq, inArray, notInArray, or } from "drizzle-orm";
import { bridgeCommands, bridges, desktopSessions } from "../../migrations/schema.ts";
import { createPool, type TxDb } from "../../worker/db/client.ts";
import { signImageLink } from "../../worker/lib/signed-links.ts";
import { dataUrl } from "../desktop/desktop-commands.ts";
import type { AnyDb } from "../desktop/desktop-records.ts";
import { BRIDGE_ID_HEADER, TERMINAL_STATES } from "../desktop/protocol.ts";
import { SerialQueue } from "../lib/serial-queue.ts";
import { closeQuietly, replyCloseCode, sendJson } from "../lib/sockets.ts";
import { expired, nextDeadline, timeoutError } from "./command-deadlines.ts";
import { type CommandOutcome, CommandQueue, type CommandStatus, type NewCommand, type QueuedCommand } from "./command-queue.ts";
import {
  type BridgeFrame,
  BridgeFrameSchema,
  HEARTBEAT_INTERVAL_MS,
  type HubFrame,
  MISSED_HEARTBEATS_OFFLINE,
  type ReportedSession,
} from "./protocol.ts";
import { planReconcile, reportKey } from "./reconcile.ts";
import { loggableError } from "../../worker/lib/safe-log.ts";

interface Attachment {
  helloed: boolean;
}

/** Liveness as the alarm sees it. */
interface Watch {
  online: boolean;
  /** a heartbeat arrived since the last alarm */
  beat: boolean;
  missed: number;
  heartbeats: number;
  /** the last reconciled report, to skip heartbeats that say nothing new */
  reportKey: string | null;
}

/** What the hub tells a DesktopSession about one of its commands. */
export interface CommandNotice {
  commandId: string;
  action: QueuedCommand["action"];
  outcome: "ack" | "completed" | "failed";
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
}

export interface EnqueueInput {
  bridgeId: string;
  command: NewCommand;
}

const FORWARD_RETRY_MS = 5_000;
/** storage key: the origin the bridge's control socket dialed */
const ORIGIN_KEY = "origin";
const KEEP_FINISHED_MS = 24 * 60 * 60 * 1000;
/** Heartbeats reconcile when their report changed, and anyway every this many. */
const RECONCILE_EVERY_HEARTBEATS = 6;
const MAX_FRAME_CHARS = 4 * 1024 * 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const OUTSTANDING: CommandStatus[] = ["pending", "sent", "ack"];

export class BridgeHub extends DurableObject<Env> {
  #queue: CommandQueue;
  readonly #serial = new SerialQueue();
  /** calls to DesktopSessions, made once the hub's lock is released (see #locked) */
  readonly #outbox: (() => Promise<void>)[] = [];
  #pool: { db: TxDb; pool: Pool } | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#queue = new CommandQueue(ctx.storage.sql);
  }

  /**
   * Runs `task` under the hub's lock, then the session calls it queued. A DesktopSession calls
   * `enqueue` while holding its own lock, so the hub must never wait for a session while holding
   * its lock: the two would deadlock. Sessions ignore stale or out-of-order notices.
   */
  async #locked<T>(task: () => Promise<T>): Promise<T> {
    const result = await this.#serial.run(task);
    for (const call of this.#outbox.splice(0)) await call();
    return result;
  }

  #db(): AnyDb {
    this.#pool ??= createPool(this.env);
    return this.#pool.db as unknown as AnyDb;
  }

  #bridgeId(): string | undefined {
    return this.ctx.storage.kv.get<string>("bridgeId");
  }

  #watch(): Watch {
    return this.ctx.storage.kv.get<Watch>("watch") ?? { online: false, beat: false, missed: 0, heartbeats: 0, reportKey: null };
  }

  #setWatch(patch: Partial<Watch>): Watch {
    const next = { ...this.#watch(), ...patch };
    this.ctx.storage.kv.put("watch", next);
    return next;
  }

  /** The bridge's socket once it has said hello. */
  #live(): WebSocket | undefined {
    return this.ctx
      .getWebSockets()
      .find((ws) => ws.readyState === WebSocket.OPEN && (ws.deserializeAttachment() as Attachment | null)?.helloed);
  }

  // ── the control socket ───────────────────────────────────────────────────────────────────

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("Expected a WebSocket upgrade", { status: 426 });
    const bridgeId = request.headers.get(BRIDGE_ID_HEADER);
    if (!bridgeId || !UUID.test(bridgeId)) return new Response("Missing bridge id", { status: 400 });
    this.ctx.storage.kv.put("bridgeId", bridgeId);
    // Where this bridge reaches the Worker (the Worker checked its token): without PUBLIC_URL,
    // the data-socket and image links it is sent point here, never at a user request's Host.
    this.ctx.storage.kv.put(ORIGIN_KEY, new URL(request.url).origin);
    // One control socket per bridge: a reconnect replaces a connection that has not noticed it is dead.
    for (const old of this.ctx.getWebSockets()) closeQuietly(old, 4000, "Replaced by a newer connection of this bridge.");
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ helloed: false } satisfies Attachment);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.#locked(() => this.#onMessage(ws, message));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // Liveness is the heartbeat's business: a bridge that reconnects within the grace stays online.
    closeQuietly(ws, replyCloseCode(code), "closed");
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    closeQuietly(ws, 1011, "socket error");
  }

  async #onMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") return send(ws, { type: "error", code: "BAD_FRAME", message: "Frames must be JSON text." });
    if (message.length > MAX_FRAME_CHARS)
      return send(ws, { type: "error", code: "FRAME_TOO_LARGE", message: "Frames are limited to 4 MiB." });
    let json: unknown;
    try {
      json = JSON.parse(message);
    } catch {
      return send(ws, { type: "error", code: "BAD_FRAME", message: "Frames must be JSON objects." });
    }
    const parsed = BridgeFrameSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return send(ws, {
        type: "error",
        code: "BAD_FRAME",
        message: `Invalid frame: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "bad shape"}`,
      });
    }
    const frame = parsed.data;
    const attachment = ws.deserializeAttachment() as Attachment | null;
    if (frame.type !== "hello" && !attachment?.helloed)
      return send(ws, { type: "error", code: "HELLO_REQUIRED", message: "Send hello first." });
    try {
      await this.#onFrame(ws, frame);
    } catch (e: unknown) {
      console.error("bridge frame handler failed", frame.type, loggableError(e));
      send(ws, { type: "error", code: "INTERNAL", message: "Something went wrong handling that frame." });
    }
  }

  async #onFrame(ws: WebSocket, frame: BridgeFrame): Promise<void> {
    const now = Date.now();
    switch (frame.type) {
      case "hello":
        return this.#onHello(ws, frame);
      case "heartbeat": {
        const bridgeId = this.#bridgeId();
        if (bridgeId)
          await this.#db()
            .update(bridges)
            .set({ lastHeartbeatAt: new Date(now) })
            .where(eq(bridges.id, bridgeId));
        const key = reportKey(frame.sessions);
        const watch = this.#watch();
        const heartbeats = watch.heartbeats + 1;
        const due = key !== watch.reportKey || heartbeats % RECONCILE_EVERY_HEARTBEATS === 0;
        this.#setWatch({ beat: true, missed: 0, heartbeats, reportKey: key });
        if (due) await this.#reconcile(frame.sessions);
        return;
      }
      case "ack":
        return this.#onAck(frame.id);
      case "complete":
        return this.#onResult(frame.id, { ok: true, result: frame.result });
      case "failed":
        return this.#onResult(frame.id, { ok: false, error: frame.error });
      case "session_state":
        return this.#reconcile([frame.session], { only: frame.session.sessionId });
      case "draining": {
        const bridgeId = this.#bridgeId();
        if (bridgeId) await this.#db().update(bridges).set({ status: "draining" }).where(eq(bridges.id, bridgeId));
        return;
      }
    }
  }

  async #onHello(ws: WebSocket, frame: Extract<BridgeFrame, { type: "hello" }>): Promise<void> {
    const bridgeId = this.#bridgeId();
    if (frame.bridgeId !== bridgeId) {
      send(ws, { type: "error", code: "BRIDGE_MISMATCH", message: "This token belongs to another bridge." });
      closeQuietly(ws, 1008, "bridge id mismatch");
      return;
    }
    const updated = await this.#db()
      .update(bridges)
      .set({
        status: "online",
        platform: frame.platform,
        region: frame.region,
        version: frame.version,
        capacity: frame.capacity,
        lastHeartbeatAt: new Date(),
      })
      .where(eq(bridges.id, bridgeId))
      .returning({ id: bridges.id });
    if (updated.length === 0) {
      send(ws, { type: "error", code: "BRIDGE_UNKNOWN", message: "This bridge is not registered." });
      closeQuietly(ws, 1008, "bridge unknown");
      return;
    }
    ws.serializeAttachment({ helloed: true } satisfies Attachment);
    this.#setWatch({ online: true, beat: false, missed: 0, heartbeats: 0, reportKey: reportKey(frame.sessions) });
    await this.#scheduleAlarm();
    send(ws, { type: "welcome", bridgeId, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS });
    // Whatever was not finished before the bridge went away goes out again; its ids let the
    // bridge answer from memory instead of running anything twice.
    for (const cmd of this.#queue.outstanding()) await this.#deliver(ws, cmd);
    await this.#reconcile(frame.sessions);
  }

  // ── commands ─────────────────────────────────────────────────────────────────────────────

  /** Queues a command for the bridge (sent at once when it is connected). Idempotent by command id. */
  async enqueue(input: EnqueueInput): Promise<{ status: CommandStatus }> {
    // Not #locked: the calling session holds its own lock, so nothing may call sessions on this path.
    return this.#serial.run(async () => {
      if (!this.#bridgeId()) this.ctx.storage.kv.put("bridgeId", input.bridgeId);
      const status = await this.#enqueue(input.command, true);
      // The command's deadline needs an alarm even when the bridge is not there to deliver it to
      // (only ever earlier: postponing the alarm would also postpone the heartbeat watch).
      const deadline = nextDeadline(this.#queue.outstanding());
      const current = await this.ctx.storage.getAlarm();
      if (deadline !== undefined && (current === null || deadline < current)) await this.ctx.storage.setAlarm(deadline);
      return { status };
    });
  }

  async #enqueue(command: NewCommand, sessionRecorded: boolean): Promise<CommandStatus> {
    const existing = this.#queue.get(command.id);
    if (existing) return existing.status;
    const bridgeId = this.#bridgeId();
    if (!bridgeId) throw new Error("bridge hub has no bridge id");
    await this.#db()
      .insert(bridgeCommands)
      .values({
        id: command.id,
        bridgeId,
        sessionId: sessionRecorded ? command.sessionId : null,
        action: command.action,
        status: "pending",
      })
      .onConflictDoNothing();
    this.#queue.add(command, Date.now());
    const ws = this.#live();
    const queued = this.#queue.get(command.id);
    if (ws && queued) await this.#deliver(ws, queued);
    return this.#queue.get(command.id)?.status ?? "pending";
  }

  async #deliver(ws: WebSocket, cmd: QueuedCommand): Promise<void> {
    if (!cmd.payload) return;
    let payload = cmd.payload;
    if (cmd.action === "start_session" || cmd.action === "wake_session") {
      const origin = cmd.origin ?? this.ctx.storage.kv.get<string>(ORIGIN_KEY);
      if (!origin) return; // not connected yet: the hello delivers it
      payload = { ...payload, dataUrl: dataUrl(origin, cmd.sessionId) };
      // A redelivery after a long outage must not carry an expired image link.
      if (cmd.imageId) payload = { ...payload, imageUrl: (await signImageLink(this.env.JWT_SECRET, origin, cmd.imageId)).url };
    }
    send(ws, { type: "command", id: cmd.id, action: cmd.action, payload } as HubFrame);
    if (cmd.status === "pending") {
      await this.#db()
        .update(bridgeCommands)
        .set({ status: "sent", updatedAt: new Date() })
        .where(and(eq(bridgeCommands.id, cmd.id), eq(bridgeCommands.status, "pending")));
      this.#queue.markSent(cmd.id, Date.now());
    }
  }

  async #onAck(id: string): Promise<void> {
    const cmd = this.#queue.get(id);
    if (!cmd || (cmd.status !== "pending" && cmd.status !== "sent")) return;
    await this.#db()
      .update(bridgeCommands)
      .set({ status: "ack", updatedAt: new Date() })
      .where(and(eq(bridgeCommands.id, id), inArray(bridgeCommands.status, ["pending", "sent"])));
    this.#queue.markAcked(id, Date.now());
    this.#outbox.push(async () => {
      try {
        await this.#session(cmd.sessionId).onCommandResult({ commandId: id, action: cmd.action, outcome: "ack" });
      } catch (e: unknown) {
        // Only progress news: the result that follows settles the session either way.
        console.warn("forwarding an ack failed", id, loggableError(e));
      }
    });
  }

  async #onResult(id: string, outcome: CommandOutcome): Promise<void> {
    const cmd = this.#queue.get(id);
    // Unknown or already finished: a duplicate answer (e.g. repeated after a reconnect) changes nothing.
    if (!cmd || !OUTSTANDING.includes(cmd.status)) return;
    await this.#db()
      .update(bridgeCommands)
      .set(
        outcome.ok
          ? { status: "completed", result: outcome.result, updatedAt: new Date() }
          : { status: "failed", error: `${outcome.error.code}: ${outcome.error.message}`, updatedAt: new Date() },
      )
      .where(and(eq(bridgeCommands.id, id), inArray(bridgeCommands.status, OUTSTANDING)));
    this.#queue.finish(id, outcome, Date.now());
    const finished = this.#queue.get(id);
    if (finished) this.#outbox.push(() => this.#forward(finished));
  }

  /** Hands a finished command's outcome to its session; retried by the alarm until it lands. */
  async #forward(cmd: QueuedCommand): Promise<void> {
    if (!cmd.outcome) return this.#queue.markForwarded(cmd.id);
    const notice: CommandNotice = cmd.outcome.ok
      ? { commandId: cmd.id, action: cmd.action, outcome: "completed", result: cmd.outcome.result }
      : { commandId: cmd.id, action: cmd.action, outcome: "failed", error: cmd.outcome.error };
    try {
      await this.#session(cmd.sessionId).onCommandResult(notice);
      this.#queue.markForwarded(cmd.id);
    } catch (e: unknown) {
      console.warn("forwarding a command result failed; retrying", cmd.id, loggableError(e));
      await this.#scheduleAlarm();
    }
  }

  #session(sessionId: string) {
    return this.env.DESKTOP_SESSION.get(this.env.DESKTOP_SESSION.idFromName(sessionId));
  }

  // ── reconciliation ───────────────────────────────────────────────────────────────────────

  async #reconcile(reported: readonly ReportedSession[], options: { only?: string } = {}): Promise<void> {
    const bridgeId = this.#bridgeId();
    if (!bridgeId) return;
    const ids = reported.map((r) => r.sessionId);
    const mine = and(eq(desktopSessions.bridgeId, bridgeId), notInArray(desktopSessions.state, [...TERMINAL_STATES]));
    const scope = options.only ? eq(desktopSessions.id, options.only) : ids.length > 0 ? or(mine, inArray(desktopSessions.id, ids)) : mine;
    const known = await this.#db()
      .select({ id: desktopSessions.id, state: desktopSessions.state, bridgeId: desktopSessions.bridgeId })
      .from(desktopSessions)
      .where(scope);
    const plan = planReconcile({ bridgeId, known, reported, busy: this.#queue.busySessions() });
    for (const update of plan.updates) {
      this.#outbox.push(async () => {
        try {
          await this.#session(update.sessionId).reconcile({ to: update.to, detail: update.detail });
        } catch (e: unknown) {
          console.warn("reconciling a session failed", update.sessionId, loggableError(e));
        }
      });
    }
    const knownIds = new Set(known.map((k) => k.id));
    for (const sessionId of plan.orphans) {
      await this.#enqueue(
        { id: crypto.randomUUID(), sessionId, action: "stop_session", payload: { sessionId }, imageId: null, origin: null },
        knownIds.has(sessionId),
      );
    }
  }

  // ── alarm: heartbeat watch, result retries, housekeeping ─────────────────────────────────

  override async alarm(): Promise<void> {
    await this.#locked(async () => {
      const watch = this.#watch();
      if (watch.online) {
        const missed = watch.beat ? 0 : watch.missed + 1;
        this.#setWatch({ beat: false, missed });
        if (missed >= MISSED_HEARTBEATS_OFFLINE) await this.#markOffline();
      }
      await this.#expireCommands();
      for (const cmd of this.#queue.unforwarded()) this.#outbox.push(() => this.#forward(cmd));
      await this.#scheduleAlarm();
    });
  }

  /** Fails the commands the bridge did not answer in time; their sessions hear of it like any failure. */
  async #expireCommands(): Promise<void> {
    const connected = this.#live() !== undefined;
    for (const cmd of expired(this.#queue.outstanding(), Date.now())) {
      try {
        await this.#onResult(cmd.id, { ok: false, error: timeoutError(cmd, connected) });
      } catch (e: unknown) {
        // Postgres unreachable, say: the next alarm tries again.
        console.warn("failing a timed-out command failed", cmd.id, e instanceof Error ? e.message : String(e));
      }
    }
  }

  async #markOffline(): Promise<void> {
    this.#setWatch({ online: false, missed: 0 });
    const bridgeId = this.#bridgeId();
    if (bridgeId) await this.#db().update(bridges).set({ status: "offline" }).where(eq(bridges.id, bridgeId));
    // A socket that stopped sending heartbeats is dead or stuck: drop it so the bridge redials.
    for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, 1011, "Missed heartbeats.");
  }

  async #scheduleAlarm(): Promise<void> {
    const now = Date.now();
    const due: number[] = [];
    if (this.#watch().online) due.push(now + HEARTBEAT_INTERVAL_MS);
    if (this.#queue.unforwarded().length > 0) due.push(now + FORWARD_RETRY_MS);
    const deadline = nextDeadline(this.#queue.outstanding());
    // A deadline already past is one the last alarm could not settle (Postgres down): retry it, do not spin on it.
    if (deadline !== undefined) due.push(deadline > now ? deadline : now + FORWARD_RETRY_MS);
    if (this.#queue.prune(now - KEEP_FINISHED_MS) > 0) due.push(now + KEEP_FINISHED_MS);
    if (due.length > 0) await this.ctx.storage.setAlarm(Math.min(...due));
    else await this.ctx.storage.deleteAlarm();
  }

  // ── administration (RPC from the Worker) ─────────────────────────────────────────────────

  /** Drops the live connection (e.g. its token was rotated): the bridge must come back with the new token. */
  async disconnect(reason: string): Promise<void> {
    for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, 1008, reason);
  }

  /** Forgets the bridge: closes its socket and wipes the hub's storage. */
  async deregister(): Promise<void> {
    await this.#locked(async () => {
      for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, 1008, "This bridge was deregistered.");
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      this.#queue = new CommandQueue(this.ctx.storage.sql);
    });
  }

  /** The hub's view, for tests and diagnostics. */
  async inspect(): Promise<{ connected: boolean; watch: Watch; outstanding: { id: string; action: string; status: CommandStatus }[] }> {
    return {
      connected: this.#live() !== undefined,
      watch: this.#watch(),
      outstanding: this.#queue.outstanding().map((c) => ({ id: c.id, action: c.action, status: c.status })),
    };
  }
}

function send(ws: WebSocket, frame: HubFrame): void {
  sendJson(ws, frame);
}
