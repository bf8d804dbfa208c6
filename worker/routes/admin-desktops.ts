/**
 * /api/v1/admin for lab desktops: templates (create, edit, enable / disable, delete), the
 * deployment's desktop settings (quotas and idle timeout), and every user's sessions (filter,
 * stop). Administrators only.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, desc, eq, type SQL, sql } from "drizzle-orm";
import { desktopSessions, desktopTemplates, users, vmImages } from "../../migrations/schema.ts";
import { type AnyDb, readDesktopSettings, writeDesktopSettings } from "../../durable-objects/desktop/desktop-records.ts";
import { getDb } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import { createRouter, errorResponses, IdParam, isoRequired, jsonBody, jsonResponse, TimestampSchema } from "../lib/router.ts";
import { auditActor, requireAdmin } from "../middleware/auth.ts";
import { auditInsert } from "../services/audit.ts";
import {
  DesktopSessionSchema,
  DesktopStateSchema,
  loadSession,
  PlatformSchema,
  sessionStub,
  sessionView,
  unwrap,
} from "../services/desktop-sessions.ts";

const tags = ["admin", "desktops"];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A container image reference (registry/name:tag@digest), no spaces or shell characters. */
const IMAGE_REF = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;
/** A Kubernetes RuntimeClass name (DNS subdomain). */
const RUNTIME_CLASS = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const TemplateFields = {
  name: z.string().trim().min(1).max(100),
  description: z.string().trim().max(2000),
  kind: z.enum(["container", "vm"]),
  image: z.string().trim().min(1).max(500).openapi({ description: "a container image reference, or the id of an uploaded VM image" }),
  cpu: z.number().positive().max(64),
  memoryMb: z.number().int().min(128).max(262_144),
  runtimeClass: z.string().trim().max(63).regex(RUNTIME_CLASS).nullable(),
  env: z
    .record(z.string().regex(ENV_NAME, "environment variable names are letters, digits and _"), z.string().max(4000))
    .refine((e) => Object.keys(e).length <= 100, "at most 100 variables"),
  persistentHome: z.boolean(),
  enabled: z.boolean(),
  adminOnly: z.boolean().openapi({ description: "only site administrators see and start it (e.g. a desktop that is a shell on the host)" }),
};

const TemplateInput = z.object({
  ...TemplateFields,
  description: TemplateFields.description.default(""),
  cpu: TemplateFields.cpu.default(1),
  memoryMb: TemplateFields.memoryMb.default(2048),
  runtimeClass: TemplateFields.runtimeClass.default(null),
  env: TemplateFields.env.default({}),
  persistentHome: TemplateFields.persistentHome.default(false),
  enabled: TemplateFields.enabled.default(true),
  adminOnly: TemplateFields.adminOnly.default(false),
});
const TemplatePatch = z
  .object(TemplateFields)
  .partial()
  .refine((b) => Object.keys(b).length > 0, "give at least one field");

const TemplateSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    kind: z.enum(["container", "vm"]),
    image: z.string(),
    cpu: z.number(),
    memoryMb: z.number().int(),
    runtimeClass: z.string().nullable(),
    env: z.record(z.string(), z.string()),
    persistentHome: z.boolean(),
    enabled: z.boolean(),
    adminOnly: z.boolean(),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
  })
  .openapi("DesktopTemplate");

type TemplateRow = typeof desktopTemplates.$inferSelect;
function templateView(t: TemplateRow): z.infer<typeof TemplateSchema> {
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    kind: t.kind,
    image: t.image,
    cpu: t.cpu,
    memoryMb: t.memoryMb,
    runtimeClass: t.runtimeClass,
    env: t.env,
    persistentHome: t.persistentHome,
    enabled: t.enabled,
    adminOnly: t.adminOnly,
    createdAt: isoRequired(t.createdAt),
    updatedAt: isoRequired(t.updatedAt),
  };
}

const SettingsSchema = z
  .object({
    maxConcurrentSessions: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .openapi({ description: "desktops running (or starting, waking, …) across the deployment" }),
    perUserSessionLimit: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .openapi({ description: "a user's sessions that are not stopped or failed (hibernated ones count)" }),
    idleTimeoutMinutes: z
      .number()
      .int()
      .min(0)
      .max(10_080)
      .openapi({ description: "hibernate (or stop) a desktop without input this long; 0 = never" }),
  })
  .openapi("DesktopSettings");

