/**
 * The data relay between an in-test hub (a `ws` server playing the DesktopSession DO's data
 * endpoint) and an in-test VNC-like TCP server: byte-exact in both directions, ≤ 64 KiB messages,
 * pause/resume from the hub, backpressure from a stalled hub, a fresh TCP connection (and RFB
 * greeting) per data-socket connection, and a clean close.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";
import { DataRelay, type DataRelayOptions } from "../../../node-bridge/data-relay.ts";
import { silentLogger } from "../../../node-bridge/log.ts";

const GREETING = Buffer.from("RFB 003.008\n");
const TOKEN = "data-token-0123456789abcdef";
const MiB = 1024 * 1024;

interface HubConnection {
  ws: WebSocket;
  headers: Record<string, string | string[] | undefined>;
  received: Buffer[];
  messageSizes: number[];
  bytes(): Buffer;
  closed: Promise<{ code: number; reason: string }>;
}

async function startHub(options: { refuseFirst?: number } = {}) {
  let refusals = options.refuseFirst ?? 0;
  // perMessageDeflate offered by the server: the relay must still not negotiate it.
  const wss = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    perMessageDeflate: true,
    verifyClient: (info, cb) => {
      if (refusals > 0) {
        refusals--;
        cb(false, 503, "not yet");
        return;
      }
      cb(info.req.headers.authorization === `Bearer ${TOKEN}`, 401, "bad token");
    },
  });
  const connections: HubConnection[] = [];
  const waiters: (() => void)[] = [];
  wss.on("connection", (ws, req) => {
    const received: Buffer[] = [];
    const messageSizes: number[] = [];
    ws.on("message", (data: Buffer, isBinary) => {
      expect(isBinary).toBe(true);
      received.push(data);
      messageSizes.push(data.length);
    });
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    connections.push({ ws, headers: req.headers, received, messageSizes, bytes: () => Buffer.concat(received), closed });
    for (const w of waiters.splice(0)) w();
  });
  await once(wss, "listening");
  const port = (wss.address() as AddressInfo).port;
  const next = async (index: number): Promise<HubConnection> => {
    for (;;) {
      const conn = connections[index];
      if (conn) return conn;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return {
    url: `ws://127.0.0.1:${port}/api/v1/desktops/s1/data`,
    connections,
    next,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

interface VncConnection {
  socket: Socket;
  received: Buffer[];
  bytes(): Buffer;
}

async function startVnc(onConnect?: (c: VncConnection) => void) {
  const connections: VncConnection[] = [];
  const server: Server = createServer((socket) => {
    const received: Buffer[] = [];
    socket.on("data", (d) => received.push(d));
    socket.on("error", () => {});
    const conn = { socket, received, bytes: () => Buffer.concat(received) };
    connections.push(conn);
    socket.write(GREETING);
    onConnect?.(conn);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: async () => {
      for (const c of connections) c.socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function relayFor(hubUrl: string, vncPort: number, extra: Partial<DataRelayOptions> = {}): DataRelay {
  const relay = new DataRelay({
    sessionId: "8c1e4f2a-0b6d-4e8f-9a1b-2c3d4e5f6a7b",
    dataUrl: hubUrl,
    dataToken: TOKEN,
    vncEndpoint: async () => ({ host: "127.0.0.1", port: vncPort }),
    log: silentLogger,
    backoff: { initialMs: 20, maxMs: 100 },
    ...extra,
  });
  cleanups.push(() => relay.close());
  return relay;
}

async function setup(onVncConnect?: (c: VncConnection) => void, hubOptions?: { refuseFirst?: number }) {
  const hub = await startHub(hubOptions);
  const vnc = await startVnc(onVncConnect);
  cleanups.push(hub.close, vnc.close);
  return { hub, vnc };
}

describe("data relay", () => {
  it("pipes 5 MiB each way byte-exact, in binary messages of at most 64 KiB, without compression", async () => {
    const toViewer = randomBytes(5 * MiB);
    const fromViewer = randomBytes(5 * MiB);
    const { hub, vnc } = await setup((c) => c.socket.write(toViewer));
    const relay = relayFor(hub.url, vnc.port);
    relay.start();

    const conn = await hub.next(0);
    expect(conn.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(conn.headers["sec-websocket-extensions"]).toBeUndefined();
    // The viewer side sends in uneven chunks, as browsers do.
    for (let offset = 0; offset < fromViewer.length; ) {
      const size = 1 + Math.floor(Math.random() * 100_000);
      conn.ws.send(fromViewer.subarray(offset, offset + size), { binary: true });
      offset += size;
    }

    const expected = Buffer.concat([GREETING, toViewer]);
    await expect.poll(() => conn.bytes().length, { timeout: 15_000 }).toBe(expected.length);
    await expect.poll(() => vnc.connections[0]!.bytes().length, { timeout: 15_000 }).toBe(fromViewer.length);
    expect(conn.bytes().equals(expected)).toBe(true);
    expect(vnc.connections[0]!.bytes().equals(fromViewer)).toBe(true);
    expect(Math.max(...conn.messageSizes)).toBeLessThanOrEqual(64 * 1024);
    // Coalescing: 5 MiB went out in roughly 5 MiB / 64 KiB messages, not thousands of small ones.
    expect(conn.messageSizes.length).toBeLessThan(200);
    expect(relay.stats()).toMatchObject({ bytesToHub: expected.length, bytesToVnc: fromViewer.length, connections: 1 });
  });

  it("stops reading the VNC server on {type:pause} and forwards the held bytes on {type:resume}", async () => {
    const { hub, vnc } = await setup();
    const relay = relayFor(hub.url, vnc.port);
    relay.start();
    const conn = await hub.next(0);
    await expect.poll(() => conn.bytes().length).toBe(GREETING.length);

    conn.ws.send(JSON.stringify({ type: "pause" }));
    await expect.poll(() => relay.stats().pausedByHub).toBe(true);
    const burst = randomBytes(2 * MiB);
    vnc.connections[0]!.socket.write(burst);
    await new Promise((r) => setTimeout(r, 300));
    expect(conn.bytes().length).toBe(GREETING.length);

    // Unknown or malformed text frames are ignored, not fatal.
    conn.ws.send("not json");
    conn.ws.send(JSON.stringify({ type: "shout" }));
    conn.ws.send(JSON.stringify({ type: "resume" }));
    await expect.poll(() => conn.bytes().length, { timeout: 5_000 }).toBe(GREETING.length + burst.length);
    expect(conn.bytes().subarray(GREETING.length).equals(burst)).toBe(true);
    expect(relay.stats().connections).toBe(1);
  });

  it("pauses the VNC side while the data socket is backed up and catches up byte-exact once it drains", async () => {
    const flood = randomBytes(24 * MiB);
    const { hub, vnc } = await setup((c) => c.socket.write(flood));
    const relay = relayFor(hub.url, vnc.port, { highWaterBytes: 256 * 1024, lowWaterBytes: 64 * 1024 });
    relay.start();
    const conn = await hub.next(0);
    // A stalled hub: stop reading its TCP socket.
    const hubSocket = (conn.ws as unknown as { _socket: Socket })._socket;
    hubSocket.pause();
    await expect.poll(() => relay.stats().pausedByBuffer, { timeout: 5_000 }).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    const sentWhileStalled = relay.stats().bytesToHub;
    // Bounded by the high-water mark plus what the kernel's socket buffers absorbed — far from all 24 MiB.
    expect(sentWhileStalled).toBeLessThan(16 * MiB);
    hubSocket.resume();
    await expect.poll(() => conn.bytes().length, { timeout: 15_000 }).toBe(GREETING.length + flood.length);
    expect(conn.bytes().subarray(GREETING.length).equals(flood)).toBe(true);
  });

  it("opens a fresh VNC connection (fresh RFB greeting) each time the hub closes the data socket", async () => {
    const { hub, vnc } = await setup();
    const relay = relayFor(hub.url, vnc.port, { healthyAfterMs: 0 });
    relay.start();
    const first = await hub.next(0);
    await expect.poll(() => first.bytes().length).toBe(GREETING.length);
    first.ws.close(1000, "last viewer left");

    const second = await hub.next(1);
    await expect.poll(() => second.bytes().toString()).toBe(GREETING.toString());
    expect(vnc.connections).toHaveLength(2);
    await expect.poll(() => vnc.connections[0]!.socket.destroyed || vnc.connections[0]!.socket.readableEnded).toBe(true);
    expect(relay.stats().connections).toBe(2);
  });

  it("when the VNC server hangs up, closes the data socket after forwarding its last bytes and redials both", async () => {
    const { hub, vnc } = await setup((c) => {
      if (vnc.connections.length === 1) c.socket.end("bye"); // the first connection is dropped by the server
    });
    const relay = relayFor(hub.url, vnc.port, { healthyAfterMs: 0 });
    relay.start();
    const first = await hub.next(0);
    expect(await first.closed).toEqual({ code: 1000, reason: "vnc connection closed" });
    expect(first.bytes().toString()).toBe(`${GREETING}bye`);
    const second = await hub.next(1);
    await expect.poll(() => second.bytes().toString()).toBe(GREETING.toString());
    expect(vnc.connections).toHaveLength(2);
  });

  it("retries a refused data socket with backoff, and waits for the VNC server before opening the socket", async () => {
    const { hub, vnc } = await setup(undefined, { refuseFirst: 2 });
    let vncUp = false;
    const relay = relayFor(hub.url, vnc.port, {
      vncEndpoint: async () => {
        if (!vncUp) throw new Error("desktop not ready");
        return { host: "127.0.0.1", port: vnc.port };
      },
    });
    relay.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(hub.connections).toHaveLength(0);
    vncUp = true;
    const conn = await hub.next(0);
    await expect.poll(() => conn.bytes().toString()).toBe(GREETING.toString());
  });

  it("close() ends the data socket with 1000 and drops the VNC connection, and does not reconnect", async () => {
    const { hub, vnc } = await setup();
    const relay = relayFor(hub.url, vnc.port);
    relay.start();
    const conn = await hub.next(0);
    await relay.close();
    expect(await conn.closed).toEqual({ code: 1000, reason: "session stopped" });
    await expect.poll(() => vnc.connections[0]!.socket.readableEnded || vnc.connections[0]!.socket.destroyed).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    expect(hub.connections).toHaveLength(1);
  });
});
