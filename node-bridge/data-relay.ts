/**
 * The data path of one running desktop session (DESIGN §5 "Desktop data", protocol.ts in
 * durable-objects/desktop): the session's primary socket (primary-channel.ts), kept open for as
 * long as the session runs, and one viewer pipe (viewer-pipe.ts) per viewer the hub announces.
 *
 * `{type:"open", connId}` on the primary socket → dial the VNC server (asked of the driver each
 * time: a woken pod has a new IP), then open `conn=<connId>`: every viewer gets its own TCP
 * connection and so its own fresh RFB handshake. If the desktop cannot be reached the bridge
 * answers `{type:"open_failed", connId, message}`, and the hub tells that viewer.
 * `{type:"close", connId}` ends that viewer's pipe (or its opening). Pipes outlive a primary
 * socket that drops and reconnects; closing the relay (stop, hibernate, bridge shutdown) ends
 * the primary socket and every pipe.
 */
import type { PrimaryHubFrame } from "../durable-objects/desktop/protocol.ts";
import type { BackoffOptions } from "./backoff.ts";
import { DataSocketRefused, dataSocketUrl } from "./data-socket.ts";
import type { VncEndpoint } from "./drivers/driver.ts";
import { errorMessage } from "./errors.ts";
import type { Logger } from "./log.ts";
import { PrimaryChannel } from "./primary-channel.ts";
import { emptyCounters, type PipeLimits, type TransferCounters, ViewerPipe } from "./viewer-pipe.ts";

export interface DataRelayOptions extends Partial<PipeLimits> {
  sessionId: string;
  /** The session's data URL from its start / wake payload (without `conn`). */
  dataUrl: string;
  dataToken: string;
  /** Asked for every viewer: the desktop may have moved (a woken pod has a new IP). */
  vncEndpoint: () => Promise<VncEndpoint>;
  log: Logger;
  /** Reconnect delays of the primary socket. */
  backoff?: BackoffOptions;
  /** A primary connection that lasted this long counts as healthy: the backoff starts over. */
  healthyAfterMs?: number;
}

export interface DataRelayStats extends TransferCounters {
  /** Primary-socket connections opened so far. */
  primaryConnections: number;
  primaryConnected: boolean;
  /** Viewer pipes open (or opening) now. */
  viewers: number;
  /** Viewer pipes that reached the streaming state so far. */
  viewersOpened: number;
  /** `open_failed` answers sent so far. */
  openFailures: number;
}

const KIB = 1024;
/** `open_failed.message` is at most this long (protocol). */
const MAX_FAILURE_MESSAGE = 500;

export class DataRelay {
  readonly #o: DataRelayOptions;
  readonly #limits: PipeLimits;
  readonly #log: Logger;
  readonly #primary: PrimaryChannel;
  readonly #pipes = new Map<string, { pipe: ViewerPipe; task: Promise<void> }>();
  readonly #totals = emptyCounters();
  #viewersOpened = 0;
  #openFailures = 0;
  #closed = false;

  constructor(options: DataRelayOptions) {
    this.#o = options;
    this.#limits = {
      maxMessageBytes: options.maxMessageBytes ?? 64 * KIB,
      highWaterBytes: options.highWaterBytes ?? 2048 * KIB,
      lowWaterBytes: options.lowWaterBytes ?? 512 * KIB,
      pingIntervalMs: options.pingIntervalMs ?? 30_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    };
    this.#log = options.log.child({ sessionId: options.sessionId, component: "data-relay" });
    this.#primary = new PrimaryChannel({
      url: dataSocketUrl(options.dataUrl, "primary"),
      dataToken: options.dataToken,
      log: this.#log,
      onFrame: (frame) => this.#onHubFrame(frame),
      ...(options.backoff && { backoff: options.backoff }),
      pingIntervalMs: this.#limits.pingIntervalMs,
      connectTimeoutMs: this.#limits.connectTimeoutMs,
      healthyAfterMs: options.healthyAfterMs ?? 5_000,
    });
  }

  /** Opens the primary socket; keeps it open until `close()`. */
  start(): void {
    this.#primary.start();
  }

  /** Stops for good: closes the primary socket and every viewer's data socket with `code`, and their VNC connections. */
  async close(code = 1000, reason = "session stopped"): Promise<void> {
    this.#closed = true;
    const tasks = [...this.#pipes.values()].map(({ pipe, task }) => {
      void pipe.close(code, reason);
      return task;
    });
    await Promise.all([this.#primary.close(code, reason), ...tasks]);
  }

  stats(): DataRelayStats {
    const primary = this.#primary.stats();
    return {
      ...this.#totals,
      primaryConnections: primary.connections,
      primaryConnected: primary.connected,
      viewers: this.#pipes.size,
      viewersOpened: this.#viewersOpened,
      openFailures: this.#openFailures,
    };
  }

  /** The pipe of one viewer, while it is open or opening (tests and diagnostics). */
  viewer(connId: string): ViewerPipe | undefined {
    return this.#pipes.get(connId)?.pipe;
  }

  #onHubFrame(frame: PrimaryHubFrame): void {
    if (this.#closed) return;
    switch (frame.type) {
      case "open":
        // The hub re-sends `open` for viewers still waiting when the primary socket reconnects.
        if (!this.#pipes.has(frame.connId)) this.#openViewer(frame.connId);
        return;
      case "close":
        void this.#pipes.get(frame.connId)?.pipe.close(1000, "viewer left");
        return;
    }
  }

  #openViewer(connId: string): void {
    const pipe = new ViewerPipe({
      ...this.#limits,
      connId,
      url: dataSocketUrl(this.#o.dataUrl, connId),
      dataToken: this.#o.dataToken,
      log: this.#log,
      totals: this.#totals,
    });
    const task = (async () => {
      try {
        await pipe.open(await this.#o.vncEndpoint());
      } catch (e: unknown) {
        this.#openFailed(pipe, e);
        return;
      }
      this.#viewersOpened++;
      await pipe.ended();
    })().finally(() => {
      if (this.#pipes.get(connId)?.pipe === pipe) this.#pipes.delete(connId);
    });
    this.#pipes.set(connId, { pipe, task });
  }

  #openFailed(pipe: ViewerPipe, e: unknown): void {
    const { connId } = pipe;
    const message = errorMessage(e);
    this.#log.warn("could not open a viewer pipe", { connId, error: message });
    // Closed meanwhile (the viewer left, the session stops), or refused because the viewer is
    // gone (404): nobody waits for an answer.
    const viewerGone = e instanceof Error && e.cause instanceof DataSocketRefused && e.cause.status === 404;
    if (this.#closed || pipe.closing || viewerGone) return;
    this.#openFailures++;
    this.#primary.send({ type: "open_failed", connId, message: message.slice(0, MAX_FAILURE_MESSAGE) });
  }
}
