/**
 * Helpers for the workerd suites: call the real Worker entry (`exports.default`), register
 * users, make teams, and open room sockets.
 */
import { env, exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import { users } from "../../migrations/schema.ts";
import { getDb } from "../../worker/db/client.ts";

export const BASE = "https://atrium.test";

let ipCounter = Math.floor(Math.random() * 200);
/** A fresh client IP, so login rate limits of one test never hit another. */
export function freshIp(): string {
  ipCounter = (ipCounter + 1) % 250;
  return `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${ipCounter + 1}`;
}

export interface CallOptions {
  token?: string | undefined;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  ip?: string;
}

export async function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers = new Headers(options.headers);
  if (options.token) headers.set("Authorization", `Bearer ${options.token}`);
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", options.ip ?? "10.255.0.1");
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  }
  return exports.default.fetch(new Request(`${BASE}${path}`, { method, headers, ...(body !== undefined && { body }) }));
}

export async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** Asserts status (with the body in the failure message) and returns the JSON body. */
export async function expectStatus<T = any>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, `${res.status} ${text}`).toBe(status);
  return (text ? JSON.parse(text) : undefined) as T;
}

export async function expectError(res: Response, status: number, code: string): Promise<void> {
  const body = await expectStatus<{ error: { code: string; message: string } }>(res, status);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
}

let userCounter = 0;
export function uniqueName(prefix = "u"): string {
  userCounter += 1;
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}${userCounter}`;
}

export interface TestUser {
  id: string;
  username: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
}

export async function registerUser(prefix = "u"): Promise<TestUser> {
  const username = uniqueName(prefix);
  const password = "correct horse battery staple";
  const email = `${username}@example.test`;
  const res = await call("POST", "/api/v1/auth/register", { body: { username, email, password }, ip: freshIp() });
  const body = await expectStatus<{ user: { id: string }; accessToken: string; refreshToken: string }>(res, 201);
  return { id: body.user.id, username, email, password, accessToken: body.accessToken, refreshToken: body.refreshToken };
}

export async function login(login: string, password: string, ip = freshIp()) {
  return call("POST", "/api/v1/auth/login", { body: { login, password }, ip });
}

/** Promotes a user to admin directly in the database and returns a fresh token carrying the claim. */
export async function makeAdmin(user: TestUser): Promise<TestUser> {
  await getDb(env).update(users).set({ isAdmin: true }).where(eq(users.id, user.id));
  const body = await expectStatus<{ accessToken: string; refreshToken: string }>(await login(user.username, user.password), 200);
  return { ...user, accessToken: body.accessToken, refreshToken: body.refreshToken };
}

export async function createTeam(owner: TestUser, name = uniqueName("team")): Promise<{ id: string; name: string }> {
  const body = await expectStatus<{ team: { id: string; name: string } }>(
    await call("POST", "/api/v1/teams", { token: owner.accessToken, body: { name } }),
    201,
  );
  return body.team;
}

export async function addMember(owner: TestUser, teamId: string, member: TestUser, role: "owner" | "editor" | "viewer") {
  await expectStatus(
    await call("POST", `/api/v1/teams/${teamId}/members`, { token: owner.accessToken, body: { user: member.username, role } }),
    201,
  );
}

export const sampleAgent = {
  title: "Immunologist",
  expertise: "antibody engineering",
  goal: "design nanobodies against the new variant",
  role: "propose and critique binder candidates",
  model: "claude-sonnet-4-5",
  temperature: 0.4,
};

/** A socket to a room, collecting every frame it receives. */
export interface TestSocket {
  ws: WebSocket;
  frames: Record<string, unknown>[];
  next(predicate?: (f: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** settles when the server closes the socket (or it is closed here) */
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export async function openSocket(path: string, token: string | undefined): Promise<TestSocket> {
  const headers: Record<string, string> = { Upgrade: "websocket" };
  if (token) headers["Sec-WebSocket-Protocol"] = `atrium.v1, atrium.bearer.${token}`;
  const res = await exports.default.fetch(new Request(`${BASE}${path}`, { headers }));
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
  const ws = res.webSocket;
  ws.accept();
  const frames: Record<string, unknown>[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }));
  });
  const waiters: { predicate: (f: Record<string, unknown>) => boolean; resolve: (f: Record<string, unknown>) => void; from: number }[] = [];
  let consumed = 0;
  ws.addEventListener("message", (e) => {
    const frame = JSON.parse(String(e.data)) as Record<string, unknown>;
    frames.push(frame);
    for (const w of [...waiters]) {
      if (w.predicate(frame)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(frame);
      }
    }
  });
  return {
    ws,
    frames,
    closed,
    next(predicate = () => true, timeoutMs = 5000) {
      const found = frames.slice(consumed).find(predicate);
      if (found) {
        consumed = frames.indexOf(found) + 1;
        return Promise.resolve(found);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames)}`)),
          timeoutMs,
        );
        waiters.push({
          predicate,
          from: consumed,
          resolve: (f) => {
            clearTimeout(timer);
            consumed = frames.indexOf(f) + 1;
            resolve(f);
          },
        });
      });
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
