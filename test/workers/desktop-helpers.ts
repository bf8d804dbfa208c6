/**
 * Helpers for the desktop suites: raw sockets that keep text and binary frames apart, a test
 * double of a node-bridge (control socket, commands, data sockets) driven from the test, and
 * shortcuts for templates, settings and sessions.
 */
import { exports } from "cloudflare:workers";
import { expect } from "vitest";
import type { CommandFrame } from "../../durable-objects/bridge/protocol.ts";
import { BASE, call, expectStatus, type TestUser } from "./helpers.ts";

type Frame = Record<string, unknown>;

/** Frames waited for by predicate; each frame is handed out once. */
class FrameQueue<T> {
  readonly all: T[] = [];
  readonly #unread: T[] = [];
  readonly #waiters: { predicate: (f: T) => boolean; resolve: (f: T) => void }[] = [];

  push(frame: T): void {
    this.all.push(frame);
    const waiter = this.#waiters.find((w) => w.predicate(frame));
    if (waiter) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(frame);
    } else {
      this.#unread.push(frame);
    }
  }

  next(predicate: (f: T) => boolean = () => true, timeoutMs = 5000, what = "frame"): Promise<T> {
    const i = this.#unread.findIndex(predicate);
    if (i >= 0) return Promise.resolve(this.#unread.splice(i, 1)[0] as T);
    return new Promise((resolve, reject) => {
      const waiter = {
        predicate,
        resolve: (f: T) => {
          clearTimeout(timer);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no matching ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.all).slice(0, 2000)}`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** Unread frames matching `predicate` (without consuming them). */
  peek(predicate: (f: T) => boolean = () => true): T[] {
    return this.#unread.filter(predicate);
  }
}

export interface RawSocket {
  ws: WebSocket;
  texts: FrameQueue<Frame>;
  /** every binary frame, in order */
  binary: Uint8Array[];
  closed: Promise<{ code: number; reason: string }>;
  /** resolves once `n` binary bytes in total have arrived; returns them all */
  bytes(n: number, timeoutMs?: number): Promise<Uint8Array>;
  sendJson(frame: unknown): void;
  close(): void;
}

export async function upgrade(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}${path}`, { headers: { Upgrade: "websocket", ...headers } }));
}

export async function openRaw(path: string, headers: Record<string, string> = {}): Promise<RawSocket> {
  const res = await upgrade(path, headers);
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade of ${path} failed: ${res.status} ${await res.text()}`);
  const ws = res.webSocket;
  ws.accept();
  // With accept(), binary frames would arrive as Blob (TOOLCHAIN.md).
  (ws as unknown as { binaryType: string }).binaryType = "arraybuffer";
  const texts = new FrameQueue<Frame>();
  const binary: Uint8Array[] = [];
  let total = 0;
  const byteWaiters: { n: number; resolve: () => void }[] = [];
  ws.addEventListener("message", (e) => {
    if (typeof e.data === "string") {
      texts.push(JSON.parse(e.data) as Frame);
      return;
    }
    const chunk = new Uint8Array(e.data as ArrayBuffer);
    binary.push(chunk);
    total += chunk.length;
    for (const w of [...byteWaiters]) {
      if (total >= w.n) {
        byteWaiters.splice(byteWaiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }));
  });
  const concat = () => {
    const out = new Uint8Array(total);
    let at = 0;
    for (const b of binary) {
      out.set(b, at);
      at += b.length;
    }
    return out;
  };
  return {
    ws,
    texts,
    binary,
    closed,
    bytes(n, timeoutMs = 5000) {
      if (total >= n) return Promise.resolve(concat());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${total} of ${n} bytes within ${timeoutMs} ms`)), timeoutMs);
        byteWaiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve(concat());
          },
        });
      });
    },
    sendJson(frame) {
      ws.send(JSON.stringify(frame));
    },
    close() {
      try {
        ws.close(1000, "done");
      } catch {
        // already closed
      }
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds (for effects that travel bridge → hub → session → Postgres). */
export async function eventually<T>(read: () => Promise<T>, check: (v: T) => boolean, what: string, timeoutMs = 5000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await read();
    if (check(last)) return last;
    await sleep(20);
  } while (Date.now() < until);
  throw new Error(`${what}: still ${JSON.stringify(last)} after ${timeoutMs} ms`);
}

