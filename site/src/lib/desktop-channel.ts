/**
 * The viewer's side of a desktop socket (durable-objects/desktop/protocol.ts): one WebSocket
 * carries JSON control frames as text and RFB bytes as binary. noVNC must only ever see the RFB
 * bytes, so it gets an `RfbChannel` — the "raw channel" noVNC's Websock accepts instead of a URL
 * (core/websock.js checks for `send`, `close`, `binaryType`, `onerror`, `onmessage`, `onopen`,
 * `protocol`, `readyState`) — which opens on `{type:"ready"}` and receives binary frames only.
 *
 * `connectDesktopViewer` owns the socket: a fresh single-use ticket per connection, a ping
 * heartbeat, and reconnection (with backoff) when the desktop goes away for a while (close
 * 1001: hibernating, stopping its stream) or the network drops; it gives up on policy closes and
 * on errors the server explained. Runtime-neutral (no DOM types) so Node tests drive it with
 * real sockets.
 */
import { z } from "zod";
import { ACK_EVERY_BYTES, DESKTOP_STATES, type DesktopState } from "../../../durable-objects/desktop/protocol.ts";

export const ViewerServerFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("state"), state: z.enum(DESKTOP_STATES), detail: z.string().nullable() }),
  z.object({ type: z.literal("ready") }),
  z.object({ type: z.literal("role"), control: z.boolean(), viewOnly: z.boolean() }),
  z.object({ type: z.literal("pong") }),
  z.object({ type: z.literal("error"), code: z.string(), message: z.string() }),
]);
export type ViewerServerFrame = z.infer<typeof ViewerServerFrameSchema>;

/** A text frame as a control frame, or undefined when it is not one (it is then dropped). */
export function parseControlFrame(text: string): ViewerServerFrame | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const frame = ViewerServerFrameSchema.safeParse(json);
  return frame.success ? frame.data : undefined;
}

export type ChannelState = "connecting" | "open" | "closing" | "closed";

export interface ChannelCloseEvent {
  type: "close";
  code: number;
  reason: string;
  wasClean: boolean;
}

type Bytes = ArrayBuffer | ArrayBufferView;

/**
 * What noVNC reads and writes instead of a WebSocket. It starts `connecting`; the connection
 * calls `open()` once the desktop's stream is paired, `deliver()` for each binary frame and
 * `end()` when the socket closes. noVNC's own `close()` closes the underlying socket.
 */
export class RfbChannel {
  onopen: ((event: { type: "open" }) => void) | null = null;
  onmessage: ((event: { type: "message"; data: ArrayBuffer }) => void) | null = null;
  onclose: ((event: ChannelCloseEvent) => void) | null = null;
  onerror: ((event: { type: "error" }) => void) | null = null;
  #state: ChannelState = "connecting";
  readonly #send: (bytes: Bytes) => void;
  readonly #close: () => void;

  constructor(send: (bytes: Bytes) => void, close: () => void) {
    this.#send = send;
    this.#close = close;
  }

  get readyState(): ChannelState {
    return this.#state;
  }

  /** No subprotocol: the server speaks plain RFB inside binary frames. */
  get protocol(): string {
    return "";
  }

  /** Frames are always delivered as ArrayBuffers (noVNC sets exactly that). */
  get binaryType(): "arraybuffer" {
    return "arraybuffer";
  }

  set binaryType(value: string) {
    if (value !== "arraybuffer") throw new Error(`RfbChannel delivers ArrayBuffers only, not ${value}`);
  }

