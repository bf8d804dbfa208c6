/**
 * One session's data relay against the in-test hub (playing the DesktopSession DO's primary and
 * data sockets) and an in-test VNC-like TCP server that greets every connection with
 * "RFB 003.008\n": one fresh TCP connection and handshake per viewer, byte-exact in both
 * directions, ≤ 64 KiB messages, pause/resume from the hub, backpressure from a stalled hub,
 * `open_failed` for an unreachable desktop, one-shot pipes, and a primary socket that comes back.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { DataRelay, type DataRelayOptions } from "../../../node-bridge/data-relay.ts";
import type { VncEndpoint } from "../../../node-bridge/drivers/driver.ts";
import { silentLogger } from "../../../node-bridge/log.ts";
import { type FakeHub, startFakeHub } from "./fake-hub.ts";

const GREETING = Buffer.from("RFB 003.008\n");
const TOKEN = "data-token-0123456789abcdef";
const MiB = 1024 * 1024;

interface VncConnection {
  socket: Socket;
  received: Buffer[];
  bytes(): Buffer;
  /** what the server wrote after its greeting */
  sent: Buffer;
  closed: Promise<void>;
}

async function startVnc(payload: () => Buffer = () => Buffer.alloc(0)) {
  const connections: VncConnection[] = [];
  const server: Server = createServer((socket) => {
    const received: Buffer[] = [];
    socket.on("data", (d) => received.push(d));
    socket.on("error", () => {});
    const sent = payload();
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    connections.push({ socket, received, bytes: () => Buffer.concat(received), sent, closed });
    socket.write(GREETING);
    if (sent.length > 0) socket.write(sent);
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

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(payload?: () => Buffer) {
  const hub = await startFakeHub({ bridgeToken: "unused-bridge-token-000000", dataToken: TOKEN });
  const vnc = await startVnc(payload);
  cleanups.push(hub.close, vnc.close);
  return { hub, vnc };
}

function relayFor(hub: FakeHub, vncPort: number, extra: Partial<DataRelayOptions> = {}) {
  const sessionId = randomUUID();
  const relay = new DataRelay({
    sessionId,
    dataUrl: hub.dataUrl(sessionId),
    dataToken: TOKEN,
    vncEndpoint: async () => ({ host: "127.0.0.1", port: vncPort }),
    log: silentLogger,
    backoff: { initialMs: 20, maxMs: 100 },
    ...extra,
  });
  cleanups.push(() => relay.close());
  relay.start();
  return { relay, sessionId };
}

/** Sends `bytes` in uneven chunks, as browsers do. */
function sendUneven(ws: { send(d: Buffer, o: { binary: boolean }): void }, bytes: Buffer): void {
  for (let offset = 0; offset < bytes.length; ) {
    const size = 1 + Math.floor(Math.random() * 100_000);
    ws.send(bytes.subarray(offset, offset + size), { binary: true });
    offset += size;
  }
}

describe("data relay", () => {
  it("opens the primary socket with the data token and no compression", async () => {
    const { hub, vnc } = await setup();
    const { sessionId } = relayFor(hub, vnc.port);
    const primary = await hub.primaryOf(sessionId);
    expect(primary.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(primary.headers["sec-websocket-extensions"]).toBeUndefined();
    // No viewer yet: no VNC connection either.
    expect(vnc.connections).toHaveLength(0);
  });

  it("gives two viewers two independent fresh RFB handshakes and relays 3 MiB each way per viewer, byte-exact and in order", async () => {
    const { hub, vnc } = await setup(() => randomBytes(3 * MiB));
    const { relay, sessionId } = relayFor(hub, vnc.port);
    const a = await hub.openViewer(sessionId);
    const b = await hub.openViewer(sessionId);
    expect(a.connId).not.toBe(b.connId);
    expect(a.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(a.headers["sec-websocket-extensions"]).toBeUndefined();
    // The TCP connection is made before the data socket: connection i belongs to viewer i.
    expect(vnc.connections).toHaveLength(2);
    const [vncA, vncB] = vnc.connections as [VncConnection, VncConnection];

    const fromA = randomBytes(3 * MiB);
    const fromB = randomBytes(3 * MiB);
    sendUneven(a.ws, fromA);
    sendUneven(b.ws, fromB);

    const expectedA = Buffer.concat([GREETING, vncA.sent]);
    const expectedB = Buffer.concat([GREETING, vncB.sent]);
    await expect.poll(() => a.bytes().length, { timeout: 15_000 }).toBe(expectedA.length);
    await expect.poll(() => b.bytes().length, { timeout: 15_000 }).toBe(expectedB.length);
    await expect.poll(() => vncA.bytes().length, { timeout: 15_000 }).toBe(fromA.length);
    await expect.poll(() => vncB.bytes().length, { timeout: 15_000 }).toBe(fromB.length);
    expect(a.bytes().equals(expectedA)).toBe(true);
    expect(b.bytes().equals(expectedB)).toBe(true);
    expect(vncA.bytes().equals(fromA)).toBe(true);
    expect(vncB.bytes().equals(fromB)).toBe(true);
    for (const viewer of [a, b]) {
      expect(Math.max(...viewer.received.map((m) => m.length))).toBeLessThanOrEqual(64 * 1024);
      // Coalescing: 3 MiB went out in roughly 3 MiB / 64 KiB messages, not thousands of small ones.
      expect(viewer.received.length).toBeLessThan(150);
      expect(viewer.texts).toEqual([]);
    }
    expect(relay.stats()).toMatchObject({
      viewers: 2,
      viewersOpened: 2,
      bytesToHub: expectedA.length + expectedB.length,
      bytesToVnc: fromA.length + fromB.length,
      primaryConnections: 1,
      openFailures: 0,
    });
    expect((await hub.primaryOf(sessionId)).invalid).toEqual([]);
  });

  it("stops reading the VNC server on {type:pause} and forwards the held bytes on {type:resume}; other viewers keep flowing", async () => {
    const { hub, vnc } = await setup();
    const { relay, sessionId } = relayFor(hub, vnc.port);
    const paused = await hub.openViewer(sessionId);
    const other = await hub.openViewer(sessionId);
    await expect.poll(() => paused.bytes().length).toBe(GREETING.length);

    paused.pause();
    await expect.poll(() => relay.viewer(paused.connId)?.stats().pausedByHub).toBe(true);
    const burst = randomBytes(2 * MiB);
    vnc.connections[0]?.socket.write(burst);
    vnc.connections[1]?.socket.write("still flowing");
    await expect.poll(() => other.bytes().toString()).toBe(`${GREETING}still flowing`);
    expect(paused.bytes().length).toBe(GREETING.length);
    expect(relay.viewer(paused.connId)?.stats().bytesToHub).toBe(GREETING.length);

    // Unknown or malformed text frames are ignored, not fatal.
    paused.ws.send("not json");
    paused.ws.send(JSON.stringify({ type: "shout" }));
    paused.resume();
    await expect.poll(() => paused.bytes().length, { timeout: 5_000 }).toBe(GREETING.length + burst.length);
    expect(paused.bytes().subarray(GREETING.length).equals(burst)).toBe(true);
    expect(relay.viewer(paused.connId)?.stats().pausedByHub).toBe(false);
  });

  it("pauses the VNC side while a data socket is backed up and catches up byte-exact once it drains", async () => {
    const flood = randomBytes(24 * MiB);
    const { hub, vnc } = await setup(() => flood);
    const { relay, sessionId } = relayFor(hub, vnc.port, { highWaterBytes: 256 * 1024, lowWaterBytes: 64 * 1024 });
    const primary = await hub.primaryOf(sessionId);
    // A stalled hub: stop reading the data socket's TCP connection as soon as it exists.
    const connId = primary.open();
    const viewer = await hub.dataFor(connId);
    const hubSocket = (viewer.ws as unknown as { _socket: Socket })._socket;
    hubSocket.pause();
    await expect.poll(() => relay.viewer(connId)?.stats().pausedByBuffer, { timeout: 5_000 }).toBe(true);
    const sentWhileStalled = relay.stats().bytesToHub;
    // Bounded by the high-water mark plus what the kernel's socket buffers absorbed — far from all 24 MiB.
    expect(sentWhileStalled).toBeLessThan(16 * MiB);
    hubSocket.resume();
    await expect.poll(() => viewer.bytes().length, { timeout: 15_000 }).toBe(GREETING.length + flood.length);
    expect(viewer.bytes().subarray(GREETING.length).equals(flood)).toBe(true);
  });

  it("a viewer's pipe is one-shot: the hub closing its data socket frees its TCP connection and nothing is redialled", async () => {
    const { hub, vnc } = await setup();
    const { relay, sessionId } = relayFor(hub, vnc.port);
    const viewer = await hub.openViewer(sessionId);
    await expect.poll(() => viewer.bytes().length).toBe(GREETING.length);
    viewer.ws.close(1000, "The viewer left.");
    await vnc.connections[0]?.closed;
    await expect.poll(() => relay.stats().viewers).toBe(0);
    expect(vnc.connections).toHaveLength(1);
    expect(hub.data).toHaveLength(1);
    // The next viewer gets a new connection and a new handshake.
    const next = await hub.openViewer(sessionId);
    await expect.poll(() => next.bytes().toString()).toBe(GREETING.toString());
    expect(vnc.connections).toHaveLength(2);
  });

  it("{type:close} on the primary socket ends that viewer's pipe and frees its TCP connection", async () => {
    const { hub, vnc } = await setup();
    const { relay, sessionId } = relayFor(hub, vnc.port);
    const primary = await hub.primaryOf(sessionId);
    const kept = await hub.openViewer(sessionId);
    const dropped = await hub.openViewer(sessionId);
    primary.cancel(dropped.connId);
    expect(await dropped.closed).toEqual({ code: 1000, reason: "viewer left" });
    await vnc.connections[1]?.closed;
    await expect.poll(() => relay.viewer(dropped.connId)).toBeUndefined();
    expect(vnc.connections[0]?.socket.destroyed).toBe(false);
    vnc.connections[0]?.socket.write("on");
    await expect.poll(() => kept.bytes().toString()).toBe(`${GREETING}on`);
  });

  it("{type:close} for a viewer whose desktop connection is still being made cancels it", async () => {
    const { hub, vnc } = await setup();
    let release: (e: VncEndpoint) => void = () => {};
    const endpoint = new Promise<VncEndpoint>((r) => {
      release = r;
    });
    const { relay, sessionId } = relayFor(hub, vnc.port, { vncEndpoint: () => endpoint });
    const primary = await hub.primaryOf(sessionId);
    const connId = primary.open();
    await expect.poll(() => relay.viewer(connId)).toBeDefined();
    primary.cancel(connId);
    await expect.poll(() => relay.viewer(connId)?.closing).toBe(true);
    release({ host: "127.0.0.1", port: vnc.port });
    await expect.poll(() => relay.viewer(connId)).toBeUndefined();
    expect(hub.data).toEqual([]);
    expect(primary.frames).toEqual([]);
    await expect.poll(() => vnc.connections.every((c) => c.socket.destroyed)).toBe(true);
  });

  it("when the VNC server hangs up, closes that data socket after forwarding its last bytes, and does not redial", async () => {
    const { hub, vnc } = await setup();
    const { relay, sessionId } = relayFor(hub, vnc.port);
    const viewer = await hub.openViewer(sessionId);
    vnc.connections[0]?.socket.end("bye");
    expect(await viewer.closed).toEqual({ code: 1000, reason: "vnc connection closed" });
    expect(viewer.bytes().toString()).toBe(`${GREETING}bye`);
    await expect.poll(() => relay.stats().viewers).toBe(0);
    expect(vnc.connections).toHaveLength(1);
    expect(hub.data).toHaveLength(1);
  });

  it("answers open_failed on the primary socket when the desktop's VNC port is closed or unknown", async () => {
    const { hub } = await setup();
    const port = await closedPort();
    let known = true;
    const { relay, sessionId } = relayFor(hub, port, {
      vncEndpoint: async () => {
        if (!known) throw new Error("no running desktop for this session");
        return { host: "127.0.0.1", port };
      },
    });
    const primary = await hub.primaryOf(sessionId);
    const refused = primary.open();
    const failed = await primary.waitFor("open_failed", (f) => f.connId === refused);
    expect(failed.message).toContain(`127.0.0.1:${port}`);
    expect(failed.message).toContain("ECONNREFUSED");
    known = false;
    const unknown = primary.open();
    expect(await primary.waitFor("open_failed", (f) => f.connId === unknown)).toEqual({
      type: "open_failed",
      connId: unknown,
      message: "no running desktop for this session",
    });
    expect(hub.data).toEqual([]);
    expect(primary.invalid).toEqual([]);
    expect(relay.stats()).toMatchObject({ openFailures: 2, viewers: 0, viewersOpened: 0 });
  });

  it("does not answer open_failed when the hub refuses the data socket because its viewer is gone", async () => {
    const { hub, vnc } = await setup();
    const { relay, sessionId } = relayFor(hub, vnc.port);
    const primary = await hub.primaryOf(sessionId);
    // An `open` the hub no longer stands behind: the data socket gets a 404.
    primary.ws.send(JSON.stringify({ type: "open", connId: "gone-viewer" }));
    await expect.poll(() => hub.refused).toBe(1);
    await expect.poll(() => relay.viewer("gone-viewer")).toBeUndefined();
    await vnc.connections[0]?.closed;
    expect(primary.frames).toEqual([]);
    expect(relay.stats().openFailures).toBe(0);
  });

  it("re-dials the primary socket after the hub drops it (open viewers keep streaming) and after refusals, with backoff", async () => {
    const { hub, vnc } = await setup();
    const { relay, sessionId } = relayFor(hub, vnc.port);
    const first = await hub.nextPrimary(0);
    const viewer = await hub.openViewer(sessionId);
    await expect.poll(() => viewer.bytes().length).toBe(GREETING.length);

    hub.refuseNextPrimary(2);
    first.ws.terminate();
    const second = await hub.nextPrimary(1);
    expect(hub.refused).toBe(2);
    expect(second.headers.authorization).toBe(`Bearer ${TOKEN}`);
    await expect.poll(() => relay.stats()).toMatchObject({ primaryConnections: 2, primaryConnected: true });
    // The pipe did not depend on the primary socket.
    vnc.connections[0]?.socket.write("after the drop");
    await expect.poll(() => viewer.bytes().toString()).toBe(`${GREETING}after the drop`);
    // And the new primary socket serves new viewers.
    const later = await hub.openViewer(sessionId);
    await expect.poll(() => later.bytes().toString()).toBe(GREETING.toString());
  });

  it("serves a viewer announced while the primary socket was down (the hub re-sends its open)", async () => {
    const { hub, vnc } = await setup();
    const { sessionId } = relayFor(hub, vnc.port);
    const first = await hub.nextPrimary(0);
    hub.refuseNextPrimary(1);
    first.ws.terminate();
    // The hub announced a viewer; the bridge never saw it on the dead socket.
    const connId = randomUUID();
    first.open(connId);
    const viewer = await hub.dataFor(connId);
    await expect.poll(() => viewer.bytes().toString()).toBe(GREETING.toString());
    expect(hub.primaries.map((p) => p.sessionId)).toEqual([sessionId, sessionId]);
  });

  it("close() ends the primary and every data socket with 1000, drops the VNC connections, and does not reconnect", async () => {
    const { hub, vnc } = await setup();
    const { relay, sessionId } = relayFor(hub, vnc.port);
    const primary = await hub.primaryOf(sessionId);
    const a = await hub.openViewer(sessionId);
    const b = await hub.openViewer(sessionId);
    await relay.close();
    const stopped = { code: 1000, reason: "session stopped" };
    expect(await primary.closed).toEqual(stopped);
    expect(await a.closed).toEqual(stopped);
    expect(await b.closed).toEqual(stopped);
    await Promise.all(vnc.connections.map((c) => c.closed));
    expect(relay.stats()).toMatchObject({ viewers: 0, primaryConnected: false });
    await new Promise((r) => setTimeout(r, 150));
    expect(hub.primaries).toHaveLength(1);
    expect(hub.data).toHaveLength(2);
  });
});
