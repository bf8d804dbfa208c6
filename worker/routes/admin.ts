/**
 * /api/v1/admin: user administration (list, deactivate / reactivate, grant / revoke admin) and
 * the audit log. Administrators only; the last active admin cannot be removed.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, gte, ilike, like, lt, lte, or, type SQL, sql } from "drizzle-orm";
import { auditLog, users } from "../../migrations/schema.ts";
import { getDb } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import { createRouter, errorResponses, IdParam, isoRequired, jsonBody, jsonResponse, TimestampSchema } from "../lib/router.ts";
import { auditActor, requireAdmin } from "../middleware/auth.ts";
import { type AuditAction, auditInsert } from "../services/audit.ts";
import { revokeAllFamilies } from "../services/sessions.ts";
import { revokeSockets } from "../services/socket-access.ts";
import { UserSchema, userView } from "./auth.ts";

const tags = ["admin"];

const listUsers = createRoute({
  method: "get",
  path: "/users",
  tags,
  summary: "All users (filter by text and state)",
  request: {
    query: z.object({
      q: z.string().trim().max(100).optional().openapi({ description: "matches username, email or display name" }),
      status: z.enum(["active", "inactive", "all"]).default("all"),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
    }),
  },
  responses: { 200: jsonResponse(z.object({ users: z.array(UserSchema), total: z.number().int() }), "Users"), ...errorResponses },
});

const updateUser = createRoute({
  method: "patch",
  path: "/users/{userId}",
  tags,
  summary: "Deactivate / reactivate a user, grant / revoke admin",
  request: {
    params: z.object({ userId: IdParam.openapi({ param: { name: "userId", in: "path" } }) }),
    ...jsonBody(
      z
        .object({ isActive: z.boolean().optional(), isAdmin: z.boolean().optional() })
        .refine((b) => b.isActive !== undefined || b.isAdmin !== undefined, "give isActive and/or isAdmin"),
    ),
  },
  responses: { 200: jsonResponse(z.object({ user: UserSchema }), "Updated"), ...errorResponses },
});

const AuditEntrySchema = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    at: TimestampSchema,
    actorId: z.string().nullable(),
    actorName: z.string().nullable(),
    action: z.string(),
    targetType: z.string().nullable(),
    targetId: z.string().nullable(),
    ip: z.string().nullable(),
    detail: z.record(z.string(), z.unknown()),
  })
  .openapi("AuditEntry");

const listAudit = createRoute({
  method: "get",
  path: "/audit",
  tags,
  summary: "The audit log, newest first (filter by action, actor, target, time)",
  request: {
    query: z.object({
      action: z.string().trim().max(100).optional().openapi({ description: "exact action or a prefix ending in '.', e.g. 'auth.'" }),
      actor: z.string().trim().max(254).optional().openapi({ description: "actor username (or the login tried)" }),
      targetId: z.string().trim().max(100).optional(),
      from: z.iso.datetime({ offset: true }).optional(),
      to: z.iso.datetime({ offset: true }).optional(),
      before: z.coerce.number().int().min(1).optional().openapi({ description: "cursor: entries with seq below this" }),
      limit: z.coerce.number().int().min(1).max(200).default(50),
    }),
  },
  responses: {
    200: jsonResponse(z.object({ entries: z.array(AuditEntrySchema), nextBefore: z.number().int().nullable() }), "Entries"),
    ...errorResponses,
  },
});

export const adminRoutes = createRouter()
  .openapi(listUsers, async (c) => {
    requireAdmin(c);
    const { q, status, limit, offset } = c.req.valid("query");
    const conds: SQL[] = [];
    if (q) {
      const pattern = `%${q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
      const match = or(ilike(users.username, pattern), ilike(users.email, pattern), ilike(users.displayName, pattern));
      if (match) conds.push(match);
    }
    if (status !== "all") conds.push(eq(users.isActive, status === "active"));
    const where = conds.length ? and(...conds) : undefined;
    const db = getDb(c.env);
    const [rows, totals] = await db.batch([
      db.select().from(users).where(where).orderBy(users.username).limit(limit).offset(offset),
      db.select({ n: sql<number>`count(*)::int` }).from(users).where(where),
    ]);
    return c.json({ users: rows.map(userView), total: Number(totals[0]?.n ?? 0) }, 200);
  })
  .openapi(updateUser, async (c) => {
    const auth = requireAdmin(c);
    const { userId } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = getDb(c.env);
    const removesAdmin = body.isActive === false || body.isAdmin === false;
    const otherActiveAdmin = sql`exists (select 1 from ${users} o where o.is_admin and o.is_active and o.id <> ${userId})`;
    const [updated] = await db
      .update(users)
      .set({
        ...(body.isActive !== undefined && { isActive: body.isActive }),
        ...(body.isAdmin !== undefined && { isAdmin: body.isAdmin }),
        updatedAt: new Date(),
      })
      .where(and(eq(users.id, userId), removesAdmin ? sql`(not ${users.isAdmin} or ${otherActiveAdmin})` : undefined))
      .returning();
    if (!updated) {
      const [exists] = await db.select({ id: users.id }).from(users).where(eq(users.id, userId));
      if (!exists) throw new ApiError("USER_NOT_FOUND", "No such user.");
      throw new ApiError("LAST_ADMIN", "This is the last active administrator: make someone else an admin first.");
    }
    const actions: AuditAction[] = [];
    if (body.isActive === false) actions.push("admin.user.deactivate");
    if (body.isActive === true) actions.push("admin.user.reactivate");
    if (body.isAdmin === true) actions.push("admin.user.grant_admin");
    if (body.isAdmin === false) actions.push("admin.user.revoke_admin");
    await db.batch([
      // Deactivation or a role change ends the user's sessions so the change applies at once
      // (an access token already issued lives at most 15 minutes).
      revokeAllFamilies(db, userId, body.isActive === false ? "deactivated" : "role_change"),
      ...actions.map((action) =>
        auditInsert(db, { ...auditActor(c, auth), action, targetType: "user", targetId: userId, detail: { username: updated.username } }),
      ),
    ]);
    // Their sessions ended above; their open sockets (rooms, desktop viewers) end with them.
    await revokeSockets(
      c.env,
      db,
      { kind: "user", userId },
      body.isActive === false ? "Your account was deactivated." : "Your account was changed; sign in again.",
    );
    return c.json({ user: userView(updated) }, 200);
  })
  .openapi(listAudit, async (c) => {
    requireAdmin(c);
    const q = c.req.valid("query");
    const conds: SQL[] = [];
    if (q.action)
      conds.push(
        q.action.endsWith(".") ? like(auditLog.action, `${q.action.replace(/[\\%_]/g, (m) => `\\${m}`)}%`) : eq(auditLog.action, q.action),
      );
    if (q.actor) conds.push(sql`lower(${auditLog.actorName}) = ${q.actor.toLowerCase()}`);
    if (q.targetId) conds.push(eq(auditLog.targetId, q.targetId));
    if (q.from) conds.push(gte(auditLog.at, new Date(q.from)));
    if (q.to) conds.push(lte(auditLog.at, new Date(q.to)));
    if (q.before) conds.push(lt(auditLog.seq, q.before));
    const rows = await getDb(c.env)
      .select()
      .from(auditLog)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(desc(auditLog.seq))
      .limit(q.limit + 1);
    const page = rows.slice(0, q.limit);
    return c.json(
      {
        entries: page.map((e) => ({
          id: e.id,
          seq: e.seq,
          at: isoRequired(e.at),
          actorId: e.actorId,
          actorName: e.actorName,
          action: e.action,
          targetType: e.targetType,
          targetId: e.targetId,
          ip: e.ip,
          detail: e.detail,
        })),
        nextBefore: rows.length > q.limit ? (page[page.length - 1]?.seq ?? null) : null,
      },
      200,
    );
  });
