/**
 * WebSocket→TCP relay that lets the Neon serverless driver's `Pool`/`Client` reach a local
 * Postgres (production goes through Neon's own proxy). Owns the byte pipe only: one WebSocket
 * per Postgres connection, binary frames carrying the raw wire protocol both ways, and an
 * allow-list of target addresses so the relay cannot be used to reach anything else.
 *
 * Driver side: neonConfig.wsProxy = (host, port) => `127.0.0.1:${relayPort}/v1?address=${host}:${port}`
 * with useSecureWebSocket = false, pipelineTLS = false, pipelineConnect = false.
 */
import { createServer } from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type RawData, type WebSocket, WebSocketServer } from "ws";

export type PgRelayOptions = {
  /** 0 or absent picks a free port. */
  port?: number;
  host?: string;
  /** Target addresses as "host:port", exactly as the driver passes them (e.g. "127.0.0.1:5432"). */
  allow: string[];
  log?: (msg: string) => void;
};

export type PgRelay = { port: number; close(): Promise<void> };

// Stop reading Postgres while the WebSocket's send buffer is this full; resume below LOW_WATER
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
const NOOP = () => {};

export async function startPgRelay(options: PgRelayOptions): Promise<PgRelay> {
  const host = options.host ?? "127.0.0.1";
  const allow = new Set(options.allow);
  const log = options.log ?? NOOP;
  const pairs = new Set<{ ws: WebSocket; tcp: Socket }>();
  // The driver sends one wire-protocol write per frame; 64 MiB bounds a runaway client
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });

  const server = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain", connection: "close" });
    res.end("WebSocket upgrade required\n");
  });

  server.on("upgrade", (req, socket: Duplex, head: Buffer) => {
    socket.on("error", NOOP); // a client that resets mid-handshake must not crash the process
    const target = targetOf(req.url);
    if (!target) return refuse(socket, 400, "Bad Request", "expected /v1?address=host:port");
    if (!allow.has(target)) {
      log(`pg-relay: refused ${target} (not on the allow-list)`);
      return refuse(socket, 403, "Forbidden", `address ${target} is not allowed by this relay`);
    }
    wss.handleUpgrade(req, socket, head, (ws) => relay(ws, target));
  });

  function relay(ws: WebSocket, target: string): void {
    const sep = target.lastIndexOf(":");
    const tcp = connect({ host: target.slice(0, sep).replace(/^\[|\]$/g, ""), port: Number(target.slice(sep + 1)) });
    tcp.setNoDelay(true); // the wire protocol is request/response: never wait for Nagle
    const pair = { ws, tcp };
    pairs.add(pair);
    let done = false;
    let paused = false;

    const teardown = (code: number, reason: string) => {
      if (done) return;
      done = true;
      pairs.delete(pair);
      // end() lets the client's last bytes (Terminate) reach Postgres; destroy() if it lingers
      tcp.end();
      setTimeout(() => tcp.destroy(), 2000).unref();
      if (ws.readyState === ws.OPEN) ws.close(code, reason);
      else if (ws.readyState === ws.CONNECTING) ws.terminate();
    };

    const afterSend = () => {
      if (paused && ws.bufferedAmount < LOW_WATER) {
        paused = false;
        tcp.resume();
      }
    };

    // net buffers writes made before the TCP connect completes, so early frames are not lost
    ws.on("message", (data: RawData) => {
      if (done) return;
      if (!tcp.write(toBuffer(data))) ws.pause();
    });
    tcp.on("drain", () => ws.resume());
    tcp.on("data", (chunk: Buffer) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(chunk, { binary: true }, afterSend);
      if (!paused && ws.bufferedAmount > HIGH_WATER) {
        paused = true;
        tcp.pause();
      }
    });

    ws.on("error", (err) => {
      log(`pg-relay: websocket error (${target}): ${err.message}`);
      teardown(1011, "websocket error");
      tcp.destroy();
    });
    ws.on("close", () => teardown(1000, ""));
    tcp.on("error", (err) => {
      log(`pg-relay: ${target}: ${err.message}`);
      teardown(1011, "upstream error");
    });
    tcp.on("close", () => teardown(1000, "upstream closed"));
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log(`pg-relay: ${err.message}`));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    port,
    async close() {
      // Close frames first: a WebSocket dropped without one (1006) raises an error event in the
      // driver, which an already-ended Pool re-emits as an unhandled error
      const closing = [...pairs].map(
        ({ ws, tcp }) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              ws.terminate();
              resolve();
            }, 1000);
            ws.once("close", () => {
              clearTimeout(timer);
              resolve();
            });
            if (ws.readyState === ws.OPEN) ws.close(1001, "relay shutting down");
            tcp.destroy();
          }),
      );
      await Promise.all(closing);
      pairs.clear();
      wss.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** "host:port" from `/v1?address=host:port` (any path: the driver's wsProxy decides it). */
function targetOf(url: string | undefined): string | null {
  if (!url) return null;
  const q = url.indexOf("?");
  if (q < 0) return null;
  const address = new URLSearchParams(url.slice(q + 1)).get("address");
  return address && /^.+:\d{1,5}$/.test(address) ? address : null;
}

function refuse(socket: Duplex, status: number, text: string, body: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