const TemplateParams = z.object({ templateId: IdParam.openapi({ param: { name: "templateId", in: "path" } }) });
const SessionParams = z.object({ sessionId: IdParam.openapi({ param: { name: "sessionId", in: "path" } }) });

const listTemplates = createRoute({
  method: "get",
  path: "/desktop-templates",
  tags,
  summary: "Every desktop template, enabled or not",
  responses: { 200: jsonResponse(z.object({ templates: z.array(TemplateSchema) }), "Templates"), ...errorResponses },
});
const createTemplate = createRoute({
  method: "post",
  path: "/desktop-templates",
  tags,
  summary: "Create a desktop template (a VM template names a ready uploaded image)",
  request: { ...jsonBody(TemplateInput) },
  responses: { 201: jsonResponse(z.object({ template: TemplateSchema }), "Created"), ...errorResponses },
});
const updateTemplate = createRoute({
  method: "patch",
  path: "/desktop-templates/{templateId}",
  tags,
  summary: "Edit a template; `enabled` enables or disables it (running sessions keep their copy)",
  request: { params: TemplateParams, ...jsonBody(TemplatePatch) },
  responses: { 200: jsonResponse(z.object({ template: TemplateSchema }), "Updated"), ...errorResponses },
});
const deleteTemplate = createRoute({
  method: "delete",
  path: "/desktop-templates/{templateId}",
  tags,
  summary: "Delete a template (its sessions keep running and keep its name)",
  request: { params: TemplateParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});
const getSettings = createRoute({
  method: "get",
  path: "/desktop-settings",
  tags,
  summary: "Desktop quotas and idle timeout",
  responses: { 200: jsonResponse(z.object({ settings: SettingsSchema }), "Settings"), ...errorResponses },
});
const putSettings = createRoute({
  method: "put",
  path: "/desktop-settings",
  tags,
  summary: "Set the desktop quotas and idle timeout",
  request: { ...jsonBody(SettingsSchema) },
  responses: { 200: jsonResponse(z.object({ settings: SettingsSchema }), "Saved"), ...errorResponses },
});
const listSessions = createRoute({
  method: "get",
  path: "/desktop-sessions",
  tags,
  summary: "All desktop sessions, newest first (filter by bridge, platform, user, state)",
  request: {
    query: z.object({
      bridgeId: z.uuid().optional(),
      platform: PlatformSchema.optional(),
      userId: z.uuid().optional(),
      state: DesktopStateSchema.optional(),
      limit: z.coerce.number().int().min(1).max(200).default(50),
      offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
    }),
  },
  responses: {
    200: jsonResponse(
      z.object({ sessions: z.array(DesktopSessionSchema.extend({ username: z.string() })), total: z.number().int() }),
      "Sessions",
    ),
    ...errorResponses,
  },
});
const stopSession = createRoute({
  method: "post",
  path: "/desktop-sessions/{sessionId}/stop",
  tags,
  summary: "Stop anyone's desktop session",
  request: { params: SessionParams },
  responses: { 202: jsonResponse(z.object({ session: DesktopSessionSchema }), "Requested"), ...errorResponses },
});

/** A VM template's image must exist and be fully uploaded. */
async function checkImage(db: AnyDb, kind: "container" | "vm", image: string): Promise<void> {
  if (kind === "container") {
    if (!IMAGE_REF.test(image))
      throw new ApiError("VALIDATION_FAILED", "image must be a container image reference such as 'ghcr.io/lab/desktop:1.2'.");
    return;
  }
  if (!z.uuid().safeParse(image).success) throw new ApiError("IMAGE_NOT_FOUND", "A VM template's image is the id of an uploaded VM image.");
  const [row] = await db.select({ status: vmImages.status }).from(vmImages).where(eq(vmImages.id, image));
  if (!row) throw new ApiError("IMAGE_NOT_FOUND", "No such VM image.");
  if (row.status !== "ready") throw new ApiError("IMAGE_NOT_READY", "That VM image is still uploading.");
}

export const adminDesktopRoutes = createRouter()
  .openapi(listTemplates, async (c) => {
    requireAdmin(c);
    const rows = await getDb(c.env).select().from(desktopTemplates).orderBy(asc(desktopTemplates.name));
    return c.json({ templates: rows.map(templateView) }, 200);
  })
  .openapi(createTemplate, async (c) => {
    const auth = requireAdmin(c);
    const body = c.req.valid("json");
    const db = getDb(c.env);
    await checkImage(db as unknown as AnyDb, body.kind, body.image);
    const [created] = await db.insert(desktopTemplates).values(body).returning();
    if (!created) throw new Error("template insert returned no row");
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "admin.desktop_template.create",
      targetType: "desktop_template",
      targetId: created.id,
      detail: { name: created.name },
    });
    return c.json({ template: templateView(created) }, 201);
  })
  .openapi(updateTemplate, async (c) => {
    const auth = requireAdmin(c);
    const { templateId } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = getDb(c.env);
    const [current] = await db.select().from(desktopTemplates).where(eq(desktopTemplates.id, templateId));
    if (!current) throw new ApiError("TEMPLATE_NOT_FOUND", "No such desktop template.");
    if (body.kind !== undefined || body.image !== undefined)
      await checkImage(db as unknown as AnyDb, body.kind ?? current.kind, body.image ?? current.image);
    const [updated] = await db
      .update(desktopTemplates)
      .set({ ...body, updatedAt: new Date() })
      .where(eq(desktopTemplates.id, templateId))
      .returning();
    if (!updated) throw new ApiError("TEMPLATE_NOT_FOUND", "No such desktop template.");
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "admin.desktop_template.update",
      targetType: "desktop_template",
      targetId: templateId,
      detail: { fields: Object.keys(body) },
    });
    return c.json({ template: templateView(updated) }, 200);
  })
  .openapi(deleteTemplate, async (c) => {
    const auth = requireAdmin(c);
    const { templateId } = c.req.valid("param");
    const db = getDb(c.env);
    const [deleted] = await db
      .delete(desktopTemplates)
      .where(eq(desktopTemplates.id, templateId))
      .returning({ name: desktopTemplates.name });
    if (!deleted) throw new ApiError("TEMPLATE_NOT_FOUND", "No such desktop template.");
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "admin.desktop_template.delete",
      targetType: "desktop_template",
      targetId: templateId,
      detail: { name: deleted.name },
    });
    return c.body(null, 204);
  })
  .openapi(getSettings, async (c) => {
    requireAdmin(c);
    return c.json({ settings: await readDesktopSettings(getDb(c.env) as unknown as AnyDb) }, 200);
  })
  .openapi(putSettings, async (c) => {
    const auth = requireAdmin(c);
    const body = c.req.valid("json");
    const db = getDb(c.env);
    const settings = await writeDesktopSettings(db as unknown as AnyDb, body);
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "admin.desktop_settings.update",
      targetType: "desktop_settings",
      targetId: "1",
      detail: { ...body },
    });
    return c.json({ settings }, 200);
  })
  .openapi(listSessions, async (c) => {
    requireAdmin(c);
    const q = c.req.valid("query");
    const conds: SQL[] = [];
    if (q.bridgeId) conds.push(eq(desktopSessions.bridgeId, q.bridgeId));
    if (q.platform) conds.push(eq(desktopSessions.platform, q.platform));
    if (q.userId) conds.push(eq(desktopSessions.userId, q.userId));
    if (q.state) conds.push(eq(desktopSessions.state, q.state));
    const where = conds.length ? and(...conds) : undefined;
    const db = getDb(c.env);
    const [rows, totals] = await db.batch([
      db
        .select({ session: desktopSessions, username: users.username })
        .from(desktopSessions)
        .innerJoin(users, eq(users.id, desktopSessions.userId))
        .where(where)
        .orderBy(desc(desktopSessions.createdAt))
        .limit(q.limit)
        .offset(q.offset),
      db.select({ n: sql<number>`count(*)::int` }).from(desktopSessions).where(where),
    ]);
    return c.json(
      { sessions: rows.map((r) => ({ ...sessionView(r.session), username: r.username })), total: Number(totals[0]?.n ?? 0) },
      200,
    );
  })
  .openapi(stopSession, async (c) => {
    const auth = requireAdmin(c);
    const { sessionId } = c.req.valid("param");
    const db = getDb(c.env);
    const session = await loadSession(db, sessionId);
    if (!session) throw new ApiError("DESKTOP_NOT_FOUND", "No such desktop.");
    unwrap(await sessionStub(c.env, session.id).stop(`Stopped by an administrator (${auth.name}).`));
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "admin.desktop.stop",
      targetType: "desktop",
      targetId: session.id,
      detail: { userId: session.userId },
    });
    return c.json({ session: sessionView((await loadSession(db, session.id)) ?? session) }, 202);
  });
