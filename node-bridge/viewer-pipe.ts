/**
 * One viewer's RFB connection: a fresh TCP connection to the session's VNC server piped to the
 * viewer's data socket (`conn=<connId>`), raw binary both ways. One-shot: when either side
 * closes the other is closed and the pipe is over; it is never re-dialled (the viewer's RFB
 * client cannot resume a half-consumed stream, so the hub asks for a new pipe instead).
 *
 * The TCP connection is made first and the socket opened only once it holds, so the hub never
 * pairs a viewer with a socket that has no desktop behind it; the VNC server's greeting waits,
 * unread, until the socket is open.
 *
 * Backpressure, both ways: TCP reads are coalesced into messages of ≤ 64 KiB (the DO pays per
 * message) and reading pauses while the socket's `bufferedAmount` is above a high-water mark,
 * until the send callbacks bring it under the low-water mark; the hub pauses and resumes TCP
 * reading with `{"type":"pause"}` / `{"type":"resume"}` text frames when its viewer stalls; a TCP
 * write that buffers pauses reading the socket until the TCP side drains.
 *
 * A VNC server with a password (the endpoint's `auth`): the bridge logs in right after dialling,
 * before the data socket opens (a wrong password is an `open_failed`, not a viewer staring at a
 * dead stream), and then plays an RFB server offering security type None to the viewer
 * (rfb-handshake.ts); the VNC server is read again only once the viewer's handshake is over.
 */
import { connect, type Socket } from "node:net";
import { WebSocket } from "ws";
import { z } from "zod";
import type { DataHubFrame } from "../durable-objects/desktop/protocol.ts";
import { type OpenedSocket, openDataSocket } from "./data-socket.ts";
import type { VncEndpoint } from "./drivers/driver.ts";
import type { Logger } from "./log.ts";
import { VncServerLogin, ViewerNoneHandshake } from "./rfb-handshake.ts";
import { keepAlive } from "./ws-keepalive.ts";

/** Text frames the hub may send on a data socket. */
const DataHubFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("pause") }),
  z.object({ type: z.literal("resume") }),
]) satisfies z.ZodType<DataHubFrame>;

/** Byte counters a pipe adds to (its own, and its session's totals). */
export interface TransferCounters {
  bytesToHub: number;
  bytesToVnc: number;
  messagesToHub: number;
  largestMessageToHub: number;
}

export function emptyCounters(): TransferCounters {
  return { bytesToHub: 0, bytesToVnc: 0, messagesToHub: 0, largestMessageToHub: 0 };
}

export interface ViewerPipeStats extends TransferCounters {
  /** both sides are up and bytes flow */
  open: boolean;
  pausedByHub: boolean;
  pausedByBuffer: boolean;
}

export interface PipeLimits {
  /** Largest binary message sent to the hub. */
  maxMessageBytes: number;
  /** Pause TCP reading when the socket buffers more than this… */
  highWaterBytes: number;
  /** …and resume once it is down to this. */
  lowWaterBytes: number;
  pingIntervalMs: number;
  /** Limit for the TCP dial and for the socket's handshake, each. */
  connectTimeoutMs: number;
}

export interface ViewerPipeOptions extends PipeLimits {
  connId: string;
  /** The data socket's URL (`conn=<connId>`). */
  url: string;
  dataToken: string;
  log: Logger;
  /** The session's totals, added to along with the pipe's own. */
  totals: TransferCounters;
}

export class ViewerPipe {
  readonly connId: string;
  readonly #o: ViewerPipeOptions;
  readonly #log: Logger;
  readonly #stats: ViewerPipeStats = { ...emptyCounters(), open: false, pausedByHub: false, pausedByBuffer: false };
  #cancelled: { code: number; reason: string } | undefined;
  #tcp: Socket | undefined;
  #ws: WebSocket | undefined;
  #ended: Promise<void> | undefined;

  constructor(options: ViewerPipeOptions) {
    this.connId = options.connId;
    this.#o = options;
    this.#log = options.log.child({ connId: options.connId });
  }

