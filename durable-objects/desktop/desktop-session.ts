/**
 * DesktopSession: one Durable Object per lab desktop session. Owns the session's state machine
 * (desktop-state.ts) and writes every transition through to Postgres before viewers hear of it;
 * turns user requests and idle reaping into bridge commands (through the bridge's BridgeHub) and
 * applies the results the hub forwards; issues single-use viewer tickets; checks the bridge's
 * per-session data token; and hands the sockets to the relay (desktop-relay.ts). A viewer who
 * opens a hibernated desktop wakes it.
 */
import { DurableObject } from "cloudflare:workers";
import { getDb, withTransaction } from "../../worker/db/client.ts";
import { sha256Hex, timingSafeEqual } from "../../worker/lib/bytes.ts";
import { type ErrorCode, errorBody } from "../../worker/lib/errors.ts";
import type { CommandNotice } from "../bridge/bridge-hub.ts";
import type { CommandAction } from "../bridge/protocol.ts";
import { SerialQueue } from "../lib/serial-queue.ts";
import {
  type AnyDb,
  DEFAULT_DESKTOP_SETTINGS,
  readDesktopSettings,
  reserveWake,
  writeLastInput,
  writeSessionState,
} from "./desktop-records.ts";
import { type DesktopInit, newCommand, type PendingCommand } from "./desktop-commands.ts";
import { DesktopRelay } from "./desktop-relay.ts";
import { canHibernate, type DesktopEvent, idleAction, resultEvent, transition } from "./desktop-state.ts";
import { type DesktopState, isTerminal, PRIMARY_CONN, VIEWER_USER_HEADER } from "./protocol.ts";
import { type TicketGrant, TicketStore } from "./ticket-store.ts";
import { loggableError } from "../../worker/lib/safe-log.ts";

interface Status {
  state: DesktopState;
  detail: string | null;
  /** the command in flight; its answer is the only one that moves the session */
  pending: PendingCommand | null;
  /** SHA-256 of the bridge's current data token (new at every start / wake) */
  dataTokenHash: string | null;
  runningSince: number | null;
}

export type { DesktopInit };

export type DesktopResult =
  | { ok: true; state: DesktopState; detail: string | null }
  | { ok: false; code: ErrorCode; message: string; details?: unknown };