  send(bytes: Bytes): void {
    if (this.#state === "open") this.#send(bytes);
  }

  close(): void {
    if (this.#state === "closed" || this.#state === "closing") return;
    this.#state = "closing";
    this.#close();
  }

  open(): void {
    if (this.#state !== "connecting") return;
    this.#state = "open";
    this.onopen?.({ type: "open" });
  }

  deliver(data: ArrayBuffer): void {
    if (this.#state === "open") this.onmessage?.({ type: "message", data });
  }

  end(code: number, reason: string): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.onclose?.({ type: "close", code, reason, wasClean: code === 1000 });
  }
}

/** The part of a WebSocket the connection uses (the browser's, or Node's in tests). */
export interface ViewerSocket {
  binaryType: string;
  readonly readyState: number;
  send(data: string | Bytes): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open", listener: () => void): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: () => void): void;
}

const OPEN = 1;

export type ViewerStatus =
  /** getting a ticket and opening the socket */
  | "connecting"
  /** connected; the desktop is not streaming yet (starting, waking, pairing) */
  | "waiting"
  /** RFB bytes flow */
  | "streaming"
  /** lost the connection; trying again */
  | "reconnecting"
  /** ended for good (see `onEnded`) */
  | "closed";

export interface ViewerRole {
  control: boolean;
  viewOnly: boolean;
}

export interface ViewerEnd {
  /** why, in words */
  message: string;
  /** the server's code when it explained itself (DESKTOP_STOPPED, FORBIDDEN, …) */
  code: string | undefined;
}

export interface DesktopViewerOptions {
  /**
   * A fresh ticket's socket path for every connection (tickets work once). `reconnect` is true for
   * the viewer's own reconnects: their tickets must not wake a hibernated desktop (the idle reaper
   * would otherwise be undone by any open tab), only someone opening the viewer does.
   */
  fetchTicket(reconnect: boolean): Promise<{ wsPath: string }>;
  /** Turns a path into a ws(s):// URL and opens it. */
  openSocket(path: string): ViewerSocket;
  onStatus(status: ViewerStatus): void;
  onState(state: DesktopState, detail: string | null): void;
  onRole(role: ViewerRole): void;
  /** The stream is paired: attach the RFB client to this channel now (synchronously). */
  onStream(channel: RfbChannel): void;
  /** An error frame from the server (the socket may close next). */
  onServerError?(code: string, message: string): void;
  onEnded(end: ViewerEnd): void;
  /** Whether a failure to get a ticket is worth retrying (e.g. network errors); default: no. */
  retryTicket?(error: unknown): boolean;
  /** Describes a ticket failure that ends the viewer. */
  describeTicketError?(error: unknown): ViewerEnd;
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  /** delay before reconnect attempt n (0-based) */
  backoffMs?(attempt: number): number;
  maxAttempts?: number;
}

export interface DesktopViewerConnection {
  /** Asks to control the desktop (owners in a second tab); false when not connected. */
  takeControl(): boolean;
  close(): void;
}

/** Close codes after which a new ticket and socket are worth a try. */
export function isReconnectable(code: number, serverExplained: boolean): boolean {
  if (code === 1001 || code === 1006 || code === 1012 || code === 1013) return true;
  // The bridge's data connection dropped while the desktop runs: try again, unless the server
  // said why it gave up (unreachable, wake failed).
  return code === 1011 && !serverExplained;
}

const defaultBackoff = (attempt: number) => Math.min(10_000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);

export function connectDesktopViewer(options: DesktopViewerOptions): DesktopViewerConnection {
  const pingIntervalMs = options.pingIntervalMs ?? 25_000;
  const pongTimeoutMs = options.pongTimeoutMs ?? 10_000;
  const backoff = options.backoffMs ?? defaultBackoff;
  const maxAttempts = options.maxAttempts ?? 8;
  let closed = false;
  let attempt = 0;
  /** connections opened so far (the first is the user's, later ones are reconnects) */
  let connections = 0;
  let socket: ViewerSocket | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;

  const stopHeartbeat = () => {
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    pingTimer = undefined;
    pongTimer = undefined;
  };

  const end = (result: ViewerEnd) => {
    if (closed) return;
    closed = true;
    stopHeartbeat();
    clearTimeout(retryTimer);
    options.onStatus("closed");
    options.onEnded(result);
  };

  const retry = (why: string) => {
    if (closed) return;
    if (attempt >= maxAttempts) {
      end({ message: `Lost the connection to the desktop (${why}).`, code: undefined });
      return;
    }
    options.onStatus("reconnecting");
    retryTimer = setTimeout(() => void connect(), backoff(attempt++));
  };

  const connect = async () => {
    if (closed) return;
    let path: string;
    try {
      path = (await options.fetchTicket(connections++ > 0)).wsPath;
    } catch (e: unknown) {
      if (options.retryTicket?.(e)) retry("no ticket");
      else end(options.describeTicketError?.(e) ?? { message: "Could not open the desktop.", code: undefined });
      return;
    }
    if (closed) return;
    const ws = options.openSocket(path);
    socket = ws;
    ws.binaryType = "arraybuffer";
    let channel: RfbChannel | undefined;
    let serverError: ViewerEnd | undefined;
    /** RFB bytes noVNC consumed since the last ack (the relay pauses the desktop when they pile up) */
    let unacked = 0;

    ws.addEventListener("open", () => {
      if (socket !== ws) return;
      options.onStatus("waiting");
      stopHeartbeat();
      pingTimer = setInterval(() => {
        if (ws.readyState !== OPEN) return;
        ws.send(JSON.stringify({ type: "ping" }));
        clearTimeout(pongTimer);
        pongTimer = setTimeout(() => ws.close(4000, "no pong"), pongTimeoutMs);
      }, pingIntervalMs);
    });
    ws.addEventListener("message", (event) => {
      if (socket !== ws) return;
      const { data } = event;
      if (typeof data !== "string") {
        if (!(data instanceof ArrayBuffer)) return;
        // noVNC handles a frame synchronously, so once deliver() returns the bytes are consumed.
        channel?.deliver(data);
        unacked += data.byteLength;
        if (unacked >= ACK_EVERY_BYTES && ws.readyState === OPEN) {
          ws.send(JSON.stringify({ type: "ack", bytes: unacked }));
          unacked = 0;
        }
        return;
      }
      const frame = parseControlFrame(data);
      if (!frame) return;
      switch (frame.type) {
        case "pong":
          clearTimeout(pongTimer);
          return;
        case "state":
          options.onState(frame.state, frame.detail);
          return;
        case "role":
          options.onRole({ control: frame.control, viewOnly: frame.viewOnly });
          return;
        case "error":
          serverError = { message: frame.message, code: frame.code };
          options.onServerError?.(frame.code, frame.message);
          return;
        case "ready": {
          if (channel) return;
          attempt = 0;
          const c = new RfbChannel(
            (bytes) => {
              if (ws.readyState === OPEN) ws.send(bytes);
            },
            () => ws.close(1000, "viewer closed"),
          );
          channel = c;
          options.onStatus("streaming");
          options.onStream(c);
          c.open();
          return;
        }
      }
    });
    ws.addEventListener("error", () => channel?.onerror?.({ type: "error" }));
    ws.addEventListener("close", ({ code, reason }) => {
      // noVNC waits for its channel to close, also after the viewer left.
      channel?.end(code, reason);
      if (socket !== ws) return;
      socket = undefined;
      stopHeartbeat();
      if (closed) return;
      if (isReconnectable(code, serverError !== undefined)) retry(reason || `code ${code}`);
      else end(serverError ?? { message: reason || `The desktop connection closed (code ${code}).`, code: undefined });
    });
  };

  options.onStatus("connecting");
  void connect();

  return {
    takeControl() {
      if (!socket || socket.readyState !== OPEN) return false;
      socket.send(JSON.stringify({ type: "take_control" }));
      return true;
    },
    close() {
      if (closed) return;
      closed = true;
      stopHeartbeat();
      clearTimeout(retryTimer);
      const ws = socket;
      socket = undefined;
      ws?.close(1000, "leaving");
      options.onStatus("closed");
    },
  };
}
