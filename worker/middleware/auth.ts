/**
 * Authentication for every route and socket: a Bearer access token (API clients), the
 * httpOnly access cookie plus a double-submit CSRF token (the site), or the implicit local
 * user when AUTH_ENABLED=false. Routes then demand what they need with `requireUser`.
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { users } from "../../migrations/schema.ts";
import { ROOM_SUBPROTOCOL } from "../../durable-objects/room/protocol.ts";
import { getDb } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import type { AppEnv, AuthContext } from "../lib/router.ts";
import { verifyAccessToken } from "../lib/tokens.ts";
import { isLiveSession } from "../services/live-sessions.ts";
import { ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER } from "./cookies.ts";

export const LOCAL_USER_ID = "00000000-0000-4000-8000-000000000001";
export const LOCAL_USERNAME = "local";

export function isAuthEnabled(env: Env): boolean {
  return String(env.AUTH_ENABLED ?? "true").toLowerCase() !== "false";
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

let localUserEnsured = false;
async function ensureLocalUser(env: Env): Promise<void> {
  if (localUserEnsured) return;
  await getDb(env)
    .insert(users)
    .values({
      id: LOCAL_USER_ID,
      username: LOCAL_USERNAME,
      email: "local@localhost",
      displayName: "Local user",
      passwordHash: "!disabled",
      isAdmin: true,
    })
    .onConflictDoNothing();
  localUserEnsured = true;
}

/** The WebSocket subprotocol that carries a bearer token: `atrium.bearer.<jwt>`. */
export const BEARER_PROTOCOL_PREFIX = "atrium.bearer.";

/** The subprotocols a WebSocket upgrade offers (`Sec-WebSocket-Protocol`, comma-separated). */
export function offeredSubprotocols(header: string | null | undefined): string[] {
  return (
    header
      ?.split(",")
      .map((p) => p.trim())
      .filter(Boolean) ?? []
  );
}

/**
 * The subprotocol the server selects for an upgrade. A standard client that offers subprotocols
 * aborts the handshake unless the server selects one of them, so: `atrium.v1` when offered (the
 * recommended pair `atrium.v1, atrium.bearer.<token>`: the token is not echoed back), otherwise
 * the offered bearer protocol itself (a client that offers only it), otherwise none.
 */
export function selectSubprotocol(header: string | null | undefined): string | undefined {
  const offered = offeredSubprotocols(header);
  if (offered.includes(ROOM_SUBPROTOCOL)) return ROOM_SUBPROTOCOL;
  return offered.find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
}

/** A socket's 101 answer with the selected subprotocol (see selectSubprotocol); other answers as they are. */
export function withSelectedSubprotocol(request: Request, response: Response): Response {
  const selected = selectSubprotocol(request.headers.get("Sec-WebSocket-Protocol"));
  if (response.status !== 101 || !response.webSocket || !selected) return response;
  if (response.headers.get("Sec-WebSocket-Protocol") === selected) return response;
  const headers = new Headers(response.headers);
  headers.set("Sec-WebSocket-Protocol", selected);
  return new Response(null, { status: 101, webSocket: response.webSocket, headers });
}

function bearerFrom(c: Context<AppEnv>): string | undefined {
  const header = c.req.header("Authorization");
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) throw new ApiError("INVALID_TOKEN", "The Authorization header must be 'Bearer <token>'.");
    return match[1];
  }
  if (c.req.header("Upgrade")?.toLowerCase() === "websocket") {
    const bearer = offeredSubprotocols(c.req.header("Sec-WebSocket-Protocol")).find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX));
    if (bearer) return bearer.slice(BEARER_PROTOCOL_PREFIX.length);
  }
  return undefined;
}

/**
 * Resolves who is calling (or nobody). An invalid or expired token is a 401 even on routes that
 * don't need one, so a client learns to refresh instead of silently acting anonymously.
 */
export function authenticate(): MiddlewareHandler<AppEnv> {
  return async function authenticate(c, next) {
    if (!isAuthEnabled(c.env)) {
      await ensureLocalUser(c.env);
      c.set("auth", {
        userId: LOCAL_USER_ID,
        name: LOCAL_USERNAME,
        isAdmin: true,
        mustChangePassword: false,
        familyId: "local",
        via: "local",
      });
      return next();
    }
    const bearer = bearerFrom(c);
    const cookie = bearer ? undefined : getCookie(c, ACCESS_COOKIE);
    const token = bearer ?? cookie;
    if (!token) {
      c.set("auth", undefined);
      return next();
    }
    const claims = await verifyAccessToken(c.env.JWT_SECRET, token);
    if (!(await isLiveSession(c.env, claims.sub, claims.fam))) {
      // A cookie left over from an ended session must not stand in the way of signing in again
      // (login and register run behind this middleware too): the caller is simply anonymous.
      if (!bearer) {
        c.set("auth", undefined);
        return next();
      }
      throw new ApiError("SESSION_REVOKED", "This session has ended. Sign in again.");
    }
    const auth: AuthContext = {
      userId: claims.sub,
      name: claims.name,
      isAdmin: claims.adm,
      mustChangePassword: claims.pwc,
      familyId: claims.fam,
      via: bearer ? "bearer" : "cookie",
    };
    if (auth.via === "cookie" && !SAFE_METHODS.has(c.req.method) && c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
      checkCsrf(c);
    }
    c.set("auth", auth);
    return next();
  };
}

/** Double-submit check: the CSRF cookie (readable by our own pages only) must be echoed in a header. */
export function checkCsrf(c: Context<AppEnv>): void {
  const cookie = getCookie(c, CSRF_COOKIE);
  const header = c.req.header(CSRF_HEADER);
  if (!cookie || !header || cookie.length < 16 || cookie !== header) {
    throw new ApiError("CSRF_FAILED", `State-changing requests need the ${CSRF_HEADER} header.`);
  }
}

export interface RequireUserOptions {
  /** allow a user who still has to change the password (only the password change and logout) */
  allowPasswordChange?: boolean;
}

/** The caller, or a 401 / 403 PASSWORD_CHANGE_REQUIRED. */
export function requireUser(c: Context<AppEnv>, options: RequireUserOptions = {}): AuthContext {
  const auth = c.get("auth");
  if (!auth) throw new ApiError("UNAUTHENTICATED", "Sign in to continue.");
  if (auth.mustChangePassword && !options.allowPasswordChange) {
    throw new ApiError("PASSWORD_CHANGE_REQUIRED", "Change your password before continuing.");
  }
  return auth;
}

export function requireAdmin(c: Context<AppEnv>): AuthContext {
  const auth = requireUser(c);
  if (!auth.isAdmin) throw new ApiError("FORBIDDEN", "Only administrators may do this.");
  return auth;
}

/** The client address as Cloudflare reports it. */
export function clientIp(c: Context<AppEnv>): string {
  return c.req.header("CF-Connecting-IP") ?? c.req.header("X-Real-IP") ?? "unknown";
}

/** The actor fields of an audit entry for a signed-in caller: who, and from where. */
export function auditActor(c: Context<AppEnv>, auth: AuthContext): { actorId: string; actorName: string; ip: string } {
  return { actorId: auth.userId, actorName: auth.name, ip: clientIp(c) };
}