const INPUT_PERSIST_MS = 30_000;
const ENQUEUE_RETRY_MS = 2_000;
/** Idle checks run at least this often (in minutes), so a shortened idle timeout applies soon. */
const MAX_IDLE_CHECK_MINUTES = 5;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class DesktopSession extends DurableObject<Env> {
  readonly #serial = new SerialQueue();
  readonly #tickets: TicketStore;
  readonly #relay: DesktopRelay;
  /** last real input of the controlling viewer (ms); persisted at most every INPUT_PERSIST_MS */
  #activity: number;
  #persistedActivity: number;
  /** one minute of `idle_timeout_minutes`: 60 s unless IDLE_MINUTE_MS shortens it (end-to-end tests) */
  readonly #minuteMs: number;
  #idleTimeoutMs: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Viewers' and the bridge's keep-alive pings are answered without waking a hibernated object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    this.#tickets = new TicketStore(ctx.storage.sql);
    this.#activity = ctx.storage.kv.get<number>("activity") ?? 0;
    this.#persistedActivity = this.#activity;
    const minuteMs = Number(env.IDLE_MINUTE_MS);
    this.#minuteMs = Number.isFinite(minuteMs) && minuteMs > 0 ? minuteMs : 60_000;
    this.#idleTimeoutMs = DEFAULT_DESKTOP_SETTINGS.idleTimeoutMinutes * this.#minuteMs;
    this.#relay = new DesktopRelay(ctx, {
      state: () => {
        const s = this.#status();
        return { state: s.state, detail: s.detail };
      },
      onInput: (now) => this.#onInput(now),
      onViewerOfHibernated: () => {
        void this.#serial
          .run(() => this.#wake())
          .then(
            (r) => {
              if (!r.ok) this.#relay.wakeFailed(r.code, r.message);
            },
            (e: unknown) => {
              console.error("wake on connect failed", loggableError(e));
              this.#relay.wakeFailed("INTERNAL", "Something went wrong waking the desktop.");
            },
          );
      },
    });
  }

  // ── state ────────────────────────────────────────────────────────────────────────────────

  #meta(): DesktopInit | undefined {
    return this.ctx.storage.kv.get<DesktopInit>("meta");
  }

  #status(): Status {
    return (
      this.ctx.storage.kv.get<Status>("status") ?? {
        state: "requested",
        detail: null,
        pending: null,
        dataTokenHash: null,
        runningSince: null,
      }
    );
  }

  /**
   * Single statements go over Neon's HTTP endpoint: a desktop writes rarely (state changes, the
   * last input every 30 s), and thousands of open desktops must not each hold Postgres
   * connections. The one transaction (wake) takes a short-lived pool of its own.
   */
  #db(): AnyDb {
    return getDb(this.env) as unknown as AnyDb;
  }

  #ok(): DesktopResult {
    const s = this.#status();
    return { ok: true, state: s.state, detail: s.detail };
  }

  /**
   * Applies `event`: Postgres first (the system of record), then storage, then the viewers.
   * `patch` lands in the same storage write as the new state.
   */
  async #apply(
    event: DesktopEvent,
    detail: string | null,
    patch: Partial<Status> = {},
    options: { persisted?: boolean } = {},
  ): Promise<DesktopResult> {
    const meta = this.#meta();
    if (!meta) return notFound();
    const before = this.#status();
    const t = transition(before.state, event);
    if (!t.ok) return { ok: false, code: "INVALID_STATE", message: t.reason };
    const changed = t.state !== before.state || detail !== before.detail;
    if (changed && !options.persisted) await writeSessionState(this.#db(), meta.sessionId, t.state, detail);
    const next: Status = { ...this.#status(), ...patch, state: t.state, detail };
    if (t.state === "running" && before.state !== "running") next.runningSince = Date.now();
    if (isTerminal(t.state)) {
      next.pending = null;
      next.dataTokenHash = null;
    }
    this.ctx.storage.kv.put("status", next);
    if (changed) this.#relay.onState(t.state, detail);
    await this.#scheduleAlarm();
    return this.#ok();
  }

  async #newPending(action: CommandAction): Promise<{ pending: PendingCommand; dataTokenHash?: string }> {
    const meta = this.#meta();
    if (!meta) throw new Error("desktop session is not set up");
    return newCommand(meta, action);
  }

  /** Hands the pending command to the bridge's hub; on failure the alarm tries again. */
  async #flushPending(): Promise<void> {
    const meta = this.#meta();
    const pending = this.#status().pending;
    if (!meta || !pending?.payload) return;
    const hub = this.env.BRIDGE_HUB.get(this.env.BRIDGE_HUB.idFromName(meta.bridgeId));
    const carriesImage = pending.action === "start_session" || pending.action === "wake_session";
    try {
      await hub.enqueue({
        bridgeId: meta.bridgeId,
        command: {
          id: pending.commandId,
          sessionId: meta.sessionId,
          action: pending.action,
          payload: pending.payload,
          imageId: carriesImage ? meta.imageId : null,
          origin: carriesImage ? meta.origin : null,
        },
      });
    } catch (e: unknown) {
      console.warn("handing a command to the bridge hub failed; retrying", pending.commandId, loggableError(e));
      await this.#scheduleAlarm();
      return;
    }
    const now = this.#status();
    if (now.pending?.commandId === pending.commandId)
      this.ctx.storage.kv.put("status", { ...now, pending: { ...now.pending, payload: null } });
    await this.#scheduleAlarm();
  }

  /** Requests `event` and sends the bridge `action` for it. */
  async #command(event: DesktopEvent, action: CommandAction, detail: string | null = null): Promise<DesktopResult> {
    const t = transition(this.#status().state, event);
    if (!t.ok) return { ok: false, code: "INVALID_STATE", message: t.reason };
    const { pending, dataTokenHash } = await this.#newPending(action);
    const result = await this.#apply(event, detail, { pending, ...(dataTokenHash && { dataTokenHash }) });
    if (result.ok) await this.#flushPending();
    return result.ok ? this.#ok() : result;
  }

  // ── RPC from the Worker ──────────────────────────────────────────────────────────────────

  /** Sets the session up (its row is already `requested` in Postgres) and sends the start command. Idempotent. */
  async start(init: DesktopInit): Promise<DesktopResult> {
    return this.#serial.run(async () => {
      if (this.#meta()) return this.#ok();
      this.ctx.storage.kv.put("meta", init);
      const { pending, dataTokenHash } = await this.#newPending("start_session");
      this.ctx.storage.kv.put("status", {
        state: "requested",
        detail: null,
        pending,
        dataTokenHash: dataTokenHash ?? null,
        runningSince: null,
      } satisfies Status);
      await this.#flushPending();
      return this.#ok();
    });
  }

  async stop(detail: string | null = null): Promise<DesktopResult> {
    return this.#serial.run(async () => {
      if (!this.#meta()) return notFound();
      const s = this.#status();
      if (isTerminal(s.state)) return this.#ok();
      // Asked again while stopping: make sure the hub has the command (ids make this harmless).
      if (s.state === "stopping") {
        await this.#flushPending();
        return this.#ok();
      }
      return this.#command({ type: "stop_requested" }, "stop_session", detail);
    });
  }

  async hibernate(): Promise<DesktopResult> {
    return this.#serial.run(async () => {
      const meta = this.#meta();
      if (!meta) return notFound();
      if (!canHibernate(meta.platform)) {
        return {
          ok: false,
          code: "HIBERNATE_UNSUPPORTED",
          message: `Desktops on ${meta.platform} bridges cannot hibernate; stop it instead.`,
        };
      }
      const s = this.#status();
      if (s.state === "hibernating" || s.state === "hibernated") return this.#ok();
      return this.#command({ type: "hibernate_requested" }, "hibernate_session");
    });
  }

  async wake(): Promise<DesktopResult> {
    return this.#serial.run(() => this.#wake());
  }

  async #wake(): Promise<DesktopResult> {
    const meta = this.#meta();
    if (!meta) return notFound();
    const s = this.#status();
    if (s.state === "waking" || s.state === "running") return this.#ok();
    const t = transition(s.state, { type: "wake_requested" });
    if (!t.ok) return { ok: false, code: "INVALID_STATE", message: t.reason };
    // The capacity check and the `waking` row are one transaction, like placement.
    const reserved = await withTransaction(this.env, (tx) => reserveWake(tx as unknown as AnyDb, meta.sessionId, meta.bridgeId));
    if (!reserved.ok) return { ok: false, code: reserved.code, message: reserved.message, details: reserved.details };
    const { pending, dataTokenHash } = await this.#newPending("wake_session");
    const result = await this.#apply(
      { type: "wake_requested" },
      null,
      { pending, ...(dataTokenHash && { dataTokenHash }) },
      { persisted: true },
    );
    if (result.ok) await this.#flushPending();
    return result.ok ? this.#ok() : result;
  }

  /** A single-use viewer ticket (TICKET_TTL_MS) for this session. */
  async issueTicket(grant: TicketGrant): Promise<{ ok: true; ticket: string; expiresAt: number } | Extract<DesktopResult, { ok: false }>> {
    if (!this.#meta()) return notFound();
    const { state } = this.#status();
    if (isTerminal(state)) return { ok: false, code: "INVALID_STATE", message: `The desktop is ${state}.` };
    const issued = await this.#tickets.issue(grant);
    if (!issued) return { ok: false, code: "SHARE_NOT_FOUND", message: "This share link was revoked." };
    return { ok: true, ...issued };
  }

  /** A share link was revoked: its viewers are closed and its tickets, used or not, stop working. */
  async closeShareViewers(shareId: string): Promise<number> {
    this.#tickets.revokeShare(shareId);
    return this.#relay.closeShare(shareId);
  }

  /**
   * RPC from the Worker when a user's access ended (deactivation, logout, leaving the owner's
   * teams): their viewer sockets get an ACCESS_REVOKED frame and are closed. Returns how many.
   */
  async closeUserViewers(userId: string, sharedOnly: boolean, reason: string): Promise<number> {
    return this.#relay.closeUser(userId, sharedOnly, reason);
  }

  /** The bridge is gone for good: the desktop with it. */
  async abandon(detail: string): Promise<DesktopResult> {
    return this.#serial.run(async () => (this.#meta() ? this.#apply({ type: "abandoned" }, detail, { pending: null }) : notFound()));
  }

  /** Wipes a finished session's object (its Postgres row is being deleted). */
  async forget(): Promise<void> {
    await this.#serial.run(async () => {
      if (!isTerminal(this.#status().state)) return;
      this.#relay.closeAll("The desktop was deleted.");
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
    });
  }

  /** The session's hot state, for tests and diagnostics. */
  async inspect() {
    const s = this.#status();
    return {
      meta: this.#meta() ?? null,
      state: s.state,
      detail: s.detail,
      pending: s.pending && { commandId: s.pending.commandId, action: s.pending.action },
      viewers: this.#relay.viewerCount(),
      lastInputAt: this.#activity || null,
    };
  }

  // ── RPC from the BridgeHub ───────────────────────────────────────────────────────────────

  async onCommandResult(notice: CommandNotice): Promise<void> {
    await this.#serial.run(async () => {
      const s = this.#status();
      // Only the command in flight moves the session: a late or duplicated answer to an older one does nothing.
      if (!s.pending || s.pending.commandId !== notice.commandId) return;
      if (notice.outcome === "ack") {
        if (notice.action === "start_session") await this.#apply({ type: "start_acked" }, s.detail);
        return;
      }
      const ok = notice.outcome === "completed";
      // Success keeps the request's reason ("Idle for…", "Stopped by an administrator…").
      const detail = ok ? s.detail : `${notice.error?.code ?? "FAILED"}: ${notice.error?.message ?? "The bridge reported a failure."}`;
      const result = await this.#apply(resultEvent(notice.action, ok), detail, { pending: null });
      if (!result.ok) console.warn("a command result did not apply", notice.commandId, result.message);
    });
  }

  /** The bridge's report (no command in flight) says the desktop is really `to`. */
  async reconcile(report: { to: DesktopState; detail: string }): Promise<void> {
    await this.#serial.run(async () => {
      if (!this.#meta() || this.#status().pending) return;
      await this.#apply({ type: "reconciled", to: report.to }, report.detail);
    });
  }

  // ── sockets ──────────────────────────────────────────────────────────────────────────────

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return new Response("Expected a WebSocket upgrade", { status: 426 });
    const meta = this.#meta();
    if (!meta) return json(404, "DESKTOP_NOT_FOUND", "No such desktop.");
    const url = new URL(request.url);
    const status = this.#status();
    if (url.pathname.endsWith("/bridge-data")) {
      const token = /^Bearer\s+(\S+)$/i.exec(request.headers.get("Authorization") ?? "")?.[1];
      const hash = token ? await sha256Hex(token) : "";
      if (!status.dataTokenHash || !timingSafeEqual(new TextEncoder().encode(hash), new TextEncoder().encode(status.dataTokenHash))) {
        return json(401, "DATA_TOKEN_INVALID", "The data token is not valid for this desktop.");
      }
      const conn = url.searchParams.get("conn") ?? "";
      if (conn !== PRIMARY_CONN && !UUID.test(conn)) return json(400, "BAD_REQUEST", "conn must be 'primary' or a viewer connection id.");
      return this.#relay.acceptBridge(conn);
    }
    const ticket = url.searchParams.get("ticket");
    const grant = ticket ? await this.#tickets.consume(ticket) : undefined;
    const caller = request.headers.get(VIEWER_USER_HEADER);
    if (!grant || (caller && caller !== grant.userId))
      return json(401, "TICKET_INVALID", "The viewer ticket is missing, used, expired or not yours.");
    // Read again: the desktop may have stopped, or the share link been revoked, while the ticket
    // was being checked. Nothing awaits from here to the accept, so a revoke lands either before
    // (refused here) or after (closeShare finds the socket by its attachment).
    const now = this.#status();
    if (isTerminal(now.state)) return json(409, "INVALID_STATE", `The desktop is ${now.state}.`);
    if (this.#tickets.isRevoked(grant.shareId)) return json(401, "TICKET_INVALID", "The share link was revoked.");
    return this.#relay.acceptViewer(grant);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.#relay.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.#relay.closed(ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.#relay.closed(ws, 1011);
  }

  #onInput(now: number): void {
    this.#activity = now;
    if (now - this.#persistedActivity < INPUT_PERSIST_MS) return;
    this.#persistActivity();
  }

  #persistActivity(): void {
    const meta = this.#meta();
    if (!meta) return;
    this.#persistedActivity = this.#activity;
    this.ctx.storage.kv.put("activity", this.#activity);
    writeLastInput(this.#db(), meta.sessionId, new Date(this.#activity)).catch((e: unknown) =>
      console.warn("recording the last input failed", loggableError(e)),
    );
  }

  // ── alarm: retries, idle reaping ─────────────────────────────────────────────────────────

  override async alarm(): Promise<void> {
    await this.#serial.run(async () => {
      const meta = this.#meta();
      if (!meta) return;
      try {
        if (this.#status().pending?.payload) await this.#flushPending();
        if (this.#activity > this.#persistedActivity) this.#persistActivity();
        if (this.#status().state === "running") await this.#reapIfIdle(meta);
      } catch (e: unknown) {
        // Postgres unreachable, say: try again at the next check rather than end the alarm chain.
        console.error("desktop alarm failed", loggableError(e));
      } finally {
        await this.#scheduleAlarm();
      }
    });
  }

  async #reapIfIdle(meta: DesktopInit): Promise<void> {
    const { idleTimeoutMinutes } = await readDesktopSettings(this.#db());
    this.#idleTimeoutMs = idleTimeoutMinutes * this.#minuteMs;
    if (idleTimeoutMinutes <= 0) return;
    const last = Math.max(this.#activity, this.ctx.storage.kv.get<number>("activity") ?? 0, this.#status().runningSince ?? 0);
    if (Date.now() - last < this.#idleTimeoutMs) return;
    const detail = `Idle for more than ${idleTimeoutMinutes} minute${idleTimeoutMinutes === 1 ? "" : "s"}.`;
    const result =
      idleAction(meta.platform) === "hibernate"
        ? await this.#command({ type: "hibernate_requested" }, "hibernate_session", detail)
        : await this.#command({ type: "stop_requested" }, "stop_session", detail);
    if (!result.ok) console.warn("idle reaping did not apply", meta.sessionId, result.message);
  }

  async #scheduleAlarm(): Promise<void> {
    const now = Date.now();
    const s = this.#status();
    const due: number[] = [];
    if (s.pending?.payload) due.push(now + ENQUEUE_RETRY_MS);
    if (this.#activity > this.#persistedActivity) due.push(now + INPUT_PERSIST_MS);
    if (s.state === "running") {
      const last = Math.max(this.#activity, s.runningSince ?? now);
      const deadline = this.#idleTimeoutMs > 0 ? last + this.#idleTimeoutMs : Number.POSITIVE_INFINITY;
      due.push(Math.max(now + 1000, Math.min(deadline, now + MAX_IDLE_CHECK_MINUTES * this.#minuteMs)));
    }
    if (due.length > 0) await this.ctx.storage.setAlarm(Math.min(...due));
    else await this.ctx.storage.deleteAlarm();
  }
}

function notFound(): Extract<DesktopResult, { ok: false }> {
  return { ok: false, code: "DESKTOP_NOT_FOUND", message: "No such desktop." };
}

function json(status: number, code: ErrorCode, message: string): Response {
  return Response.json(errorBody(code, message), { status });
}
