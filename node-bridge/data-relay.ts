/**
 * The data path of one desktop session (DESIGN §5 "Desktop data"): raw RFB bytes between the
 * session's VNC server (TCP) and its DesktopSession DO (the data WebSocket `payload.dataUrl`,
 * `Authorization: Bearer <dataToken>`), binary frames only, no compression (RFB is already
 * encoded; deflate would cost CPU on both ends for little), masking done natively by `bufferutil`.
 *
 * One TCP connection per data-socket connection: every time the socket (re)connects the relay
 * dials the VNC server afresh, so each connection starts with a fresh RFB handshake ("RFB 003.008")
 * and never resumes a half-consumed stream. The hub can therefore get a clean handshake for a new
 * viewer just by closing the data socket; the relay reconnects at once after a healthy connection
 * and with backoff after a failed one, for as long as the session runs. The TCP connection is
 * made first and the socket opened only once it holds, so the hub never sees a data socket with
 * no desktop behind it.
 *
 * Backpressure, both ways: TCP reads are coalesced into messages of ≤ 64 KiB (the DO pays per
 * message) and paused while the socket's `bufferedAmount` is above a high-water mark, until the
 * send callbacks bring it under the low-water mark; the hub pauses and resumes TCP reading with
 * `{"type":"pause"}` / `{"type":"resume"}` text frames when a viewer stalls; a TCP write that
 * buffers pauses reading the socket until the TCP side drains.
 */
import { EventEmitter } from "node:events";
import { connect, type Socket } from "node:net";
import { WebSocket } from "ws";
import { z } from "zod";
import { Backoff, type BackoffOptions } from "./backoff.ts";
import type { VncEndpoint } from "./drivers/driver.ts";
import { errorMessage } from "./errors.ts";
import type { Logger } from "./log.ts";
import { keepAlive } from "./ws-keepalive.ts";

/** Text frames the hub may send on a data socket. */
export const DataControlFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("pause") }),
  z.object({ type: z.literal("resume") }),
]);
export type DataControlFrame = z.infer<typeof DataControlFrameSchema>;

export interface DataRelayOptions {
  sessionId: string;
  dataUrl: string;
  dataToken: string;
  /** Asked on every (re)connect: the desktop may have moved (a woken pod has a new IP). */
  vncEndpoint: () => Promise<VncEndpoint>;
  log: Logger;
  /** Largest binary message sent to the hub. */
  maxMessageBytes?: number;
  /** Pause TCP reading when the socket buffers more than this… */
  highWaterBytes?: number;
  /** …and resume once it is down to this. */
  lowWaterBytes?: number;
  backoff?: BackoffOptions;
  pingIntervalMs?: number;
  connectTimeoutMs?: number;
  /** A connection that lasted this long counts as healthy: the next reconnect is immediate. */
  healthyAfterMs?: number;
}

export interface DataRelayStats {
  /** Data-socket connections opened so far. */
  connections: number;
  connected: boolean;
  bytesToHub: number;
  bytesToVnc: number;
  messagesToHub: number;
  largestMessageToHub: number;
  pausedByHub: boolean;
  pausedByBuffer: boolean;
}

const KIB = 1024;

