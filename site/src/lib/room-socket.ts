/**
 * A room WebSocket (DESIGN §5) that survives network trouble: reconnects with backoff, resumes
 * with `?since=<last seq>`, de-duplicates events by `seq`, keeps the connection alive with a ping
 * every 25 s and treats a missing pong as a dead connection. Sequenced events go to `onEvent` in
 * order and exactly once; unsequenced `error` frames (answers to this socket's own commands) go
 * to `onError`. What the events mean is up to the caller.
 */
import ReconnectingWebSocket from "partysocket/ws";
import { ROOM_SUBPROTOCOL } from "../../../durable-objects/room/protocol.ts";

const PING_INTERVAL_MS = 25_000;
const PONG_TIMEOUT_MS = 10_000;
const PING_FRAME = JSON.stringify({ type: "ping" });

export type RoomSocketStatus = "connecting" | "open" | "reconnecting" | "closed";

/** A sequenced server event, not yet checked against the room's own schema. */
export interface RoomEvent {
  seq: number;
  type: string;
  [key: string]: unknown;
}

export interface RoomSocketOptions {
  /** same-origin path of the socket, e.g. `/api/v1/teams/{id}/ws` */
  path: string;
  onEvent(event: RoomEvent): void;
  onStatus(status: RoomSocketStatus): void;
  /** an unsequenced `{ type: "error", code, message }` frame */
  onError?(code: string, message: string): void;
  /**
   * Runs before every reconnect (not the first connect): a cheap authenticated request here
   * refreshes an expired session, since a browser WebSocket cannot send the refresh itself.
   */
  beforeReconnect?: () => Promise<void>;
}

export interface RoomSocket {
  /** Sends a command; false when the socket is not open (nothing is queued while offline). */
  send(frame: { type: string }): boolean;
  close(): void;
}

export function connectRoom(options: RoomSocketOptions): RoomSocket {
  let lastSeq: number | undefined;
  let firstFrameOfConnection = true;
  let attempts = 0;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;

  const url = async (): Promise<string> => {
    if (attempts++ > 0) await options.beforeReconnect?.();
    const u = new URL(options.path, window.location.href);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    if (lastSeq !== undefined) u.searchParams.set("since", String(lastSeq));
    return u.toString();
  };

  const ws = new ReconnectingWebSocket(url, [ROOM_SUBPROTOCOL], {
    minReconnectionDelay: 500 + Math.random() * 1000,
    maxReconnectionDelay: 15_000,
    connectionTimeout: 8_000,
    // Never queue frames while offline: a command sent later might no longer make sense.
    maxEnqueuedMessages: 0,
  });

  const stopHeartbeat = () => {
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    pingTimer = undefined;
    pongTimer = undefined;
  };

  const ping = () => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(PING_FRAME);
    clearTimeout(pongTimer);
    pongTimer = setTimeout(() => ws.reconnect(4000, "no pong"), PONG_TIMEOUT_MS);
  };

  options.onStatus("connecting");
  ws.addEventListener("open", () => {
    firstFrameOfConnection = true;
    options.onStatus("open");
    stopHeartbeat();
    pingTimer = setInterval(ping, PING_INTERVAL_MS);
  });
  ws.addEventListener("close", () => {
    stopHeartbeat();
    options.onStatus(ws.shouldReconnect ? "reconnecting" : "closed");
  });
  ws.addEventListener("message", (event: MessageEvent) => {
    if (typeof event.data !== "string") return;
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch {
      return;
    }
    if (typeof json !== "object" || json === null) return;
    const frame = json as { type?: unknown; seq?: unknown; code?: unknown; message?: unknown };
    if (frame.type === "pong") {
      clearTimeout(pongTimer);
      return;
    }
    if (typeof frame.type !== "string") return;
    if (typeof frame.seq !== "number") {
      if (frame.type === "error") {
        options.onError?.(String(frame.code ?? "ERROR"), String(frame.message ?? "The room refused that."));
      }
      return;
    }
    // A seq at or below the last one seen is a duplicate, unless it opens a new connection
    // (the room's log was reset, so its numbering started again).
    if (lastSeq !== undefined && frame.seq <= lastSeq && !firstFrameOfConnection) return;
    firstFrameOfConnection = false;
    lastSeq = frame.seq;
    options.onEvent(json as RoomEvent);
  });

  return {
    send(frame) {
      if (ws.readyState !== ws.OPEN) return false;
      ws.send(JSON.stringify(frame));
      return true;
    },
    close() {
      stopHeartbeat();
      ws.close(1000, "leaving");
      options.onStatus("closed");
    },
  };
}