  /**
   * Dials `endpoint`, then opens the data socket, then pipes. Resolves once bytes flow; rejects
   * when either side cannot be reached (a refused socket: `cause` is a DataSocketRefused) or
   * the pipe was closed meanwhile.
   */
  async open(endpoint: VncEndpoint): Promise<void> {
    const tcp = await this.#dial(endpoint);
    this.#tcp = tcp;
    if (this.closing) {
      tcp.destroy();
      throw new Error("closed while connecting");
    }
    const authenticated = endpoint.auth?.type === "vnc";
    if (endpoint.auth?.type === "vnc") {
      try {
        await this.#login(tcp, endpoint.auth.password);
      } catch (e: unknown) {
        tcp.destroy();
        throw e;
      }
      if (this.closing) {
        tcp.destroy();
        throw new Error("closed while connecting");
      }
    }
    let opened: OpenedSocket;
    try {
      opened = await openDataSocket(this.#o.url, this.#o.dataToken, {
        handshakeTimeoutMs: this.#o.connectTimeoutMs,
        onError: (e) => this.#log.warn("data socket error", { error: e.message }),
      });
    } catch (e: unknown) {
      tcp.destroy();
      throw new Error(e instanceof Error ? e.message : String(e), { cause: e });
    }
    const { ws, early } = opened;
    this.#ws = ws;
    if (this.#cancelled) {
      ws.close(this.#cancelled.code, this.#cancelled.reason);
      tcp.destroy();
      throw new Error("closed while connecting");
    }
    this.#stats.open = true;
    this.#log.info("viewer pipe open", { vnc: `${endpoint.host}:${endpoint.port}` });
    this.#ended = this.#pipe(ws, tcp, early.take(), authenticated ? new ViewerNoneHandshake() : undefined);
  }

  /** Resolves when both sides have closed (at once if the pipe never opened). */
  ended(): Promise<void> {
    return this.#ended ?? Promise.resolve();
  }

  /** `close()` was called: the pipe ends or has ended on purpose. */
  get closing(): boolean {
    return this.#cancelled !== undefined;
  }

  /** Ends the pipe (or its opening): closes the data socket with `code` and drops the TCP connection. */
  close(code: number, reason: string): Promise<void> {
    this.#cancelled ??= { code, reason };
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.close(code, reason);
    this.#tcp?.destroy();
    return this.ended();
  }

  stats(): ViewerPipeStats {
    return { ...this.#stats };
  }

  #dial(endpoint: VncEndpoint): Promise<Socket> {
    const where = `VNC ${endpoint.host}:${endpoint.port}`;
    return new Promise((resolve, reject) => {
      const tcp = connect({ host: endpoint.host, port: endpoint.port, noDelay: true });
      // What the VNC server sends before the socket is open waits in the kernel and Node's buffer.
      tcp.pause();
      let connected = false;
      const timer = setTimeout(() => {
        tcp.destroy();
        reject(new Error(`${where} did not accept within ${this.#o.connectTimeoutMs} ms`));
      }, this.#o.connectTimeoutMs);
      // One listener for the socket's whole life: an error between dialling and piping must not
      // be an unhandled 'error' event (that would take the whole bridge down).
      tcp.on("error", (e) => {
        if (connected) this.#log.warn("VNC connection error", { error: e.message });
        else {
          clearTimeout(timer);
          reject(new Error(`${where}: ${e.message}`, { cause: e }));
        }
      });
      tcp.once("connect", () => {
        connected = true;
        clearTimeout(timer);
        resolve(tcp);
      });
    });
  }

  /**
   * VNC authentication with the server on the viewer's behalf. Leaves the socket paused, with any
   * bytes the server sent after its SecurityResult put back for the pipe.
   */
  #login(tcp: Socket, password: string): Promise<void> {
    const login = new VncServerLogin(password);
    return new Promise((resolve, reject) => {
      const finish = (error?: Error) => {
        clearTimeout(timer);
        tcp.off("data", onData);
        tcp.off("close", onClose);
        tcp.pause();
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => finish(new Error(`the VNC server did not complete its handshake within ${this.#o.connectTimeoutMs} ms`)),
        this.#o.connectTimeoutMs,
      );
      const onData = (chunk: Buffer) => {
        const step = login.push(chunk);
        if (step.send.length > 0) tcp.write(step.send);
        if (step.error) finish(new Error(step.error));
        else if (step.done) {
          if (step.done.rest.length > 0) tcp.unshift(step.done.rest);
          finish();
        }
      };
      const onClose = () => finish(new Error("the VNC server closed the connection during its handshake"));
      tcp.on("data", onData);
      tcp.once("close", onClose);
      tcp.resume();
    });
  }

