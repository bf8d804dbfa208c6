/**
 * The site's session cookies: httpOnly access and refresh tokens (Secure, SameSite=Strict) and
 * a readable CSRF token that the site echoes in the X-CSRF-Token header (double submit).
 */
import type { Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import { randomToken } from "../lib/bytes.ts";
import { ACCESS_TOKEN_TTL_SECONDS, REFRESH_TOKEN_TTL_SECONDS } from "../lib/tokens.ts";

export const ACCESS_COOKIE = "atrium_at";
export const REFRESH_COOKIE = "atrium_rt";
export const CSRF_COOKIE = "atrium_csrf";
export const CSRF_HEADER = "X-CSRF-Token";
/** The refresh cookie is sent only to the endpoints that use it. */
export const REFRESH_COOKIE_PATH = "/api/v1/auth";

export function setSessionCookies(c: Context, accessToken: string, refreshToken: string): void {
  const base = { httpOnly: true, secure: true, sameSite: "Strict" as const };
  setCookie(c, ACCESS_COOKIE, accessToken, { ...base, path: "/", maxAge: ACCESS_TOKEN_TTL_SECONDS });
  setCookie(c, REFRESH_COOKIE, refreshToken, { ...base, path: REFRESH_COOKIE_PATH, maxAge: REFRESH_TOKEN_TTL_SECONDS });
  setCookie(c, CSRF_COOKIE, randomToken(24), {
    httpOnly: false,
    secure: true,
    sameSite: "Strict",
    path: "/",
    maxAge: REFRESH_TOKEN_TTL_SECONDS,
  });
}

export function clearSessionCookies(c: Context): void {
  deleteCookie(c, ACCESS_COOKIE, { path: "/", secure: true });
  deleteCookie(c, REFRESH_COOKIE, { path: REFRESH_COOKIE_PATH, secure: true });
  deleteCookie(c, CSRF_COOKIE, { path: "/", secure: true });
}
