/**
 * Desktop sessions on the Worker's side: the API view of a session, ownership (someone else's
 * session does not exist for the caller), starting one (placement in a transaction, then the
 * session's DesktopSession object), and turning a DesktopSession's refusal into an ApiError.
 */
import { z } from "@hono/zod-openapi";
import { and, eq, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { Context } from "hono";
import { desktopSessions, desktopTemplates, teamMembers, vmImages } from "../../migrations/schema.ts";
import { type AnyDb, type DesktopSessionRow, placeSession } from "../../durable-objects/desktop/desktop-records.ts";
import type { DesktopResult } from "../../durable-objects/desktop/desktop-session.ts";
import type { Platform } from "../../durable-objects/bridge/protocol.ts";
import { DESKTOP_STATES } from "../../durable-objects/desktop/protocol.ts";
import { type Db, getDb, withTransaction } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import { type AppEnv, iso, isoRequired, TimestampSchema } from "../lib/router.ts";
import { requireUser } from "../middleware/auth.ts";

export const DesktopStateSchema = z.enum(DESKTOP_STATES).openapi("DesktopState");
export const PlatformSchema = z.enum(["kubernetes", "docker", "local"]).openapi("DesktopPlatform");

export const DesktopSessionSchema = z
  .object({
    id: z.string(),
    userId: z.string(),
    templateId: z.string().nullable(),
    templateName: z.string(),
    bridgeId: z.string().nullable(),
    platform: PlatformSchema.nullable(),
    state: DesktopStateSchema,
    stateDetail: z.string().nullable(),
    lastInputAt: TimestampSchema.nullable(),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
    stoppedAt: TimestampSchema.nullable(),
  })
  .openapi("DesktopSession");
export type DesktopSessionView = z.infer<typeof DesktopSessionSchema>;

export function sessionView(s: DesktopSessionRow): DesktopSessionView {
  return {
    id: s.id,
    userId: s.userId,
    templateId: s.templateId,
    templateName: s.templateName,
    bridgeId: s.bridgeId,
    platform: s.platform,
    state: s.state,
    stateDetail: s.stateDetail,
    lastInputAt: iso(s.lastInputAt),
    createdAt: isoRequired(s.createdAt),
    updatedAt: isoRequired(s.updatedAt),
    stoppedAt: iso(s.stoppedAt),
  };
}

export function sessionStub(env: Env, sessionId: string) {
  return env.DESKTOP_SESSION.get(env.DESKTOP_SESSION.idFromName(sessionId));
}

export function hubStub(env: Env, bridgeId: string) {
  return env.BRIDGE_HUB.get(env.BRIDGE_HUB.idFromName(bridgeId));
}

export async function loadSession(db: Db, sessionId: string): Promise<DesktopSessionRow | undefined> {
  const [row] = await db.select().from(desktopSessions).where(eq(desktopSessions.id, sessionId));
  return row;
}

/** The caller's own session, or 404 DESKTOP_NOT_FOUND (also for sessions of others). */
export async function ownedSession(c: Context<AppEnv>, sessionId: string): Promise<DesktopSessionRow> {
  const auth = requireUser(c);
  const [row] = await getDb(c.env)
    .select()
    .from(desktopSessions)
    .where(and(eq(desktopSessions.id, sessionId), eq(desktopSessions.userId, auth.userId)));
  if (!row) throw new ApiError("DESKTOP_NOT_FOUND", "No such desktop.");
  return row;
}

/** A DesktopSession's refusal as the API's error. */
export function unwrap<T extends { ok: boolean }>(result: T): Extract<T, { ok: true }> {
  if (!result.ok) {
    const r = result as unknown as Extract<DesktopResult, { ok: false }>;
    throw new ApiError(r.code, r.message, r.details === undefined ? {} : { details: r.details });
  }
  return result as Extract<T, { ok: true }>;
}

/**
 * This Worker's origin for links handed back to the caller (a share link, an admin's image
 * link): PUBLIC_URL, else the origin of the request. Never for what is sent to a bridge (see
 * `bridgeOrigin`): the request's Host header is the caller's to choose.
 */
export function publicOrigin(c: Context<AppEnv>): string {
  return bridgeOrigin(c.env) ?? new URL(c.req.url).origin;
}

/**
 * Where bridges reach this Worker, for the data-socket and image links in their commands:
 * PUBLIC_URL, or null, which makes the bridge's hub use the origin the bridge's own
 * token-authenticated control socket dialed. Never derived from a user's request.
 */
export function bridgeOrigin(env: Pick<Env, "PUBLIC_URL">): string | null {
  return env.PUBLIC_URL ? env.PUBLIC_URL.replace(/\/+$/, "") : null;
}

/** Whether two users share a team. */
export async function areTeammates(db: Db, a: string, b: string): Promise<boolean> {
  const mine = alias(teamMembers, "mine");
  const theirs = alias(teamMembers, "theirs");
  const [row] = await db
    .select({ teamId: mine.teamId })
    .from(mine)
    .innerJoin(theirs, eq(theirs.teamId, mine.teamId))
    .where(and(eq(mine.userId, a), eq(theirs.userId, b)))
    .limit(1);
  return row !== undefined;
}

export interface StartDesktopInput {
  templateId: string;
  platform?: Platform | undefined;
  region?: string | undefined;
}

/** Places a new session (quotas, capacity) and hands it to its DesktopSession, which sends the start command. */
export async function startDesktop(c: Context<AppEnv>, input: StartDesktopInput): Promise<DesktopSessionRow> {
  const auth = requireUser(c);
  const db = getDb(c.env);
  const [template] = await db
    .select()
    .from(desktopTemplates)
    .where(
      and(
        eq(desktopTemplates.id, input.templateId),
        eq(desktopTemplates.enabled, true),
        // An admin-only template is one a user cannot see: the same 404 as a missing one.
        auth.isAdmin ? undefined : eq(desktopTemplates.adminOnly, false),
      ),
    );
  if (!template) throw new ApiError("TEMPLATE_NOT_FOUND", "No such desktop template (or it is disabled).");
  let imageId: string | null = null;
  if (template.kind === "vm") {
    const [image] = await db
      .select({ id: vmImages.id, status: vmImages.status })
      .from(vmImages)
      .where(sql`${vmImages.id}::text = ${template.image}`);
    if (!image) throw new ApiError("IMAGE_NOT_FOUND", "The template's VM image no longer exists.");
    if (image.status !== "ready") throw new ApiError("IMAGE_NOT_READY", "The template's VM image is still uploading.");
    imageId = image.id;
  }
  const placed = await withTransaction(c.env, (tx) =>
    placeSession(tx as unknown as AnyDb, {
      userId: auth.userId,
      templateId: template.id,
      templateName: template.name,
      platform: input.platform,
      region: input.region,
    }),
  );
  if (!placed.ok) throw new ApiError(placed.code, placed.message, { details: placed.details });
  const session = placed.session;
  const bridgeId = session.bridgeId;
  if (!bridgeId || !session.platform) throw new Error("placement returned a session without a bridge");
  try {
    unwrap(
      await sessionStub(c.env, session.id).start({
        sessionId: session.id,
        userId: auth.userId,
        bridgeId,
        platform: session.platform,
        template: {
          templateId: template.id,
          name: template.name,
          kind: template.kind,
          image: template.image,
          cpu: template.cpu,
          memoryMb: template.memoryMb,
          runtimeClass: template.runtimeClass,
          env: template.env,
          persistentHome: template.persistentHome,
        },
        imageId,
        origin: bridgeOrigin(c.env),
      }),
    );
  } catch (e: unknown) {
    // Never leave a session holding a quota slot that nothing will ever start.
    await db
      .update(desktopSessions)
      .set({ state: "failed", stateDetail: "The desktop could not be set up.", stoppedAt: new Date(), updatedAt: new Date() })
      .where(eq(desktopSessions.id, session.id));
    throw e;
  }
  return (await loadSession(db, session.id)) ?? session;
}
