/** /api/v1/auth: the site always signs in with `mode: "cookie"` (httpOnly session cookies). */
import { apiRequest } from "./http.ts";
import type { AuthConfig, LoginInput, PasswordChangeInput, RegisterInput, Session, User } from "./types.ts";

const BASE = "/api/v1/auth";

export function fetchAuthConfig(): Promise<AuthConfig> {
  return apiRequest<AuthConfig>("GET", `${BASE}/config`, { noRefresh: true });
}

export async function fetchMe(): Promise<User> {
  const { user } = await apiRequest<{ user: User }>("GET", `${BASE}/me`);
  return user;
}

export function login(input: LoginInput): Promise<Session> {
  return apiRequest<Session>("POST", `${BASE}/login`, { body: { ...input, mode: "cookie" }, noRefresh: true });
}

export function register(input: RegisterInput): Promise<Session> {
  return apiRequest<Session>("POST", `${BASE}/register`, { body: { ...input, mode: "cookie" }, noRefresh: true });
}

export function logout(): Promise<void> {
  return apiRequest<void>("POST", `${BASE}/logout`, { body: {}, noRefresh: true });
}

export function changePassword(input: PasswordChangeInput): Promise<Session> {
  return apiRequest<Session>("POST", `${BASE}/password`, { body: { ...input, mode: "cookie" } });
}