export function uniqueRegion(): string {
  return `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

export interface HelloOptions {
  capacity?: number;
  sessions?: { sessionId: string; state: string; detail?: string }[];
  platform?: "kubernetes" | "docker" | "local";
  region?: string;
  version?: string;
}

/** A node-bridge played by the test. */
export class TestBridge {
  readonly id: string;
  token: string;
  readonly platform: "kubernetes" | "docker" | "local";
  readonly region: string;
  socket: RawSocket | undefined;
  #beat: ReturnType<typeof setInterval> | undefined;
  /** what an autopilot bridge runs, reported in its heartbeats */
  readonly desktops = new Map<string, "running" | "hibernated">();

  private constructor(id: string, token: string, platform: "kubernetes" | "docker" | "local", region: string) {
    this.id = id;
    this.token = token;
    this.platform = platform;
    this.region = region;
  }

  static async register(
    admin: TestUser,
    options: { platform?: "kubernetes" | "docker" | "local"; region?: string; name?: string } = {},
  ): Promise<TestBridge> {
    const platform = options.platform ?? "docker";
    const region = options.region ?? uniqueRegion();
    const body = await expectStatus<{ bridge: { id: string }; token: string }>(
      await call("POST", "/api/v1/admin/bridges", {
        token: admin.accessToken,
        body: { name: options.name ?? `bridge ${region}`, platform, region },
      }),
      201,
    );
    return new TestBridge(body.bridge.id, body.token, platform, region);
  }

  /** Registers, connects and says hello. */
  static async online(
    admin: TestUser,
    options: { platform?: "kubernetes" | "docker" | "local"; region?: string; capacity?: number } = {},
  ): Promise<TestBridge> {
    const bridge = await TestBridge.register(admin, options);
    await bridge.connect();
    await bridge.hello({ capacity: options.capacity ?? 10 });
    return bridge;
  }

  async connect(): Promise<RawSocket> {
    this.socket = await openRaw("/api/v1/bridges/connect", { Authorization: `Bearer ${this.token}` });
    return this.socket;
  }

  #sock(): RawSocket {
    if (!this.socket) throw new Error("the test bridge is not connected");
    return this.socket;
  }

  async hello(options: HelloOptions = {}): Promise<void> {
    this.#sock().sendJson({
      type: "hello",
      bridgeId: this.id,
      platform: options.platform ?? this.platform,
      region: options.region ?? this.region,
      version: options.version ?? "0.1.0-test",
      capacity: options.capacity ?? 10,
      sessions: options.sessions ?? [],
    });
    await this.#sock().texts.next((f) => f.type === "welcome", 5000, "welcome");
  }

  heartbeat(sessions: HelloOptions["sessions"] = []): void {
    this.#sock().sendJson({ type: "heartbeat", sessions });
  }

  /** Keeps the bridge online through long suites (the hub's alarm counts missed heartbeats). */
  keepAlive(sessions: () => HelloOptions["sessions"] = () => [], everyMs = 4000): void {
    this.#beat ??= setInterval(() => {
      try {
        this.heartbeat(sessions());
      } catch {
        // closed meanwhile
      }
    }, everyMs);
  }

  /**
   * Acks and completes every command as it comes and reports its desktops truthfully in the
   * heartbeats, like a healthy bridge: for suites that need sessions to move along by themselves.
   */
  autopilot(): void {
    const socket = this.#sock();
    socket.ws.addEventListener("message", (e) => {
      if (typeof e.data !== "string") return;
      const frame = JSON.parse(e.data) as { type: string; id: string; action: CommandFrame["action"]; payload: { sessionId: string } };
      if (frame.type !== "command") return;
      const sessionId = frame.payload.sessionId;
      if (frame.action === "start_session" || frame.action === "wake_session") this.desktops.set(sessionId, "running");
      else if (frame.action === "hibernate_session") this.desktops.set(sessionId, "hibernated");
      else this.desktops.delete(sessionId);
      socket.sendJson({ type: "ack", id: frame.id });
      socket.sendJson({ type: "complete", id: frame.id, result: {} });
    });
    this.keepAlive(() => [...this.desktops].map(([sessionId, state]) => ({ sessionId, state })));
  }

  async command(predicate: (c: CommandFrame) => boolean = () => true, timeoutMs = 5000): Promise<CommandFrame> {
    return (await this.#sock().texts.next(
      (f) => f.type === "command" && predicate(f as unknown as CommandFrame),
      timeoutMs,
      "command",
    )) as unknown as CommandFrame;
  }

  commandFor(sessionId: string, action: CommandFrame["action"], timeoutMs = 5000): Promise<CommandFrame> {
    return this.command((c) => c.action === action && c.payload.sessionId === sessionId, timeoutMs);
  }

  ack(id: string): void {
    this.#sock().sendJson({ type: "ack", id });
  }

  complete(id: string, result: Record<string, unknown> = {}): void {
    this.#sock().sendJson({ type: "complete", id, result });
  }

  fail(id: string, code = "DRIVER_ERROR", message = "it broke"): void {
    this.#sock().sendJson({ type: "failed", id, error: { code, message } });
  }

  async disconnect(): Promise<void> {
    if (this.#beat) clearInterval(this.#beat);
    this.#beat = undefined;
    this.socket?.close();
    await this.socket?.closed;
    this.socket = undefined;
  }

  /** Opens a data socket for a start / wake command's session (`conn` = primary or a viewer's id). */
  async openData(command: CommandFrame, conn = "primary"): Promise<RawSocket> {
    if (command.action !== "start_session" && command.action !== "wake_session")
      throw new Error("only start / wake commands carry a data URL");
    const url = new URL(command.payload.dataUrl);
    url.searchParams.set("conn", conn);
    return openRaw(`${url.pathname}${url.search}`, { Authorization: `Bearer ${command.payload.dataToken}` });
  }
}

export async function createTemplate(admin: TestUser, overrides: Record<string, unknown> = {}): Promise<{ id: string; name: string }> {
  const body = await expectStatus<{ template: { id: string; name: string } }>(
    await call("POST", "/api/v1/admin/desktop-templates", {
      token: admin.accessToken,
      body: {
        name: `Desktop ${Math.random().toString(36).slice(2, 7)}`,
        kind: "container",
        image: "ghcr.io/atrium/desktop:1",
        ...overrides,
      },
    }),
    201,
  );
  return body.template;
}

export interface DesktopSettingsBody {
  maxConcurrentSessions: number;
  perUserSessionLimit: number;
  idleTimeoutMinutes: number;
}

export const GENEROUS_SETTINGS: DesktopSettingsBody = { maxConcurrentSessions: 100_000, perUserSessionLimit: 1000, idleTimeoutMinutes: 30 };

export async function putSettings(admin: TestUser, settings: DesktopSettingsBody): Promise<void> {
  await expectStatus(await call("PUT", "/api/v1/admin/desktop-settings", { token: admin.accessToken, body: settings }), 200);
}

export async function startSession(
  user: TestUser,
  templateId: string,
  prefs: { region?: string; platform?: string } = {},
): Promise<{ id: string; state: string; bridgeId: string }> {
  const body = await expectStatus<{ session: { id: string; state: string; bridgeId: string } }>(
    await call("POST", "/api/v1/desktops", { token: user.accessToken, body: { templateId, ...prefs } }),
    201,
  );
  return body.session;
}

export async function getSession(
  user: TestUser,
  sessionId: string,
): Promise<{ id: string; state: string; stateDetail: string | null; lastInputAt: string | null }> {
  return (
    await expectStatus<{ session: { id: string; state: string; stateDetail: string | null; lastInputAt: string | null } }>(
      await call("GET", `/api/v1/desktops/${sessionId}`, { token: user.accessToken }),
      200,
    )
  ).session;
}

export function waitForState(user: TestUser, sessionId: string, state: string, timeoutMs = 5000) {
  return eventually(
    () => getSession(user, sessionId),
    (s) => s.state === state,
    `session ${sessionId} → ${state}`,
    timeoutMs,
  );
}

/** Starts a session on `bridge` and plays the bridge through ack + complete; returns the start command too. */
export async function runningSession(user: TestUser, templateId: string, bridge: TestBridge): Promise<{ id: string; start: CommandFrame }> {
  const session = await startSession(user, templateId, { region: bridge.region, platform: bridge.platform });
  expect(session.bridgeId).toBe(bridge.id);
  const start = await bridge.commandFor(session.id, "start_session");
  bridge.ack(start.id);
  bridge.complete(start.id, { pod: `desktop-${session.id.slice(0, 8)}` });
  await waitForState(user, session.id, "running");
  return { id: session.id, start };
}

export async function ticketFor(
  user: TestUser,
  sessionId: string,
  body?: { viewOnly?: boolean; wake?: boolean },
): Promise<{ ticket: string; wsPath: string; viewOnly: boolean; expiresAt: string }> {
  return expectStatus(await call("POST", `/api/v1/desktops/${sessionId}/ticket`, { token: user.accessToken, ...(body && { body }) }), 201);
}

/** RFB client messages for the relay tests. */
export const rfb = {
  version: () => new TextEncoder().encode("RFB 003.008\n"),
  securityNone: () => Uint8Array.of(1),
  clientInit: (shared = 1) => Uint8Array.of(shared),
  setEncodings: (encodings: number[]) => {
    const out = new Uint8Array(4 + 4 * encodings.length);
    const view = new DataView(out.buffer);
    out[0] = 2;
    view.setUint16(2, encodings.length);
    for (const [i, e] of encodings.entries()) view.setInt32(4 + 4 * i, e);
    return out;
  },
  fbur: (incremental = 1) => Uint8Array.of(3, incremental, 0, 0, 0, 0, 0x05, 0, 0x03, 0x20),
  key: (down: boolean, keysym: number) => {
    const out = new Uint8Array(8);
    out[0] = 4;
    out[1] = down ? 1 : 0;
    new DataView(out.buffer).setUint32(4, keysym);
    return out;
  },
  pointer: (mask: number, x: number, y: number) => {
    const out = new Uint8Array(6);
    out[0] = 5;
    out[1] = mask;
    new DataView(out.buffer).setUint16(2, x);
    new DataView(out.buffer).setUint16(4, y);
    return out;
  },
  cutText: (text: string) => {
    const t = new TextEncoder().encode(text);
    const out = new Uint8Array(8 + t.length);
    out[0] = 6;
    new DataView(out.buffer).setInt32(4, t.length);
    out.set(t, 8);
    return out;
  },
};

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
