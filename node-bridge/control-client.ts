/**
 * The bridge's control channel to its BridgeHub DO (DESIGN §5 "Bridge control"): dials
 * `wss://…/api/v1/bridges/connect` with `Authorization: Bearer <bridge token>`, says `hello` with
 * the sessions the driver runs, sends `heartbeat`s at the interval the hub's `welcome` asks for,
 * and runs `command`s — `ack` at once, then `complete` or `failed`.
 *
 * Commands are idempotent by id: one already finished is answered again from the CommandMemory
 * (also across restarts) without running it; one still running is only acked again. Answers that
 * could not be written (the socket was down) stay marked undelivered and are sent after the next
 * `hello`. Every incoming frame is validated with `HubFrameSchema`; bad ones are logged and
 * dropped, except a `command` whose id is readable, which is answered `failed INVALID_COMMAND`
 * so the hub does not redeliver it forever.
 *
 * The connection is kept alive with ping/pong (a silent peer is terminated) and re-dialled with
 * exponential backoff and jitter. `shutdown()` is the SIGTERM path: no new commands, `draining`,
 * wait (bounded) for in-flight commands, close with 1001.
 */
import { EventEmitter } from "node:events";
import { WebSocket } from "ws";
import {
  type BridgeFrame,
  BridgeFrameSchema,
  type CommandFrame,
  HEARTBEAT_INTERVAL_MS,
  type HubFrame,
  HubFrameSchema,
  type Platform,
  type ReportedSession,
} from "../durable-objects/bridge/protocol.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import type { CommandMemory, CommandOutcome, RememberedCommand } from "./command-memory.ts";
import { errorMessage, toCommandError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { keepAlive } from "./ws-keepalive.ts";

export interface BridgeIdentity {
  bridgeId: string;
  platform: Platform;
  region: string;
  version: string;
  capacity: number;
}

export interface ControlClientOptions {
  /** ws(s)://…/api/v1/bridges/connect */
  url: string;
  token: string;
  identity: BridgeIdentity;
  /** The sessions to report in `hello` and every `heartbeat` (the driver's list). */
  listSessions: () => Promise<ReportedSession[]>;
  /** Runs one command; resolves with the `complete` result, throws for `failed`. */
  runCommand: (command: CommandFrame) => Promise<Record<string, unknown>>;
  memory: CommandMemory;
  log: Logger;
  backoff?: BackoffOptions;
  pingIntervalMs?: number;
  connectTimeoutMs?: number;
  /** How long `shutdown()` waits for in-flight commands. */
  drainTimeoutMs?: number;
}

type HubWelcome = Extract<HubFrame, { type: "welcome" }>;

export class ControlClient extends EventEmitter<{ connected: []; welcome: [HubWelcome]; disconnected: [number] }> {
  readonly #o: ControlClientOptions;
  readonly #log: Logger;
  readonly #backoff: Backoff;
  readonly #inFlight = new Map<string, Promise<void>>();
  #ws: WebSocket | undefined;
  /** true once `hello` went out on the current socket: nothing else may be sent before it. */
  #helloSent = false;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #heartbeatMs = HEARTBEAT_INTERVAL_MS;
  #heartbeatBusy = false;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #lastSessions: ReportedSession[] = [];
  #started = false;
  #draining = false;
  #stopped = false;
  #shutdown: Promise<void> | undefined;

  constructor(options: ControlClientOptions) {
    super();
    this.#o = options;
    this.#log = options.log.child({ component: "control" });
    this.#backoff = new Backoff(options.backoff);
  }

  /** Connects and keeps reconnecting until `shutdown()`. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#connect();
  }

  /** true while a socket is open and `hello` was sent on it. */
  get connected(): boolean {
    return this.#helloSent && this.#ws?.readyState === WebSocket.OPEN;
  }

  /** Commands currently running. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Tells the hub about a change it did not command (a desktop died). Dropped while disconnected: the next hello/heartbeat carries it. */
  reportSessionState(session: ReportedSession): void {
    this.#send({ type: "session_state", session });
  }

  /** Graceful stop: no new commands, `draining`, bounded wait for in-flight ones, close 1001. */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#drainAndClose();
    return this.#shutdown;
  }

  async #drainAndClose(): Promise<void> {
    this.#draining = true;
    this.#send({ type: "draining" });
    const timeoutMs = this.#o.drainTimeoutMs ?? 30_000;
    if (this.#inFlight.size > 0) {
      this.#log.info("draining: waiting for in-flight commands", { count: this.#inFlight.size, timeoutMs });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.allSettled([...this.#inFlight.values()]).then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      // Unfinished commands keep running until the process exits; their answers, if any, are
      // remembered undelivered and sent by the next bridge process after its hello.
      if (timedOut) this.#log.warn("draining timed out; closing with commands still running", { count: this.#inFlight.size });
    }
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    this.#stopHeartbeat();
    const ws = this.#ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      // Queued frames (the last answers) are written before the close frame.
      const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
      ws.close(1001, "bridge shutting down");
      const timer = setTimeout(() => ws.terminate(), 5_000);
      await closed;
      clearTimeout(timer);
    }
    // Delivery marks written by the last send callbacks must reach the disk before exit.
    await this.#o.memory.flushed();
  }

  #connect(): void {
    if (this.#stopped) return;
    const ws = new WebSocket(this.#o.url, {
      headers: { Authorization: `Bearer ${this.#o.token}` },
      perMessageDeflate: false,
      handshakeTimeout: this.#o.connectTimeoutMs ?? 10_000,
      maxPayload: 4 * 1024 * 1024,
    });
    this.#ws = ws;
    this.#helloSent = false;
    // Frames can arrive together with the upgrade response, before `hello` is out: hold them.
    const early: string[] = [];
    let opened = false;

    // Handlers are attached synchronously: anything that arrives is seen.
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.#log.warn("ignoring binary frame on the control socket", { bytes: data.length });
        return;
      }
      const text = data.toString("utf8");
      if (this.#helloSent) this.#onFrame(text);
      else early.push(text);
    });
    ws.on("unexpected-response", (_req, res) => {
      // Only the status: the request (with the token) is never logged.
      this.#log.error("hub refused the control connection", { status: res.statusCode });
      ws.terminate();
    });
    ws.on("error", (e) => this.#log.warn("control socket error", { error: e.message }));
    ws.once("open", () => {
      opened = true;
      keepAlive(ws, this.#o.pingIntervalMs ?? 20_000, () => this.#log.warn("hub stopped answering pings; reconnecting"));
      this.#sayHello(ws)
        .then(() => {
          for (const text of early.splice(0)) this.#onFrame(text);
        })
        .catch((e: unknown) => {
          this.#log.error("could not list sessions for hello; reconnecting", { error: errorMessage(e) });
          ws.close(1011, "bridge could not list its sessions");
        });
    });
    ws.once("close", (code) => {
      if (this.#ws === ws) {
        this.#ws = undefined;
        this.#helloSent = false;
      }
      this.#stopHeartbeat();
      if (opened) {
        this.#log.info("control socket closed", { code });
        this.emit("disconnected", code);
      }
      this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    if (this.#stopped) return;
    const delay = this.#backoff.next();
    this.#log.info("reconnecting to the hub", { inMs: delay });
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  async #sayHello(ws: WebSocket): Promise<void> {
    const sessions = await this.#o.listSessions();
    if (ws !== this.#ws || ws.readyState !== WebSocket.OPEN) return;
    this.#lastSessions = sessions;
    this.#helloSent = true;
    this.#send({ type: "hello", ...this.#o.identity, sessions });
    if (this.#draining) this.#send({ type: "draining" });
    // Answers finished while no socket was up (or by the previous process).
    for (const entry of this.#o.memory.undelivered()) this.#deliver(entry);
    this.#startHeartbeat();
    this.#log.info("connected to the hub", { sessions: sessions.length });
    this.emit("connected");
  }

  #onFrame(text: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      this.#log.warn("ignoring a control frame that is not JSON", { bytes: text.length });
      return;
    }
    const parsed = HubFrameSchema.safeParse(raw);
    if (!parsed.success) {
      const id = commandIdOf(raw);
      if (id === undefined) {
        this.#log.warn("ignoring an invalid control frame", {
          type: typeOf(raw),
          issues: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".")}: ${i.message}`),
        });
        return;
      }
      // A command we cannot run (unknown action, bad payload): say so, or the hub redelivers it forever.
      this.#send({ type: "ack", id });
      const message = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join(".") || "frame"}: ${i.message}`)
        .join("; ");
      void this.#finish(id, { kind: "failed", error: { code: "INVALID_COMMAND", message: message.slice(0, 2000) } });
      return;
    }
    const frame = parsed.data;
    switch (frame.type) {
      case "welcome":
        if (frame.bridgeId !== this.#o.identity.bridgeId)
          this.#log.error("hub welcomed a different bridge id", { expected: this.#o.identity.bridgeId, got: frame.bridgeId });
        this.#backoff.reset();
        this.#heartbeatMs = frame.heartbeatIntervalMs;
        this.#startHeartbeat();
        this.emit("welcome", frame);
        return;
      case "error":
        this.#log.warn("hub reported an error", { code: frame.code, message: frame.message });
        return;
      case "command":
        this.#onCommand(frame);
        return;
    }
  }

  #onCommand(command: CommandFrame): void {
    const { id } = command;
    const remembered = this.#o.memory.get(id);
    if (remembered) {
      this.#log.info("answering a repeated command from memory", { id, action: command.action });
      this.#send({ type: "ack", id });
      this.#deliver(remembered);
      return;
    }
    if (this.#inFlight.has(id)) {
      this.#send({ type: "ack", id });
      return;
    }
    if (this.#draining) {
      // Not acked: the hub keeps it pending and redelivers it once a bridge is back.
      this.#log.info("not taking a new command while draining", { id, action: command.action });
      return;
    }
    this.#send({ type: "ack", id });
    const log = this.#log.child({ commandId: id, action: command.action, sessionId: command.payload.sessionId });
    log.info("running command");
    const started = Date.now();
    const run = (async () => {
      let outcome: CommandOutcome;
      try {
        outcome = { kind: "complete", result: await this.#o.runCommand(command) };
        log.info("command complete", { ms: Date.now() - started });
      } catch (e: unknown) {
        outcome = { kind: "failed", error: toCommandError(e) };
        log.warn("command failed", { ms: Date.now() - started, code: outcome.error.code, error: outcome.error.message });
      }
      await this.#finish(id, outcome);
    })();
    this.#inFlight.set(id, run);
  }

  /** Remembers the outcome (before the id leaves the in-flight set, so a redelivery always finds one) and sends it. */
  async #finish(id: string, outcome: CommandOutcome): Promise<void> {
    let entry: RememberedCommand;
    try {
      entry = await this.#o.memory.remember(id, outcome);
    } catch (e: unknown) {
      this.#log.error("could not persist a command outcome; answering anyway", { id, error: errorMessage(e) });
      entry = { id, outcome, delivered: false };
    } finally {
      this.#inFlight.delete(id);
    }
    this.#deliver(entry);
  }

  #deliver(entry: RememberedCommand): void {
    const frame: BridgeFrame =
      entry.outcome.kind === "complete"
        ? { type: "complete", id: entry.id, result: entry.outcome.result }
        : { type: "failed", id: entry.id, error: entry.outcome.error };
    this.#send(frame, () => {
      this.#o.memory
        .markDelivered(entry.id)
        .catch((e: unknown) => this.#log.warn("could not persist delivery", { id: entry.id, error: errorMessage(e) }));
    });
  }

  /** Sends a frame if the socket is up and `hello` went out; `onWritten` once it reached the socket. */
  #send(frame: BridgeFrame, onWritten?: () => void): void {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || (!this.#helloSent && frame.type !== "hello")) return;
    const checked = BridgeFrameSchema.safeParse(frame);
    if (!checked.success) {
      this.#log.error("refusing to send an invalid frame (bridge bug)", {
        type: frame.type,
        issues: checked.error.issues.slice(0, 5).map((i) => i.message),
      });
      return;
    }
    ws.send(JSON.stringify(checked.data), (err) => {
      if (!err) onWritten?.();
    });
  }

  #startHeartbeat(): void {
    this.#stopHeartbeat();
    this.#heartbeatTimer = setInterval(() => void this.#heartbeat(), this.#heartbeatMs);
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
  }

  async #heartbeat(): Promise<void> {
    if (this.#heartbeatBusy) return; // a slow list() must not stack heartbeats
    this.#heartbeatBusy = true;
    try {
      this.#lastSessions = await this.#o.listSessions();
    } catch (e: unknown) {
      // A heartbeat still proves the bridge is alive; an empty list would tell the hub every desktop is gone.
      this.#log.warn("could not list sessions; heartbeat repeats the last known list", { error: errorMessage(e) });
    } finally {
      this.#heartbeatBusy = false;
    }
    this.#send({ type: "heartbeat", sessions: this.#lastSessions });
  }
}

function commandIdOf(raw: unknown): string | undefined {
  if (typeof raw !== "object" || raw === null) return undefined;
  const rec = raw as { type?: unknown; id?: unknown };
  return rec.type === "command" && typeof rec.id === "string" && rec.id.length > 0 && rec.id.length <= 100 ? rec.id : undefined;
}

function typeOf(raw: unknown): string {
  return typeof raw === "object" && raw !== null && "type" in raw ? String(raw.type).slice(0, 50) : typeof raw;
}
