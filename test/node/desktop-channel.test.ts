/**
 * The site's desktop viewer socket (site/src/lib/desktop-channel.ts) against a real `ws` server
 * playing the DesktopSession's viewer protocol, with noVNC's own Websock (the buffer noVNC's RFB
 * client reads from) attached to the RFB channel: control frames never reach noVNC, RFB bytes
 * flow both ways once the server says `ready`, a 1001 close brings a fresh ticket and socket, and
 * a close the server explained ends the viewer with its words.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ACK_EVERY_BYTES } from "../../durable-objects/desktop/protocol.ts";
import { type WebSocket as ServerSocket, WebSocketServer } from "ws";
import {
  connectDesktopViewer,
  type DesktopViewerConnection,
  parseControlFrame,
  type RfbChannel,
  type ViewerEnd,
  type ViewerRole,
  type ViewerSocket,
  type ViewerStatus,
} from "../../site/src/lib/desktop-channel.ts";

/** noVNC's Websock, imported by path (the package exports only its RFB client). */
const websockUrl = new URL("../../node_modules/@novnc/novnc/core/websock.js", import.meta.url).href;

interface NoVncWebsock {
  attach(channel: object): void;
  on(event: "open" | "message" | "close" | "error", handler: (e?: unknown) => void): void;
  readonly readyState: string;
  /** bytes waiting in the receive queue */
  rQlen(): number;
  rQshiftBytes(n: number): Uint8Array;
  sQpushBytes(bytes: Uint8Array): void;
  flush(): void;
}

async function newWebsock(): Promise<NoVncWebsock> {
  // noVNC's logging reads window.console at import; Node's globals are the same objects.
  (globalThis as { window?: unknown }).window ??= globalThis;
  const module = (await import(websockUrl)) as { default: new () => NoVncWebsock };
  return new module.default();
}

interface Server {
  url: string;
  tickets: string[];
  sockets: ServerSocket[];
  /** resolves with the next connection's socket */
  nextConnection(): Promise<ServerSocket>;
  close(): Promise<void>;
}

