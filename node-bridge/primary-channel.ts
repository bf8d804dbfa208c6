/**
 * A running session's primary socket to its DesktopSession DO (`conn=primary`): JSON text
 * frames only. The hub asks on it for a data socket per new viewer (`{type:"open", connId}`) or
 * cancels one (`{type:"close", connId}`); the bridge answers `{type:"open_failed"}` when it
 * cannot reach the desktop. It must be up for any viewer to get a picture, so it is re-dialled
 * for as long as the session runs: at once (with jitter) after a connection that proved healthy,
 * with growing backoff after failures; ping/pong ends a connection whose hub went silent.
 */
import type { WebSocket } from "ws";
import { z } from "zod";
import type { PrimaryBridgeFrame, PrimaryHubFrame } from "../durable-objects/desktop/protocol.ts";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import { openDataSocket } from "./data-socket.ts";
import { errorMessage } from "./errors.ts";
import type { Logger } from "./log.ts";
import { keepAlive } from "./ws-keepalive.ts";

const ConnIdSchema = z.string().min(1).max(100);
const PrimaryHubFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("open"), connId: ConnIdSchema }),
  z.object({ type: z.literal("close"), connId: ConnIdSchema }),
]) satisfies z.ZodType<PrimaryHubFrame>;

export interface PrimaryChannelOptions {
  /** The primary socket's URL (`conn=primary`). */
  url: string;
  dataToken: string;
  log: Logger;
  onFrame: (frame: PrimaryHubFrame) => void;
  backoff?: BackoffOptions;
  pingIntervalMs: number;
  connectTimeoutMs: number;
  /** A connection that lasted this long counts as healthy: the backoff starts over. */
  healthyAfterMs: number;
}

export interface PrimaryChannelStats {
  /** Primary connections opened so far. */
  connections: number;
  connected: boolean;
}

export class PrimaryChannel {
  readonly #o: PrimaryChannelOptions;
  readonly #backoff: Backoff;
  readonly #log: Logger;
  readonly #stats: PrimaryChannelStats = { connections: 0, connected: false };
  #closing: { code: number; reason: string } | undefined;
  #running: Promise<void> | undefined;
  #wakeSleep: (() => void) | undefined;
  #ws: WebSocket | undefined;

  constructor(options: PrimaryChannelOptions) {
    this.#o = options;
    this.#backoff = new Backoff({ initialMs: 250, maxMs: 30_000, ...options.backoff });
    this.#log = options.log.child({ conn: "primary" });
  }

  /** Connects, and reconnects until `close()`. */
  start(): void {
    this.#running ??= this.#loop();
  }

  /** Sends a frame if the socket is open; false when it is not (the hub re-sends its `open`s on reconnect). */
  send(frame: PrimaryBridgeFrame): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== ws.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  /** Stops for good, closing the socket with `code`. */
  async close(code: number, reason: string): Promise<void> {
    this.#closing ??= { code, reason };
    this.#wakeSleep?.();
    this.#ws?.close(code, reason);
    await this.#running;
  }

  stats(): PrimaryChannelStats {
    return { ...this.#stats };
  }

  async #loop(): Promise<void> {
    while (!this.#closing) {
      const started = Date.now();
      let opened = false;
      try {
        opened = await this.#connectOnce();
      } catch (e: unknown) {
        this.#log.warn("primary socket failed", { error: errorMessage(e) });
      }
      if (this.#closing) break;
      if (opened && Date.now() - started >= this.#o.healthyAfterMs) this.#backoff.reset();
      await this.#sleep(this.#backoff.next());
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wakeSleep = done;
    });
  }

  /** One connection, from dial to close. Resolves true if the socket had opened. */
  async #connectOnce(): Promise<boolean> {
    const { ws, early } = await openDataSocket(this.#o.url, this.#o.dataToken, {
      handshakeTimeoutMs: this.#o.connectTimeoutMs,
      onError: (e) => this.#log.warn("primary socket error", { error: e.message }),
    });
    if (this.#closing) {
      ws.close(this.#closing.code, this.#closing.reason);
      return true;
    }
    this.#ws = ws;
    this.#stats.connections++;
    this.#stats.connected = true;
    this.#log.info("primary socket connected");
    const closed = new Promise<void>((resolve) =>
      ws.once("close", (code, reason) => {
        this.#log.info("primary socket closed", { code, reason: reason.toString() });
        resolve();
      }),
    );
    const onMessage = (data: Buffer, isBinary: boolean) => {
      const frame = isBinary ? undefined : parseHubFrame(data);
      if (frame) this.#o.onFrame(frame);
      else this.#log.warn("ignoring unknown frame on the primary socket", { bytes: data.length });
    };
    for (const [data, isBinary] of early.take()) onMessage(data, isBinary);
    ws.on("message", onMessage);
    keepAlive(ws, this.#o.pingIntervalMs, () => this.#log.warn("primary socket stopped answering pings; terminating"));
    await closed;
    this.#ws = undefined;
    this.#stats.connected = false;
    return true;
  }
}

function parseHubFrame(data: Buffer): PrimaryHubFrame | undefined {
  if (data.length > 1024) return undefined;
  try {
    const parsed = PrimaryHubFrameSchema.safeParse(JSON.parse(data.toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
