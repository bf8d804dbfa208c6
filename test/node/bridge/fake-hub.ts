/**
 * An in-test BridgeHub: a `ws` server that authenticates on the HTTP upgrade like the Worker does
 * (`Authorization: Bearer`), accepts the control socket at `/api/v1/bridges/connect` and data
 * sockets at `/data/<sessionId>`, validates every frame the bridge sends with the real
 * `BridgeFrameSchema`, and lets a test send frames, drop connections and wait for answers.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";
import { type BridgeFrame, BridgeFrameSchema } from "../../../durable-objects/bridge/protocol.ts";

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

export interface DataConnection {
  sessionId: string;
  ws: WebSocket;
  headers: IncomingMessage["headers"];
  received: Buffer[];
  bytes(): Buffer;
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
  dataUrl(sessionId: string): string;
  control: ControlConnection[];
  data: DataConnection[];
  /** Upgrades refused so far (bad token). */
  refused: number;
  nextControl(index: number, timeoutMs?: number): Promise<ControlConnection>;
  nextData(index: number, timeoutMs?: number): Promise<DataConnection>;
  /** Refuse the next `n` control upgrades with 503. */
  refuseNext(n: number): void;
  close(): Promise<void>;
}

export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const wss = new WebSocketServer({ noServer: true });
  const control: ControlConnection[] = [];
  const data: DataConnection[] = [];
  const wakers = new Set<() => void>();
  const wake = () => {
    for (const w of [...wakers]) w();
  };
  let refuse = 0;
  const hub: FakeHub = {
    baseUrl: "",
    controlUrl: "",
    dataUrl: (sessionId) => `${hub.baseUrl.replace(/^http/, "ws")}/data/${sessionId}`,
    control,
    data,
    refused: 0,
    nextControl: (index, timeoutMs) => waitUntil(() => control[index], wakers, timeoutMs, `control connection #${index}`),
    nextData: (index, timeoutMs) => waitUntil(() => data[index], wakers, timeoutMs, `data connection #${index}`),
    refuseNext: (n) => {
      refuse = n;
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
    const dataMatch = /^\/data\/([0-9a-f-]+)$/.exec(url.pathname);
    const expected = isControl ? options.bridgeToken : options.dataToken;
    const reject = (status: number, text: string) => {
      hub.refused++;
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if ((!isControl && !dataMatch) || !expected) return reject(404, "Not Found");
    if (isControl && refuse > 0) {
      refuse--;
      return reject(503, "Service Unavailable");
    }
    if (req.headers.authorization !== `Bearer ${expected}`) return reject(401, "Unauthorized");
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("error", () => {});
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
      );
      if (isControl) {
        control.push(controlConnection(ws, req.headers, closed, wakers));
        if (options.welcome) ws.send(JSON.stringify({ type: "welcome", ...options.welcome }));
      } else {
        const received: Buffer[] = [];
        ws.on("message", (d: Buffer) => {
          received.push(d);
          wake();
        });
        data.push({ sessionId: dataMatch?.[1] ?? "", ws, headers: req.headers, received, bytes: () => Buffer.concat(received), closed });
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