async function startServer(): Promise<Server> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await once(wss, "listening");
  const tickets: string[] = [];
  const sockets: ServerSocket[] = [];
  const waiting: ((ws: ServerSocket) => void)[] = [];
  const pending: ServerSocket[] = [];
  wss.on("connection", (ws, req) => {
    tickets.push(new URL(req.url ?? "/", "http://x").searchParams.get("ticket") ?? "");
    sockets.push(ws);
    const next = waiting.shift();
    if (next) next(ws);
    else pending.push(ws);
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    tickets,
    sockets,
    nextConnection: () => {
      const ready = pending.shift();
      return ready ? Promise.resolve(ready) : new Promise((r) => waiting.push(r));
    },
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

/** Collects what the viewer reports, with a way to wait for a condition. */
function recorder() {
  const statuses: ViewerStatus[] = [];
  const states: string[] = [];
  const roles: ViewerRole[] = [];
  const channels: RfbChannel[] = [];
  const ended: ViewerEnd[] = [];
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of [...listeners]) l();
  };
  const until = (ok: () => boolean) =>
    new Promise<void>((resolve) => {
      if (ok()) return resolve();
      const check = () => {
        if (!ok()) return;
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
    });
  return { statuses, states, roles, channels, ended, changed, until };
}

let server: Server | undefined;
let viewer: DesktopViewerConnection | undefined;

afterEach(async () => {
  viewer?.close();
  viewer = undefined;
  await server?.close();
  server = undefined;
});

function connect(srv: Server, rec: ReturnType<typeof recorder>, onStream?: (channel: RfbChannel) => void) {
  let n = 0;
  return connectDesktopViewer({
    fetchTicket: async (reconnect) => ({ wsPath: `/ws?ticket=t${++n}${reconnect ? "r" : ""}` }),
    openSocket: (path) => new WebSocket(`${srv.url}${path}`) as unknown as ViewerSocket,
    onStatus: (s) => {
      rec.statuses.push(s);
      rec.changed();
    },
    onState: (state) => {
      rec.states.push(state);
      rec.changed();
    },
    onRole: (role) => {
      rec.roles.push(role);
      rec.changed();
    },
    onStream: (channel) => {
      rec.channels.push(channel);
      onStream?.(channel);
      rec.changed();
    },
    onEnded: (end) => {
      rec.ended.push(end);
      rec.changed();
    },
    backoffMs: () => 10,
  });
}

const text = (ws: ServerSocket, frame: object) => ws.send(JSON.stringify(frame));
const messages = (ws: ServerSocket) => {
  const got: { binary: boolean; data: Buffer }[] = [];
  ws.on("message", (data, binary) => got.push({ binary, data: Buffer.from(data as Buffer) }));
  return got;
};

describe("desktop viewer channel", () => {
  it("hands noVNC only the RFB bytes: control frames go to the page, bytes flow both ways after ready", async () => {
    server = await startServer();
    const rec = recorder();
    const websock = await newWebsock();
    let received = new Uint8Array(0);
    let opened = false;
    websock.on("open", () => {
      opened = true;
    });
    websock.on("message", () => {
      received = new Uint8Array([...received, ...websock.rQshiftBytes(websock.rQlen())]);
      rec.changed();
    });
    viewer = connect(server, rec, (channel) => websock.attach(channel));
    const ws = await server.nextConnection();
    const fromViewer = messages(ws);
    text(ws, { type: "state", state: "starting", detail: null });
    text(ws, { type: "role", control: true, viewOnly: false });
    await rec.until(() => rec.roles.length === 1);
    expect(rec.states).toEqual(["starting"]);
    expect(rec.channels).toHaveLength(0);

    text(ws, { type: "state", state: "running", detail: null });
    text(ws, { type: "ready" });
    ws.send(Buffer.from("RFB 003.008\n"));
    text(ws, { type: "pong" });
    text(ws, { type: "role", control: false, viewOnly: false });
    ws.send(Buffer.from([1, 2, 3]));
    await rec.until(() => received.length === 15 && rec.roles.length === 2);

    expect(opened).toBe(true);
    expect(websock.readyState).toBe("open");
    expect(Buffer.from(received).toString("latin1")).toBe("RFB 003.008\n\u0001\u0002\u0003");
    expect(rec.states).toEqual(["starting", "running"]);
    expect(rec.roles[1]).toEqual({ control: false, viewOnly: false });
    expect(rec.statuses).toContain("streaming");

    // noVNC's writes go out as binary frames; take_control as a text control frame.
    websock.sQpushBytes(new TextEncoder().encode("RFB 003.008\n"));
    websock.flush();
    expect(viewer.takeControl()).toBe(true);
    await new Promise<void>((resolve) => {
      const poll = () => (fromViewer.length >= 2 ? resolve() : setImmediate(poll));
      poll();
    });
    expect(fromViewer[0]).toEqual({ binary: true, data: Buffer.from("RFB 003.008\n") });
    expect(fromViewer[1]?.binary).toBe(false);
    expect(JSON.parse(fromViewer[1]?.data.toString() ?? "")).toEqual({ type: "take_control" });
  });

  it("acknowledges the RFB bytes noVNC consumed, so the relay can hold the desktop back when the viewer falls behind", async () => {
    server = await startServer();
    const rec = recorder();
    const websock = await newWebsock();
    let consumed = 0;
    websock.on("message", () => {
      consumed += websock.rQshiftBytes(websock.rQlen()).length;
      rec.changed();
    });
    viewer = connect(server, rec, (channel) => websock.attach(channel));
    const ws = await server.nextConnection();
    const fromViewer = messages(ws);
    text(ws, { type: "ready" });
    const chunk = Buffer.alloc(64 * 1024, 7);
    for (let i = 0; i < 10; i++) ws.send(chunk);
    await rec.until(() => consumed === 10 * chunk.length);
    await new Promise<void>((resolve) => {
      const poll = () => (fromViewer.filter((m) => !m.binary).length >= 2 ? resolve() : setImmediate(poll));
      poll();
    });
    const acks = fromViewer.filter((m) => !m.binary).map((m) => JSON.parse(m.data.toString()) as { type: string; bytes: number });
    expect(acks.every((a) => a.type === "ack")).toBe(true);
    const acked = acks.reduce((n, a) => n + a.bytes, 0);
    // Every 256 KiB consumed is acknowledged (never more than was received).
    expect(acked).toBe(Math.floor(consumed / ACK_EVERY_BYTES) * ACK_EVERY_BYTES);
    expect(acks.length).toBe(Math.floor(consumed / ACK_EVERY_BYTES));
  });

  it("reconnects with a fresh ticket after the server closes with 1001, and streams again on the next ready", async () => {
    server = await startServer();
    const rec = recorder();
    viewer = connect(server, rec);
    const first = await server.nextConnection();
    text(first, { type: "state", state: "running", detail: null });
    text(first, { type: "ready" });
    await rec.until(() => rec.channels.length === 1);
    const firstChannel = rec.channels[0];
    let firstClose: number | undefined;
    if (firstChannel) firstChannel.onclose = (e) => (firstClose = e.code);

    first.close(1001, "The desktop is hibernating.");
    const second = await server.nextConnection();
    // The reconnect's ticket is marked as one (it must not wake a hibernated desktop).
    expect(server.tickets).toEqual(["t1", "t2r"]);
    expect(firstClose).toBe(1001);
    expect(firstChannel?.readyState).toBe("closed");
    expect(rec.statuses).toContain("reconnecting");

    text(second, { type: "state", state: "running", detail: null });
    text(second, { type: "ready" });
    await rec.until(() => rec.channels.length === 2);
    expect(rec.channels[1]?.readyState).toBe("open");
    expect(rec.ended).toEqual([]);
  });

  it("ends with the server's own words when it explains a close, without reconnecting", async () => {
    server = await startServer();
    const rec = recorder();
    viewer = connect(server, rec);
    const ws = await server.nextConnection();
    text(ws, { type: "error", code: "DESKTOP_STOPPED", message: "The desktop is stopped." });
    ws.close(1000, "The desktop is stopped.");
    await rec.until(() => rec.ended.length === 1);
    expect(rec.ended[0]).toEqual({ code: "DESKTOP_STOPPED", message: "The desktop is stopped." });
    expect(rec.statuses.at(-1)).toBe("closed");
    expect(server.tickets).toEqual(["t1"]);
  });

  it("a ticket the API refuses ends the viewer with the description the page gives it", async () => {
    const rec = recorder();
    viewer = connectDesktopViewer({
      fetchTicket: () => Promise.reject(new Error("INVALID_STATE")),
      openSocket: () => {
        throw new Error("no socket without a ticket");
      },
      onStatus: (s) => rec.statuses.push(s),
      onState: () => {},
      onRole: () => {},
      onStream: () => {},
      onEnded: (end) => {
        rec.ended.push(end);
        rec.changed();
      },
      describeTicketError: (e) => ({ message: `The desktop is stopped (${(e as Error).message}).`, code: "INVALID_STATE" }),
    });
    await rec.until(() => rec.ended.length === 1);
    expect(rec.ended[0]).toEqual({ message: "The desktop is stopped (INVALID_STATE).", code: "INVALID_STATE" });
  });

  it("drops text frames that are not control frames", () => {
    expect(parseControlFrame("not json")).toBeUndefined();
    expect(parseControlFrame(JSON.stringify({ type: "state", state: "exploded", detail: null }))).toBeUndefined();
    expect(parseControlFrame(JSON.stringify({ type: "role", control: true }))).toBeUndefined();
    expect(parseControlFrame(JSON.stringify({ type: "state", state: "waking", detail: "bridge b1" }))).toEqual({
      type: "state",
      state: "waking",
      detail: "bridge b1",
    });
  });
});