  #count(field: "bytesToHub" | "bytesToVnc" | "messagesToHub", n: number): void {
    this.#stats[field] += n;
    this.#o.totals[field] += n;
  }

  #pipe(ws: WebSocket, tcp: Socket, early: [Buffer, boolean][], viewerHandshake?: ViewerNoneHandshake): Promise<void> {
    const o = this.#o;
    const stats = this.#stats;
    const log = this.#log;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let flushScheduled = false;
    let waitingForTcpDrain = false;

    // While the bridge still plays the server towards the viewer, the VNC server is not read.
    let handshaking = viewerHandshake !== undefined;
    const applyPause = () => {
      if (handshaking || stats.pausedByHub || stats.pausedByBuffer) tcp.pause();
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
      const all = pending.length === 1 && pending[0] ? pending[0] : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      for (let offset = 0; offset < all.length; offset += o.maxMessageBytes) {
        const piece = all.subarray(offset, offset + o.maxMessageBytes);
        this.#count("bytesToHub", piece.length);
        this.#count("messagesToHub", 1);
        stats.largestMessageToHub = Math.max(stats.largestMessageToHub, piece.length);
        o.totals.largestMessageToHub = Math.max(o.totals.largestMessageToHub, piece.length);
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

    const toVnc = (data: Buffer) => {
      this.#count("bytesToVnc", data.length);
      if (!tcp.write(data) && !waitingForTcpDrain) {
        waitingForTcpDrain = true;
        ws.pause();
        tcp.once("drain", () => {
          waitingForTcpDrain = false;
          ws.resume();
        });
      }
    };
    const onViewerHandshake = (handshake: ViewerNoneHandshake, data: Buffer) => {
      const step = handshake.push(data);
      if (step.send.length > 0 && ws.readyState === WebSocket.OPEN) ws.send(step.send, { binary: true });
      if (step.error) {
        log.warn("viewer RFB handshake failed", { error: step.error });
        if (ws.readyState === WebSocket.OPEN) ws.close(1008, step.error.slice(0, 120));
        tcp.destroy();
        return;
      }
      if (step.done) {
        handshaking = false;
        log.debug("viewer handshake done", { viewerVersion: handshake.viewerVersion });
        if (step.done.rest.length > 0) toVnc(step.done.rest);
        applyPause();
      }
    };
    if (viewerHandshake) ws.send(viewerHandshake.greeting(), { binary: true });

    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (isBinary && handshaking && viewerHandshake) {
        onViewerHandshake(viewerHandshake, data);
        return;
      }
      if (isBinary) {
        toVnc(data);
        return;
      }
      const frame = parseHubFrame(data);
      if (!frame) {
        log.warn("ignoring unknown text frame on the data socket", { bytes: data.length });
        return;
      }
      stats.pausedByHub = frame.type === "pause";
      applyPause();
    };
    for (const [data, isBinary] of early) onMessage(data, isBinary);
    ws.on("message", onMessage);

    const stopKeepAlive = keepAlive(ws, o.pingIntervalMs, () => log.warn("data socket stopped answering pings; terminating"));
    applyPause();

    return new Promise<void>((resolve) => {
      let wsClosed = false;
      let tcpClosed = false;
      const settle = () => {
        if (!wsClosed || !tcpClosed) return;
        stats.open = false;
        resolve();
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
        // Forward what the VNC server said last (e.g. a failure reason) before closing.
        flush();
        if (ws.readyState === WebSocket.OPEN) {
          const { code, reason } = this.#cancelled ?? { code: 1000, reason: "vnc connection closed" };
          ws.close(code, reason);
        }
        settle();
      };
      // The VNC server may have hung up while the data socket was still opening.
      if (tcp.destroyed) onTcpClose();
      else tcp.once("close", onTcpClose);
    });
  }
}

function parseHubFrame(data: Buffer): DataHubFrame | undefined {
  if (data.length > 1024) return undefined;
  try {
    const parsed = DataHubFrameSchema.safeParse(JSON.parse(data.toString("utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
