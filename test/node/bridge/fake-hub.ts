/**
 * An in-test control plane for the bridge: a `ws` server that authenticates on the HTTP upgrade
 * like the Worker does (`Authorization: Bearer`) and plays the BridgeHub's control socket
 * (`/api/v1/bridges/connect`) and the DesktopSession DOs' bridge sockets
 * (`/api/v1/desktops/<id>/bridge-data?conn=primary|<connId>`, protocol.ts in
 * durable-objects/desktop). It validates every frame the bridge sends with the real schemas and
 * lets a test send frames, announce viewers, drop connections and wait for answers.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { type BridgeFrame, BridgeFrameSchema } from "../../../durable-objects/bridge/protocol.ts";
import { type PrimaryBridgeFrame, PrimaryBridgeFrameSchema } from "../../../durable-objects/desktop/protocol.ts";

export interface ControlConnection {
  ws: WebSocket;
  headers: IncomingMessage["headers"];
  frames: BridgeFrame[];
  /** Frames that failed BridgeFrameSchema (should stay empty). */
  invalid: unknown[];
  send(frame: unknown): void;
  /** Resolves with the first frame (already received or future) matching `predicate`. */
  waitFor<T extends BridgeFrame["type"]>(
    type: T,
    predicate?: (f: Extract<BridgeFrame, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<BridgeFrame, { type: T }>>;
  ofType<T extends BridgeFrame["type"]>(type: T): Extract<BridgeFrame, { type: T }>[];
  closed: Promise<{ code: number; reason: string }>;
}

/** The bridge's primary socket of one session (`conn=primary`). */
export interface PrimaryConnection {
  sessionId: string;
  ws: WebSocket;
  headers: IncomingMessage["headers"];
  frames: PrimaryBridgeFrame[];
  /** Frames that failed PrimaryBridgeFrameSchema, and binary frames (should stay empty). */
  invalid: unknown[];
  /** Sends `{type:"open", connId}` (a new viewer waits) and returns the connId. */
  open(connId?: string): string;
  /** Sends `{type:"close", connId}` (that viewer left before its data socket came). */
  cancel(connId: string): void;
  waitFor<T extends PrimaryBridgeFrame["type"]>(
    type: T,
    predicate?: (f: Extract<PrimaryBridgeFrame, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<PrimaryBridgeFrame, { type: T }>>;
  closed: Promise<{ code: number; reason: string }>;
}

/** A viewer's data socket (`conn=<connId>`). */
export interface DataConnection {
  sessionId: string;
  connId: string;
  ws: WebSocket;
  headers: IncomingMessage["headers"];
  /** Binary frames, in order. */
  received: Buffer[];
  /** Text frames from the bridge (the data plane is binary: should stay empty). */
  texts: string[];
  bytes(): Buffer;
  /** Sends `{type:"pause"}` / `{type:"resume"}`, as the DO does when the viewer falls behind. */
  pause(): void;
  resume(): void;
  closed: Promise<{ code: number; reason: string }>;
}

export interface FakeHubOptions {
  bridgeToken: string;
  dataToken?: string;
  /** Send `welcome` right after the upgrade (before hello arrives), as a hub may. */
  welcome?: { bridgeId: string; heartbeatIntervalMs: number };
}

export interface FakeHub {
  /** Base URL (http) — what ATRIUM_URL would be. */
  baseUrl: string;
  controlUrl: string;
  /** A session's data URL as start/wake payloads carry it (the bridge adds `conn`). */
  dataUrl(sessionId: string): string;
  control: ControlConnection[];
  primaries: PrimaryConnection[];
  data: DataConnection[];
  /** Upgrades refused so far (bad token, unknown connection, refuseNext*). */
  refused: number;
  nextControl(index: number, timeoutMs?: number): Promise<ControlConnection>;
  nextPrimary(index: number, timeoutMs?: number): Promise<PrimaryConnection>;
  /** The open primary socket of `sessionId` (waits for one). */
  primaryOf(sessionId: string, timeoutMs?: number): Promise<PrimaryConnection>;
  /** The data socket the bridge opened for `connId` (waits for it). */
  dataFor(connId: string, timeoutMs?: number): Promise<DataConnection>;
  /** A new viewer: `open` on the session's primary socket, resolved with the data socket the bridge opens for it. */
  openViewer(sessionId: string, timeoutMs?: number): Promise<DataConnection>;
  /** Refuse the next `n` control upgrades with 503. */
  refuseNext(n: number): void;
  /** Refuse the next `n` primary upgrades with 503. */
  refuseNextPrimary(n: number): void;
  close(): Promise<void>;
}

/**
 * Starts the hub. Like the DesktopSession DO it accepts a data socket only for a viewer it
 * announced with `open` (404 otherwise), re-sends `open` for the viewers still waiting when a
 * primary socket (re)connects, and replaces an older primary of the same session (4000).
 */
export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  // Compression offered by the server: the bridge must still not negotiate it.
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: true });
  const control: ControlConnection[] = [];
  const primaries: PrimaryConnection[] = [];
  const data: DataConnection[] = [];
  /** connIds announced with `open` and not yet paired or cancelled, per session */
  const waiting = new Map<string, Set<string>>();
  const waitingOf = (sessionId: string) => {
    const set = waiting.get(sessionId) ?? new Set<string>();
    waiting.set(sessionId, set);
    return set;
  };
  const wakers = new Set<() => void>();
  const wake = () => {
    for (const w of [...wakers]) w();
  };
  const openPrimary = (sessionId: string) => primaries.findLast((p) => p.sessionId === sessionId && p.ws.readyState === p.ws.OPEN);
  let refuse = 0;
  let refusePrimary = 0;
  const hub: FakeHub = {
    baseUrl: "",
    controlUrl: "",
    dataUrl: (sessionId) => `${hub.baseUrl.replace(/^http/, "ws")}/api/v1/desktops/${sessionId}/bridge-data`,
    control,
    primaries,
    data,
    refused: 0,
    nextControl: (index, timeoutMs) => waitUntil(() => control[index], wakers, timeoutMs, `control connection #${index}`),
    nextPrimary: (index, timeoutMs) => waitUntil(() => primaries[index], wakers, timeoutMs, `primary connection #${index}`),
    primaryOf: (sessionId, timeoutMs) => waitUntil(() => openPrimary(sessionId), wakers, timeoutMs, `a primary socket of ${sessionId}`),
    dataFor: (connId, timeoutMs) => waitUntil(() => data.find((d) => d.connId === connId), wakers, timeoutMs, `data socket ${connId}`),
    openViewer: async (sessionId, timeoutMs) => {
      const primary = await hub.primaryOf(sessionId, timeoutMs);
      return hub.dataFor(primary.open(), timeoutMs);
    },
    refuseNext: (n) => {
      refuse = n;
    },
    refuseNextPrimary: (n) => {
      refusePrimary = n;
    },
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const server = createServer((_req, res) => {
    res.writeHead(426).end();
  });
  server.on("upgrade", (req, socket: Socket, head) => {
    const url = new URL(req.url ?? "/", "http://hub");
    const isControl = url.pathname === "/api/v1/bridges/connect";
    const sessionId = /^\/api\/v1\/desktops\/([0-9a-f-]+)\/bridge-data$/.exec(url.pathname)?.[1];
    const conn = url.searchParams.get("conn");
    const expected = isControl ? options.bridgeToken : options.dataToken;
    const reject = (status: number, text: string) => {
      hub.refused++;
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if ((!isControl && !(sessionId && conn)) || !expected) return reject(404, "Not Found");
    if (isControl && refuse > 0) {
      refuse--;
      return reject(503, "Service Unavailable");
    }
    if (req.headers.authorization !== `Bearer ${expected}`) return reject(401, "Unauthorized");
    if (sessionId && conn === "primary" && refusePrimary > 0) {
      refusePrimary--;
      return reject(503, "Service Unavailable");
    }
    if (sessionId && conn !== "primary" && !waitingOf(sessionId).has(conn ?? "")) return reject(404, "Not Found");
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("error", () => {});
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
      );
      if (isControl) {
        control.push(controlConnection(ws, req.headers, closed, wakers));
        if (options.welcome) ws.send(JSON.stringify({ type: "welcome", ...options.welcome }));
      } else if (sessionId && conn === "primary") {
        openPrimary(sessionId)?.ws.close(4000, "Replaced by a newer primary connection.");
        primaries.push(primaryConnection(sessionId, ws, req.headers, closed, waitingOf(sessionId), wakers));
        for (const connId of waitingOf(sessionId)) ws.send(JSON.stringify({ type: "open", connId }));
      } else if (sessionId && conn) {
        waitingOf(sessionId).delete(conn);
        data.push(dataConnection(sessionId, conn, ws, req.headers, closed, wake));
      }
      wake();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  hub.baseUrl = `http://127.0.0.1:${port}`;
  hub.controlUrl = `ws://127.0.0.1:${port}/api/v1/bridges/connect`;
  return hub;
}

function primaryConnection(
  sessionId: string,
  ws: WebSocket,
  headers: IncomingMessage["headers"],
  closed: PrimaryConnection["closed"],
  waiting: Set<string>,
  wakers: Set<() => void>,
): PrimaryConnection {
  const frames: PrimaryBridgeFrame[] = [];
  const invalid: unknown[] = [];
  ws.on("message", (raw: Buffer, isBinary: boolean) => {
    const parsed = isBinary ? undefined : PrimaryBridgeFrameSchema.safeParse(safeJson(raw.toString()));
    if (parsed?.success) frames.push(parsed.data);
    else invalid.push(isBinary ? raw : raw.toString());
    for (const w of [...wakers]) w();
  });
  const ofType = <T extends PrimaryBridgeFrame["type"]>(type: T) =>
    frames.filter((f): f is Extract<PrimaryBridgeFrame, { type: T }> => f.type === type);
  return {
    sessionId,
    ws,
    headers,
    frames,
    invalid,
    open: (connId = randomUUID()) => {
      waiting.add(connId);
      ws.send(JSON.stringify({ type: "open", connId }));
      return connId;
    },
    cancel: (connId) => {
      waiting.delete(connId);
      ws.send(JSON.stringify({ type: "close", connId }));
    },
    waitFor: (type, predicate, timeoutMs) =>
      waitUntil(() => ofType(type).find((f) => predicate?.(f) ?? true), wakers, timeoutMs, `a "${type}" frame`),
    closed,
  };
}

function dataConnection(
  sessionId: string,
  connId: string,
  ws: WebSocket,
  headers: IncomingMessage["headers"],
  closed: DataConnection["closed"],
  wake: () => void,
): DataConnection {
  const received: Buffer[] = [];
  const texts: string[] = [];
  ws.on("message", (d: Buffer, isBinary: boolean) => {
    if (isBinary) received.push(d);
    else texts.push(d.toString());
    wake();
  });
  return {
    sessionId,
    connId,
    ws,
    headers,
    received,
    texts,
    bytes: () => Buffer.concat(received),
    pause: () => ws.send(JSON.stringify({ type: "pause" })),
    resume: () => ws.send(JSON.stringify({ type: "resume" })),
    closed,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function controlConnection(
  ws: WebSocket,
  headers: IncomingMessage["headers"],
  closed: ControlConnection["closed"],
  wakers: Set<() => void>,
): ControlConnection {
  const frames: BridgeFrame[] = [];
  const invalid: unknown[] = [];
  ws.on("message", (raw: Buffer) => {
    let json: unknown;
    try {
      json = JSON.parse(raw.toString());
    } catch {
      invalid.push(raw.toString());
      return;
    }
    const parsed = BridgeFrameSchema.safeParse(json);
    if (parsed.success) frames.push(parsed.data);
    else invalid.push(json);
    for (const w of [...wakers]) w();
  });
  const ofType = <T extends BridgeFrame["type"]>(type: T) => frames.filter((f): f is Extract<BridgeFrame, { type: T }> => f.type === type);
  return {
    ws,
    headers,
    frames,
    invalid,
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    ofType,
    waitFor: (type, predicate, timeoutMs) =>
      waitUntil(() => ofType(type).find((f) => predicate?.(f) ?? true), wakers, timeoutMs, `a "${type}" frame`),
    closed,
  };
}

async function waitUntil<T>(check: () => T | undefined, wakers: Set<() => void>, timeoutMs = 5_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(left, 100));
      wakers.add(done);
    });
  }
}
