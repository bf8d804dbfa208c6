/**
 * Sets Atrium up for the desktop section through its REST API, as an administrator would: a user
 * made admin (directly in the database, as scripts/start.ts does for the first admin), generous
 * desktop quotas, a template, bridges registered with their one-time tokens, and sessions
 * started by a user and placed on the wanted bridge by platform and region.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import type { Platform } from "../../../durable-objects/bridge/protocol.ts";

export interface Api {
  baseUrl: string;
  token: string;
  call<T>(method: string, path: string, body?: unknown): Promise<T>;
}

function client(baseUrl: string, token: string): Api {
  return {
    baseUrl,
    token,
    async call<T>(method: string, path: string, body?: unknown): Promise<T> {
      const res = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          ...(body !== undefined && { "content-type": "application/json" }),
          ...(token && { authorization: `Bearer ${token}` }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
      return (text ? JSON.parse(text) : {}) as T;
    },
  };
}

/** A new user, promoted to admin in the database, signed in again so the token carries the claim. */
export async function adminApi(baseUrl: string, databaseUrl: string): Promise<Api> {
  const username = `desk${randomUUID().slice(0, 8)}`;
  const password = "desktop benchmark password";
  const anon = client(baseUrl, "");
  const { user } = await anon.call<{ user: { id: string } }>("POST", "/api/v1/auth/register", {
    username,
    email: `${username}@bench.invalid`,
    password,
  });
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query("update users set is_admin = true where id = $1", [user.id]);
  } finally {
    await db.end();
  }
  const { accessToken } = await anon.call<{ accessToken: string }>("POST", "/api/v1/auth/login", { login: username, password });
  const api = client(baseUrl, accessToken);
  await api.call("PUT", "/api/v1/admin/desktop-settings", {
    maxConcurrentSessions: 100_000,
    perUserSessionLimit: 1_000,
    idleTimeoutMinutes: 60,
  });
  return api;
}

export async function createTemplate(api: Api): Promise<string> {
  const { template } = await api.call<{ template: { id: string } }>("POST", "/api/v1/admin/desktop-templates", {
    name: "Bench desktop",
    kind: "container",
    image: "ghcr.io/atrium/desktop:bench",
  });
  return template.id;
}

export interface RegisteredBridge {
  id: string;
  token: string;
  platform: Platform;
  region: string;
}

export async function registerBridge(api: Api, platform: Platform, region: string): Promise<RegisteredBridge> {
  const { bridge, token } = await api.call<{ bridge: { id: string }; token: string }>("POST", "/api/v1/admin/bridges", {
    name: `bench ${region}`,
    platform,
    region,
  });
  return { id: bridge.id, token, platform, region };
}

/** Starts a session on `bridge` (its platform and region are asked for); returns its id. */
export async function startSession(api: Api, templateId: string, bridge: RegisteredBridge): Promise<string> {
  const { session } = await api.call<{ session: { id: string; bridgeId: string } }>("POST", "/api/v1/desktops", {
    templateId,
    platform: bridge.platform,
    region: bridge.region,
  });
  if (session.bridgeId !== bridge.id) throw new Error(`session ${session.id} was placed on another bridge (${session.bridgeId})`);
  return session.id;
}

export async function waitForState(api: Api, sessionId: string, state: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    last = (await api.call<{ session: { state: string } }>("GET", `/api/v1/desktops/${sessionId}`)).session.state;
    if (last === state) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`session ${sessionId} is still ${last}, not ${state}, after ${timeoutMs} ms`);
}

/** A viewer socket URL with a fresh single-use ticket. */
export async function viewerUrl(api: Api, sessionId: string): Promise<string> {
  const { wsPath } = await api.call<{ wsPath: string }>("POST", `/api/v1/desktops/${sessionId}/ticket`);
  return `${api.baseUrl.replace(/^http/, "ws")}${wsPath}`;
}
