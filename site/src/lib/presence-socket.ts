/**
 * A team's live presence socket: reconnects with backoff, resumes with `?since=<last seq>`,
 * de-duplicates events by `seq`, keeps the connection alive with a ping every 25 s and treats
 * a missing pong as a dead connection. Frames are checked against the room protocol's schema.
 */
import ReconnectingWebSocket from "partysocket/ws";
import { type PresenceEntry, PresenceEventSchema, ROOM_SUBPROTOCOL } from "../../../durable-objects/room/protocol.ts";

const PING_INTERVAL_MS = 25_000;
const PONG_TIMEOUT_MS = 10_000;
const PING_FRAME = JSON.stringify({ type: "ping" });

export type PresenceStatus = "connecting" | "open" | "reconnecting" | "closed";

export interface PresenceSocketOptions {
  teamId: string;
  onPresence(viewers: PresenceEntry[]): void;
  onStatus(status: PresenceStatus): void;
  /**
   * Runs before every reconnect (not the first connect): a cheap authenticated request here
   * refreshes an expired session, since a browser WebSocket cannot send the refresh itself.
   */
  beforeReconnect?: () => Promise<void>;
}

export interface PresenceSocket {
  close(): void;
}

export function connectPresence(options: PresenceSocketOptions): PresenceSocket {
  let lastSeq: number | undefined;
  let firstFrameOfConnection = true;
  let attempts = 0;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;

  const url = async (): Promise<string> => {
    if (attempts++ > 0) await options.beforeReconnect?.();
    const u = new URL(`/api/v1/teams/${encodeURIComponent(options.teamId)}/ws`, window.location.href);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    if (lastSeq !== undefined) u.searchParams.set("since", String(lastSeq));
    return u.toString();
  };

  const ws = new ReconnectingWebSocket(url, [ROOM_SUBPROTOCOL], {
    minReconnectionDelay: 500 + Math.random() * 1000,
    maxReconnectionDelay: 15_000,
    connectionTimeout: 8_000,
    // Never queue frames while offline: a ping is only meaningful on a live connection.
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
    const frame = json as { type?: unknown; seq?: unknown };
    if (frame.type === "pong") {
      clearTimeout(pongTimer);
      return;
    }
    if (frame.type === "error") {
      console.warn("presence socket error frame", json);
      return;
    }
    if (typeof frame.seq !== "number") return;
    // A seq at or below the last one seen is a duplicate, unless it opens a new connection
    // (the room's log was reset, so its numbering started again).
    if (lastSeq !== undefined && frame.seq <= lastSeq && !firstFrameOfConnection) return;
    firstFrameOfConnection = false;
    lastSeq = frame.seq;
    const presence = PresenceEventSchema.safeParse(json);
    if (presence.success) options.onPresence(presence.data.viewers);
  });

  return {
    close() {
      stopHeartbeat();
      ws.close(1000, "leaving");
      options.onStatus("closed");
    },
  };
}