export class DataRelay extends EventEmitter<{ connected: []; disconnected: [] }> {
  readonly #o: Required<Omit<DataRelayOptions, "backoff">>;
  readonly #backoff: Backoff;
  readonly #log: Logger;
  #closed = false;
  #closeCode = 1000;
  #closeReason = "session stopped";
  #running: Promise<void> | undefined;
  #wakeSleep: (() => void) | undefined;
  #ws: WebSocket | undefined;
  #tcp: Socket | undefined;
  readonly #stats: DataRelayStats = {
    connections: 0,
    connected: false,
    bytesToHub: 0,
    bytesToVnc: 0,
    messagesToHub: 0,
    largestMessageToHub: 0,
    pausedByHub: false,
    pausedByBuffer: false,
  };

  constructor(options: DataRelayOptions) {
    super();
    this.#o = {
      maxMessageBytes: 64 * KIB,
      highWaterBytes: 2048 * KIB,
      lowWaterBytes: 512 * KIB,
      pingIntervalMs: 30_000,
      connectTimeoutMs: 10_000,
      healthyAfterMs: 5_000,
      ...options,
    };
    this.#backoff = new Backoff({ initialMs: 250, maxMs: 30_000, ...options.backoff });
    this.#log = options.log.child({ sessionId: options.sessionId, component: "data-relay" });
  }

  /** Starts relaying; reconnects until `close()`. */
  start(): void {
    this.#running ??= this.#loop();
  }

  /** Stops for good: closes the data socket with `code` and the TCP connection. */
  async close(code = 1000, reason = "session stopped"): Promise<void> {
    this.#closed = true;
    this.#closeCode = code;
    this.#closeReason = reason;
    this.#wakeSleep?.();
    this.#ws?.close(code, reason);
    this.#tcp?.destroy();
    await this.#running;
  }

  stats(): DataRelayStats {
    return { ...this.#stats };
  }

  async #loop(): Promise<void> {
    while (!this.#closed) {
      const started = Date.now();
      let opened = false;
      try {
        opened = await this.#connectOnce();
      } catch (e: unknown) {
        this.#log.warn("data relay connection failed", { error: errorMessage(e) });
      }
      if (this.#closed) break;
      const healthy = opened && Date.now() - started >= this.#o.healthyAfterMs;
      if (healthy) this.#backoff.reset();
      // A clean, healthy connection that ended was most likely closed by the hub to get a fresh
      // handshake: come back at once. Anything else backs off.
      await this.#sleep(healthy ? 50 : this.#backoff.next());
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

  /** One TCP + data-socket pair, from dial to teardown. Resolves true if the socket had opened. */
  async #connectOnce(): Promise<boolean> {
    const endpoint = await this.#o.vncEndpoint();
    const tcp = await this.#dialVnc(endpoint);
    if (this.#closed) {
      tcp.destroy();
      return false;
    }
    this.#tcp = tcp;
    let ws: WebSocket;
    let early: EarlyMessages;
    try {
      ({ ws, early } = await this.#openSocket());
    } catch (e: unknown) {
      tcp.destroy();
      throw e;
    }
    if (this.#closed) {
      ws.close(this.#closeCode, this.#closeReason);
      tcp.destroy();
      return true;
    }
    this.#ws = ws;
    this.#stats.connections++;
    this.#stats.connected = true;
    this.#stats.pausedByHub = false;
    this.#stats.pausedByBuffer = false;
    this.#log.info("data relay connected", { vnc: `${endpoint.host}:${endpoint.port}` });
    this.emit("connected");
    await this.#pipe(ws, tcp, early);
    this.#stats.connected = false;
    this.#ws = undefined;
    this.#tcp = undefined;
    this.emit("disconnected");
    return true;
  }

  #dialVnc(endpoint: VncEndpoint): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const tcp = connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
      // Bytes the VNC server sends before the socket is open wait in the kernel and Node's buffer.
      tcp.pause();
      let connected = false;
      const timer = setTimeout(() => {
        tcp.destroy();
        reject(new Error(`VNC ${endpoint.host}:${endpoint.port} did not accept within ${this.#o.connectTimeoutMs} ms`));
      }, this.#o.connectTimeoutMs);
      // One listener for the socket's whole life: an error between dialling and piping must not
      // be an unhandled 'error' event (that would take the whole bridge down).
      tcp.on("error", (e) => {
        if (connected) this.#log.warn("VNC connection error", { error: e.message });
        else {
          clearTimeout(timer);
          reject(new Error(`VNC ${endpoint.host}:${endpoint.port}: ${e.message}`));
        }
      });
      tcp.once("connect", () => {
        connected = true;
        clearTimeout(timer);
        tcp.setNoDelay(true);
        resolve(tcp);
      });
    });
  }

  #openSocket(): Promise<{ ws: WebSocket; early: EarlyMessages }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.#o.dataUrl, {
        headers: { Authorization: `Bearer ${this.#o.dataToken}` },
        perMessageDeflate: false,
        handshakeTimeout: this.#o.connectTimeoutMs,
        maxPayload: 32 * 1024 * KIB,
      });
      const fail = (e: Error) => {
        ws.removeAllListeners();
        ws.on("error", () => {});
        ws.terminate();
        reject(e);
      };
      ws.once("open", () => {
        ws.off("error", fail);
        ws.off("unexpected-response", onResponse);
        // From here on errors are only logged; the 'close' that follows ends the connection.
        ws.on("error", (e) => this.#log.warn("data socket error", { error: e.message }));
        // Frames that arrived with the upgrade response are emitted before the awaiting code
        // resumes (nextTick runs ahead of promise continuations): hold them for #pipe.
        const early: EarlyMessages = { messages: [], listener: (data, isBinary) => early.messages.push([data, isBinary]) };
        ws.on("message", early.listener);
        resolve({ ws, early });
      });
      ws.once("error", fail);
      // The token never appears in this message: only the status the hub answered with.
      const onResponse = (_req: unknown, res: { statusCode?: number }) =>
        fail(new Error(`data socket refused with HTTP ${res.statusCode}`));
      ws.once("unexpected-response", onResponse);
    });
  }

  #pipe(ws: WebSocket, tcp: Socket, early: EarlyMessages): Promise<void> {
    const o = this.#o;
    const stats = this.#stats;
    const log = this.#log;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let flushScheduled = false;
    let waitingForTcpDrain = false;

    const applyPause = () => {
      if (stats.pausedByHub || stats.pausedByBuffer) tcp.pause();
      else tcp.resume();
    };
    const onSent = (err?: Error) => {
      if (err || !stats.pausedByBuffer) return;
      if (ws.bufferedAmount <= o.lowWaterBytes) {
        stats.pausedByBuffer = false;
        applyPause();
      }
    };
    const flush = () => {
      flushScheduled = false;
      if (pendingBytes === 0 || ws.readyState !== WebSocket.OPEN) return;
      const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      for (let offset = 0; offset < all.length; offset += o.maxMessageBytes) {
        const piece = all.subarray(offset, offset + o.maxMessageBytes);
        stats.bytesToHub += piece.length;
        stats.messagesToHub++;
        stats.largestMessageToHub = Math.max(stats.largestMessageToHub, piece.length);
        ws.send(piece, { binary: true }, onSent);
      }
      if (ws.bufferedAmount > o.highWaterBytes && !stats.pausedByBuffer) {
        stats.pausedByBuffer = true;
        applyPause();
      }
    };

    tcp.on("data", (chunk: Buffer) => {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= o.maxMessageBytes) flush();
      // setImmediate runs after this I/O phase: every chunk read in it goes into one message.
      else if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    });

    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        stats.bytesToVnc += data.length;
        if (!tcp.write(data) && !waitingForTcpDrain) {
          waitingForTcpDrain = true;
          ws.pause();
          tcp.once("drain", () => {
            waitingForTcpDrain = false;
            ws.resume();
          });
        }
        return;
      }
      const frame = parseControl(data);
      if (!frame) {
        log.warn("ignoring unknown text frame on the data socket", { bytes: data.length });
        return;
      }
      stats.pausedByHub = frame.type === "pause";
      applyPause();
    };
    ws.off("message", early.listener);
    for (const [data, isBinary] of early.messages) onMessage(data, isBinary);
    ws.on("message", onMessage);

    const stopKeepAlive = keepAlive(ws, o.pingIntervalMs, () => log.warn("data socket stopped answering pings; terminating"));
    applyPause();

    return new Promise<void>((resolve) => {
      let wsClosed = false;
      let tcpClosed = false;
      const settle = () => {
        if (wsClosed && tcpClosed) resolve();
      };
      ws.once("close", (code, reason) => {
        wsClosed = true;
        stopKeepAlive();
        log.info("data socket closed", { code, reason: reason.toString() });
        tcp.destroy();
        settle();
      });
      const onTcpClose = () => {
        tcpClosed = true;
        // Flush what the VNC server said last (e.g. a failure reason) before closing.
        flush();
        if (ws.readyState === WebSocket.OPEN)
          ws.close(this.#closed ? this.#closeCode : 1000, this.#closed ? this.#closeReason : "vnc connection closed");
        settle();
      };
      // The VNC server may have hung up while the data socket was still opening.
      if (tcp.destroyed) onTcpClose();
      else tcp.once("close", onTcpClose);
    });
  }
}

interface EarlyMessages {
  messages: [Buffer, boolean][];
  listener: (data: Buffer, isBinary: boolean) => void;
}

function parseControl(data: Buffer): DataControlFrame | undefined {
  if (data.length > 1024) return undefined;
  try {
    const parsed = DataControlFrameSchema.safeParse(JSON.parse(data.toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
