/**
 * /api/v1/auth: register, login, refresh, logout, password change, me, and the public config
 * the site needs before anyone is signed in.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { eq, sql } from "drizzle-orm";
import { users } from "../../migrations/schema.ts";
import { getDb, pgConstraint, pgErrorCode } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from "../lib/password.ts";
import { type AppEnv, createRouter, errorResponses, iso, isoRequired, jsonBody, jsonResponse, TimestampSchema } from "../lib/router.ts";
import { checkCsrf, clientIp, isAuthEnabled, requireUser } from "../middleware/auth.ts";
import { clearSessionCookies, REFRESH_COOKIE, setSessionCookies } from "../middleware/cookies.ts";
import { auditInsert, recordAudit } from "../services/audit.ts";
import { limitLogin, recordLoginFailure, resetLoginFailures } from "../services/login-limits.ts";
import {
  type IssuedSession,
  issueSession,
  revokeAllFamilies,
  revokeFamilyByToken,
  rotateSession,
  type UserRow,
} from "../services/sessions.ts";
import { revokeSockets } from "../services/socket-access.ts";

export const UserSchema = z
  .object({
    id: z.string(),
    username: z.string(),
    email: z.string(),
    displayName: z.string(),
    isAdmin: z.boolean(),
    isActive: z.boolean(),
    mustChangePassword: z.boolean(),
    createdAt: TimestampSchema,
    lastLoginAt: TimestampSchema.nullable(),
  })
  .openapi("User");

export function userView(u: UserRow): z.infer<typeof UserSchema> {
  return {
    id: u.id,
    username: u.username,
    email: u.email,
    displayName: u.displayName,
    isAdmin: u.isAdmin,
    isActive: u.isActive,
    mustChangePassword: u.mustChangePassword,
    createdAt: isoRequired(u.createdAt),
    lastLoginAt: iso(u.lastLoginAt),
  };
}

export const UsernameSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$/, "3–32 letters, digits, '_', '.' or '-', starting with a letter or digit")
  .openapi({ example: "ada" });
export const PasswordSchema = z
  .string()
  .min(10, "at least 10 characters")
  .max(256, "at most 256 characters")
  .openapi({ example: "correct horse battery" });
const ModeSchema = z
  .enum(["bearer", "cookie"])
  .default("bearer")
  .openapi({ description: "'cookie' sets httpOnly session cookies (the site); 'bearer' returns the tokens (API clients)." });

const SessionSchema = z
  .object({
    user: UserSchema,
    tokenType: z.literal("Bearer"),
    expiresIn: z.number().int().openapi({ description: "seconds until the access token expires" }),
    accessToken: z.string().optional().openapi({ description: "bearer mode only" }),
    refreshToken: z.string().optional().openapi({ description: "bearer mode only" }),
  })
  .openapi("Session");

function sessionBody(c: Context<AppEnv>, user: UserRow, session: IssuedSession, mode: "bearer" | "cookie") {
  if (mode === "cookie") {
    setSessionCookies(c, session.accessToken, session.refreshToken);
    return { user: userView(user), tokenType: "Bearer" as const, expiresIn: session.expiresIn };
  }
  return {
    user: userView(user),
    tokenType: "Bearer" as const,
    expiresIn: session.expiresIn,
    accessToken: session.accessToken,
    refreshToken: session.refreshToken,
  };
}

function meta(c: Context<AppEnv>) {
  return { ip: clientIp(c), userAgent: c.req.header("User-Agent") };
}

function ensureAuthEnabled(c: Context<AppEnv>): void {
  if (!isAuthEnabled(c.env)) throw new ApiError("AUTH_DISABLED", "Accounts are turned off (AUTH_ENABLED=false): single-user local mode.");
}

const tags = ["auth"];

const registerRoute = createRoute({
  method: "post",
  path: "/register",
  tags,
  summary: "Create an account and sign in",
  request: jsonBody(
    z.object({
      username: UsernameSchema,
      email: z.email().max(254),
      password: PasswordSchema,
      displayName: z.string().trim().min(1).max(80).optional(),
      mode: ModeSchema,
    }),
  ),
  responses: { 201: jsonResponse(SessionSchema, "Account created and signed in"), ...errorResponses },
});

const loginRoute = createRoute({
  method: "post",
  path: "/login",
  tags,
  summary: "Sign in with username or email and password",
  request: jsonBody(
    z.object({
      login: z.string().trim().min(1).max(254).openapi({ description: "username or email" }),
      password: z.string().min(1).max(256),
      mode: ModeSchema,
    }),
  ),
  responses: { 200: jsonResponse(SessionSchema, "Signed in"), ...errorResponses },
});

const refreshRoute = createRoute({
  method: "post",
  path: "/refresh",
  tags,
  summary: "Rotate the refresh token and get a new access token",
  request: jsonBody(
    z.object({
      refreshToken: z.string().min(1).max(200).optional().openapi({ description: "omit to use the refresh cookie" }),
    }),
  ),
  responses: { 200: jsonResponse(SessionSchema, "New tokens"), ...errorResponses },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/logout",
  tags,
  summary: "End this session (revokes its refresh-token family)",
  request: jsonBody(z.object({ refreshToken: z.string().min(1).max(200).optional() })),
  responses: { 204: { description: "Signed out" }, ...errorResponses },
});

const passwordRoute = createRoute({
  method: "post",
  path: "/password",
  tags,
  summary: "Change the password (ends every other session)",
  request: jsonBody(z.object({ currentPassword: z.string().min(1).max(256), newPassword: PasswordSchema, mode: ModeSchema.optional() })),
  responses: { 200: jsonResponse(SessionSchema, "Password changed; a fresh session"), ...errorResponses },
});

const meRoute = createRoute({
  method: "get",
  path: "/me",
  tags,
  summary: "The signed-in user",
  responses: { 200: jsonResponse(z.object({ user: UserSchema }), "The caller"), ...errorResponses },
});

const configRoute = createRoute({
  method: "get",
  path: "/config",
  tags,
  summary: "Public settings the site needs before sign-in",
  responses: { 200: jsonResponse(z.object({ authEnabled: z.boolean() }), "Settings") },
});

function userLookup(login: string) {
  const l = login.toLowerCase();
  return l.includes("@") ? sql`lower(${users.email}) = ${l}` : sql`lower(${users.username}) = ${l}`;
}

export const authRoutes = createRouter()
  .openapi(configRoute, (c) => c.json({ authEnabled: isAuthEnabled(c.env) }, 200))
  .openapi(registerRoute, async (c) => {
    ensureAuthEnabled(c);
    const body = c.req.valid("json");
    const db = getDb(c.env);
    let user: UserRow | undefined;
    try {
      [user] = await db
        .insert(users)
        .values({
          username: body.username,
          email: body.email.toLowerCase(),
          displayName: body.displayName ?? body.username,
          passwordHash: await hashPassword(body.password),
          lastLoginAt: new Date(),
        })
        .returning();
    } catch (e: unknown) {
      if (pgErrorCode(e) === "23505") {
        const constraint = pgConstraint(e) ?? "";
        if (constraint.includes("email")) throw new ApiError("EMAIL_TAKEN", "An account with this email already exists.");
        throw new ApiError("USERNAME_TAKEN", "This username is taken.");
      }
      throw e;
    }
    if (!user) throw new Error("insert returned no row");
    const session = await issueSession(db, c.env.JWT_SECRET, user, meta(c));
    await recordAudit(db, {
      actorId: user.id,
      actorName: user.username,
      action: "auth.register",
      targetType: "user",
      targetId: user.id,
      ip: clientIp(c),
    });
    return c.json(sessionBody(c, user, session, body.mode), 201);
  })
  .openapi(loginRoute, async (c) => {
    ensureAuthEnabled(c);
    const body = c.req.valid("json");
    const ip = clientIp(c);
    const db = getDb(c.env);
    await limitLogin(c.env, ip, body.login, async () => {
      await recordAudit(db, { actorId: null, actorName: body.login.slice(0, 254), action: "auth.login.rate_limited", ip });
    });
    const [user] = await db.select().from(users).where(userLookup(body.login)).limit(1);
    // Verify against a dummy hash for unknown users so timing does not reveal which accounts exist.
    const ok = await verifyPassword(body.password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !ok) {
      await recordLoginFailure(c.env, body.login);
      await recordAudit(db, {
        actorId: user?.id ?? null,
        actorName: body.login.slice(0, 254),
        action: "auth.login.failure",
        targetType: user ? "user" : null,
        targetId: user?.id ?? null,
        ip,
        detail: { reason: user ? "bad_password" : "unknown_user" },
      });
      throw new ApiError("INVALID_CREDENTIALS", "Wrong username/email or password.");
    }
    if (!user.isActive) {
      await recordAudit(db, {
        actorId: user.id,
        actorName: user.username,
        action: "auth.login.failure",
        targetType: "user",
        targetId: user.id,
        ip,
        detail: { reason: "deactivated" },
      });
      throw new ApiError("ACCOUNT_DISABLED", "This account has been deactivated. Ask an administrator.");
    }
    await resetLoginFailures(c.env, body.login);
    const session = await issueSession(db, c.env.JWT_SECRET, user, meta(c));
    const [, [fresh]] = await db.batch([
      auditInsert(db, {
        actorId: user.id,
        actorName: user.username,
        action: "auth.login.success",
        targetType: "user",
        targetId: user.id,
        ip,
      }),
      db.update(users).set({ lastLoginAt: new Date() }).where(eq(users.id, user.id)).returning(),
    ]);
    return c.json(sessionBody(c, fresh ?? user, session, body.mode), 200);
  })
  .openapi(refreshRoute, async (c) => {
    ensureAuthEnabled(c);
    const body = c.req.valid("json");
    let presented = body.refreshToken;
    let mode: "bearer" | "cookie" = "bearer";
    if (!presented) {
      presented = getCookie(c, REFRESH_COOKIE);
      if (!presented) throw new ApiError("REFRESH_TOKEN_INVALID", "No refresh token. Sign in again.");
      checkCsrf(c);
      mode = "cookie";
    }
    try {
      const db = getDb(c.env);
      const { session, user } = await rotateSession(db, c.env.JWT_SECRET, presented, meta(c), (userId, familyId) =>
        revokeSockets(c.env, db, { kind: "session", userId, familyId }, "This session was ended: its refresh token was reused."),
      );
      return c.json(sessionBody(c, user, session, mode), 200);
    } catch (e: unknown) {
      if (mode === "cookie" && e instanceof ApiError && e.status === 401) clearSessionCookies(c);
      throw e;
    }
  })
  .openapi(logoutRoute, async (c) => {
    ensureAuthEnabled(c);
    const body = c.req.valid("json");
    let presented = body.refreshToken;
    if (!presented) {
      presented = getCookie(c, REFRESH_COOKIE);
      if (presented) checkCsrf(c);
    }
    const db = getDb(c.env);
    const ended = presented ? await revokeFamilyByToken(db, presented) : undefined;
    if (ended) {
      await recordAudit(db, {
        actorId: ended.userId,
        actorName: null,
        action: "auth.logout",
        targetType: "user",
        targetId: ended.userId,
        ip: clientIp(c),
      });
      await revokeSockets(c.env, db, { kind: "session", ...ended }, "You signed out.");
    }
    clearSessionCookies(c);
    return c.body(null, 204);
  })
  .openapi(passwordRoute, async (c) => {
    ensureAuthEnabled(c);
    const auth = requireUser(c, { allowPasswordChange: true });
    const body = c.req.valid("json");
    const db = getDb(c.env);
    const [user] = await db.select().from(users).where(eq(users.id, auth.userId)).limit(1);
    if (!user || !user.isActive) throw new ApiError("UNAUTHENTICATED", "Sign in again.");
    if (!(await verifyPassword(body.currentPassword, user.passwordHash))) {
      throw new ApiError("INVALID_CREDENTIALS", "The current password is wrong.");
    }
    if (body.newPassword === body.currentPassword)
      throw new ApiError("WEAK_PASSWORD", "The new password must differ from the current one.");
    const passwordHash = await hashPassword(body.newPassword);
    const [[updated]] = await db.batch([
      db.update(users).set({ passwordHash, mustChangePassword: false, updatedAt: new Date() }).where(eq(users.id, user.id)).returning(),
      revokeAllFamilies(db, user.id, "password_change"),
      auditInsert(db, {
        actorId: user.id,
        actorName: user.username,
        action: "auth.password.change",
        targetType: "user",
        targetId: user.id,
        ip: clientIp(c),
      }),
    ]);
    if (!updated) throw new Error("password update returned no row");
    // Every session ended, so do their sockets (this tab's reconnect under the new session).
    await revokeSockets(c.env, db, { kind: "user", userId: user.id }, "The password was changed; sign in again.");
    const session = await issueSession(db, c.env.JWT_SECRET, updated, meta(c));
    const mode = body.mode ?? (auth.via === "cookie" ? "cookie" : "bearer");
    return c.json(sessionBody(c, updated, session, mode), 200);
  })
  .openapi(meRoute, async (c) => {
    // Readable while a password change is pending, so the site can tell who must change it.
    const auth = requireUser(c, { allowPasswordChange: true });
    const [user] = await getDb(c.env).select().from(users).where(eq(users.id, auth.userId)).limit(1);
    if (!user || !user.isActive) throw new ApiError("UNAUTHENTICATED", "Sign in again.");
    return c.json({ user: userView(user) }, 200);
  });
