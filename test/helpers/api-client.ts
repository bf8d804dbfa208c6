/**
 * A small JSON client for end-to-end tests that drive the stack through its HTTP API as an API
 * client would (bearer tokens): the printed first admin's forced password change, registering
 * users, and typed-enough requests whose non-2xx answers keep their `{ error: { code } }` body.
 */
import { expect } from "vitest";

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export interface ApiClient {
  token: string;
  userId: string;
  request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
  /** `request` that expects a 2xx and returns the body. */
  ok<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
}

interface SessionBody {
  accessToken?: string;
  user?: { id: string };
}

async function call<T>(baseUrl: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(token && { Authorization: `Bearer ${token}` }), ...(body !== undefined && { "Content-Type": "application/json" }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

function client(baseUrl: string, session: SessionBody): ApiClient {
  const token = session.accessToken;
  const userId = session.user?.id;
  if (!token || !userId) throw new Error(`no bearer session in ${JSON.stringify(session)}`);
  return {
    token,
    userId,
    request: (method, path, body) => call(baseUrl, token, method, path, body),
    async ok(method, path, body) {
      const res = await call<never>(baseUrl, token, method, path, body);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
      return res.body;
    },
  };
}

/** Signs in as the first admin with the one-time password and sets a new one (required first). */
export async function signInFirstAdmin(baseUrl: string, oneTimePassword: string): Promise<ApiClient> {
  const login = await call<SessionBody>(baseUrl, undefined, "POST", "/api/v1/auth/login", { login: "admin", password: oneTimePassword });
  expect(login.status, JSON.stringify(login.body)).toBe(200);
  const changed = await call<SessionBody>(baseUrl, login.body.accessToken, "POST", "/api/v1/auth/password", {
    currentPassword: oneTimePassword,
    newPassword: "the admin's new password 1",
  });
  expect(changed.status, JSON.stringify(changed.body)).toBe(200);
  return client(baseUrl, changed.body);
}

/** Registers a new user and returns their client. */
export async function registerUser(baseUrl: string, username: string): Promise<ApiClient> {
  const res = await call<SessionBody>(baseUrl, undefined, "POST", "/api/v1/auth/register", {
    username,
    email: `${username}@example.org`,
    password: "a long enough password",
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return client(baseUrl, res.body);
}
