/**
 * /api/v1/admin/bridges: node-bridges. Registering one returns its token once (`brg_…`; only
 * the SHA-256 hash is stored); the list shows each bridge's capacity, active sessions, version
 * and heartbeat age; drain keeps new desktops away; rotating the token ends the live connection;
 * deregistering fails the bridge's remaining desktops. Administrators only.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, notInArray, or, type SQL, sql } from "drizzle-orm";
import { BRIDGE_STATUSES, bridges, desktopSessions } from "../../migrations/schema.ts";
import { PLATFORMS } from "../../durable-objects/bridge/protocol.ts";
import { ACTIVE_STATES, TERMINAL_STATES } from "../../durable-objects/desktop/protocol.ts";
import { getDb } from "../db/client.ts";
import { randomToken, sha256Hex } from "../lib/bytes.ts";
import { ApiError } from "../lib/errors.ts";
import {
  type AuthContext,
  createRouter,
  errorResponses,
  IdParam,
  iso,
  isoRequired,
  jsonBody,
  jsonResponse,
  TimestampSchema,
} from "../lib/router.ts";
import { auditActor, clientIp, requireAdmin } from "../middleware/auth.ts";
import { type AuditAction, auditInsert } from "../services/audit.ts";
import { hubStub, sessionStub } from "../services/desktop-sessions.ts";

const tags = ["admin", "bridges"];
const REGION = /^[a-z0-9][a-z0-9-]{0,63}$/;

export const BridgeSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    platform: z.enum(PLATFORMS),
    region: z.string(),
    status: z
      .enum(BRIDGE_STATUSES)
      .openapi({ description: "registered (never connected), online, offline, or draining (the bridge announced a shutdown)" }),
    draining: z.boolean().openapi({ description: "drained by an administrator: no new desktops" }),
    capacity: z.number().int(),
    activeSessions: z.number().int(),
    version: z.string().nullable(),
    lastHeartbeatAt: TimestampSchema.nullable(),
    heartbeatAgeSeconds: z.number().nullable(),
    createdAt: TimestampSchema,
  })
  .openapi("Bridge");

const BridgeParams = z.object({ bridgeId: IdParam.openapi({ param: { name: "bridgeId", in: "path" } }) });
const BridgeWithToken = z.object({
  bridge: BridgeSchema,
  token: z.string().openapi({ description: "shown only now: configure the bridge with it" }),
});

// "bridges"."id" by hand: drizzle renders a lone table's columns unqualified, and the subquery
// would bind a bare "id" to its own table.
const activeCount = sql<number>`(select count(*)::int from ${desktopSessions} s where s.bridge_id = "bridges"."id" and s.state in (${sql.join(
  ACTIVE_STATES.map((s) => sql`${s}`),
  sql`, `,
)}))`;

type BridgeRow = typeof bridges.$inferSelect;
function bridgeView(b: BridgeRow, activeSessions: number, now = Date.now()): z.infer<typeof BridgeSchema> {
  const beat = b.lastHeartbeatAt ? new Date(b.lastHeartbeatAt).getTime() : null;
  return {
    id: b.id,
    name: b.name,
    platform: b.platform,
    region: b.region,
    status: b.status,
    draining: b.draining,
    capacity: b.capacity,
    activeSessions: Number(activeSessions),
    version: b.version,
    lastHeartbeatAt: iso(b.lastHeartbeatAt),
    heartbeatAgeSeconds: beat === null ? null : Math.max(0, Math.round((now - beat) / 100) / 10),
    createdAt: isoRequired(b.createdAt),
  };
}

async function newToken(): Promise<{ token: string; hash: string }> {
  const token = `brg_${randomToken(32)}`;
  return { token, hash: await sha256Hex(token) };
}

const listBridges = createRoute({
  method: "get",
  path: "/bridges",
  tags,
  summary: "Bridges with capacity, active sessions, version and heartbeat age (filter by platform, status, region)",
  request: {
    query: z.object({
      platform: z.enum(PLATFORMS).optional(),
      status: z.enum(BRIDGE_STATUSES).optional().openapi({ description: "'draining' matches both kinds of drain" }),
      region: z.string().trim().max(64).optional(),
    }),
  },
  responses: { 200: jsonResponse(z.object({ bridges: z.array(BridgeSchema) }), "Bridges"), ...errorResponses },
});
const registerBridge = createRoute({
  method: "post",
  path: "/bridges",
  tags,
  summary: "Register a bridge; its token is in this response only",
  request: {
    ...jsonBody(
      z.object({
        name: z.string().trim().min(1).max(100),
        platform: z.enum(PLATFORMS),
        region: z.string().trim().regex(REGION, "lower-case letters, digits and -").default("default"),
      }),
    ),
  },
  responses: { 201: jsonResponse(BridgeWithToken, "Registered"), ...errorResponses },
});
const deregisterBridge = createRoute({
  method: "delete",
  path: "/bridges/{bridgeId}",
  tags,
  summary: "Deregister a bridge: its connection ends and its remaining desktops fail",
  request: { params: BridgeParams },
  responses: { 204: { description: "Deregistered" }, ...errorResponses },
});
const drainRoute = (name: "drain" | "undrain", summary: string) =>
  createRoute({
    method: "post",
    path: `/bridges/{bridgeId}/${name}`,
    tags,
    summary,
    request: { params: BridgeParams },
    responses: { 200: jsonResponse(z.object({ bridge: BridgeSchema }), "Updated"), ...errorResponses },
  });
const drainBridge = drainRoute("drain", "Drain a bridge: no new desktops are placed on it (running ones stay)");
const undrainBridge = drainRoute("undrain", "Undo a drain");
const rotateToken = createRoute({
  method: "post",
  path: "/bridges/{bridgeId}/rotate-token",
  tags,
  summary: "Issue a new token; the old one stops working and the live connection ends",
  request: { params: BridgeParams },
  responses: { 200: jsonResponse(BridgeWithToken, "Rotated"), ...errorResponses },
});

export const adminBridgeRoutes = createRouter()
  .openapi(listBridges, async (c) => {
    requireAdmin(c);
    const q = c.req.valid("query");
    const conds: SQL[] = [];
    if (q.platform) conds.push(eq(bridges.platform, q.platform));
    if (q.region) conds.push(eq(bridges.region, q.region));
    if (q.status === "draining") {
      const drained = or(eq(bridges.draining, true), eq(bridges.status, "draining"));
      if (drained) conds.push(drained);
    } else if (q.status) conds.push(eq(bridges.status, q.status));
    const rows = await getDb(c.env)
      .select({ bridge: bridges, active: activeCount })
      .from(bridges)
      .where(conds.length ? and(...conds) : undefined)
      .orderBy(asc(bridges.name), asc(bridges.id));
    const now = Date.now();
    return c.json({ bridges: rows.map((r) => bridgeView(r.bridge, r.active, now)) }, 200);
  })
  .openapi(registerBridge, async (c) => {
    const auth = requireAdmin(c);
    const body = c.req.valid("json");
    const { token, hash } = await newToken();
    const db = getDb(c.env);
    const [bridge] = await db
      .insert(bridges)
      .values({ name: body.name, platform: body.platform, region: body.region, tokenHash: hash })
      .returning();
    if (!bridge) throw new Error("bridge insert returned no row");
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "admin.bridge.register",
      targetType: "bridge",
      targetId: bridge.id,
      detail: { name: bridge.name },
    });
    return c.json({ bridge: bridgeView(bridge, 0), token }, 201);
  })
  .openapi(deregisterBridge, async (c) => {
    const auth = requireAdmin(c);
    const { bridgeId } = c.req.valid("param");
    const db = getDb(c.env);
    const [bridge] = await db.select().from(bridges).where(eq(bridges.id, bridgeId));
    if (!bridge) throw new ApiError("BRIDGE_NOT_FOUND", "No such bridge.");
    // Stop the bridge from acting first, then settle its desktops, then forget it.
    await hubStub(c.env, bridgeId).deregister();
    const orphans = await db
      .select({ id: desktopSessions.id })
      .from(desktopSessions)
      .where(and(eq(desktopSessions.bridgeId, bridgeId), notInArray(desktopSessions.state, [...TERMINAL_STATES])));
    for (const s of orphans) await sessionStub(c.env, s.id).abandon(`Its bridge '${bridge.name}' was deregistered.`);
    await db.delete(bridges).where(eq(bridges.id, bridgeId));
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "admin.bridge.deregister",
      targetType: "bridge",
      targetId: bridgeId,
      detail: { name: bridge.name, abandonedSessions: orphans.length },
    });
    return c.body(null, 204);
  })
  .openapi(drainBridge, async (c) =>
    c.json({ bridge: await setDrain(c.env, requireAdmin(c), clientIp(c), c.req.valid("param").bridgeId, true) }, 200),
  )
  .openapi(undrainBridge, async (c) =>
    c.json({ bridge: await setDrain(c.env, requireAdmin(c), clientIp(c), c.req.valid("param").bridgeId, false) }, 200),
  )
  .openapi(rotateToken, async (c) => {
    const auth = requireAdmin(c);
    const { bridgeId } = c.req.valid("param");
    const { token, hash } = await newToken();
    const db = getDb(c.env);
    const [bridge] = await db.update(bridges).set({ tokenHash: hash }).where(eq(bridges.id, bridgeId)).returning();
    if (!bridge) throw new ApiError("BRIDGE_NOT_FOUND", "No such bridge.");
    // The connection made with the old token must not outlive it.
    await hubStub(c.env, bridgeId).disconnect("The bridge token was rotated.");
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "admin.bridge.rotate_token",
      targetType: "bridge",
      targetId: bridgeId,
    });
    const [row] = await db.select({ active: activeCount }).from(bridges).where(eq(bridges.id, bridgeId));
    return c.json({ bridge: bridgeView(bridge, row?.active ?? 0), token }, 200);
  });

async function setDrain(
  env: Env,
  auth: AuthContext,
  ip: string,
  bridgeId: string,
  draining: boolean,
): Promise<z.infer<typeof BridgeSchema>> {
  const db = getDb(env);
  const [bridge] = await db.update(bridges).set({ draining }).where(eq(bridges.id, bridgeId)).returning();
  if (!bridge) throw new ApiError("BRIDGE_NOT_FOUND", "No such bridge.");
  const action: AuditAction = draining ? "admin.bridge.drain" : "admin.bridge.undrain";
  await auditInsert(db, { actorId: auth.userId, actorName: auth.name, action, targetType: "bridge", targetId: bridgeId, ip });
  const [row] = await db.select({ active: activeCount }).from(bridges).where(eq(bridges.id, bridgeId));
  return bridgeView(bridge, row?.active ?? 0);
}
