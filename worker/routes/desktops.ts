/**
 * Lab desktops for users: the enabled templates, starting a session (placement, quotas), the
 * caller's own sessions and their lifecycle (stop, hibernate, wake, delete), viewer tickets,
 * and view-only share links for teammates. Sessions of others are 404 everywhere; a teammate
 * reaches a shared session only through its link's ticket, view-only, and only when the owner
 * made the link for them (services/desktop-shares.ts).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, desc, eq, inArray, isNull } from "drizzle-orm";
import { desktopSessions, desktopShares, desktopTemplates, users } from "../../migrations/schema.ts";
import { isTerminal, LIVE_STATES } from "../../durable-objects/desktop/protocol.ts";
import { getDb } from "../db/client.ts";
import { randomToken, sha256Hex } from "../lib/bytes.ts";
import { ApiError } from "../lib/errors.ts";
import { createRouter, errorResponses, IdParam, iso, isoRequired, jsonBody, jsonResponse, TimestampSchema } from "../lib/router.ts";
import { auditActor, clientIp, requireUser } from "../middleware/auth.ts";
import { auditInsert } from "../services/audit.ts";
import {
  DesktopSessionSchema,
  DesktopStateSchema,
  loadSession,
  ownedSession,
  PlatformSchema,
  publicOrigin,
  sessionStub,
  sessionView,
  startDesktop,
  unwrap,
} from "../services/desktop-sessions.ts";
import { createShare, mayRedeem, type ShareRecipient, shareRecipients } from "../services/desktop-shares.ts";

const tags = ["desktops"];

const TemplateSummarySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    kind: z.enum(["container", "vm"]),
    cpu: z.number(),
    memoryMb: z.number().int(),
    persistentHome: z.boolean(),
    adminOnly: z.boolean().openapi({ description: "only administrators see it (they alone are shown such templates)" }),
  })
  .openapi("DesktopTemplateSummary");

const SessionParams = z.object({ sessionId: IdParam.openapi({ param: { name: "sessionId", in: "path" } }) });
const ShareParams = SessionParams.extend({ shareId: IdParam.openapi({ param: { name: "shareId", in: "path" } }) });

const TicketSchema = z
  .object({
    ticket: z.string(),
    expiresAt: TimestampSchema,
    viewOnly: z.boolean(),
    wsPath: z.string().openapi({ description: "where to open the viewer socket (the ticket works once, for 60 s)" }),
  })
  .openapi("DesktopTicket");

const ShareSchema = z
  .object({
    id: z.string(),
    sessionId: z.string(),
    recipients: z.array(z.object({ id: z.string(), displayName: z.string() })).openapi({
      description:
        "who may redeem the link (while they share a team with the owner): the teammates named at creation, or everyone who was a teammate then",
    }),
    createdAt: TimestampSchema,
    expiresAt: TimestampSchema,
    revokedAt: TimestampSchema.nullable(),
  })
  .openapi("DesktopShare");

type ShareRow = typeof desktopShares.$inferSelect;
function shareView(s: ShareRow, recipients: ShareRecipient[]): z.infer<typeof ShareSchema> {
  return {
    id: s.id,
    sessionId: s.sessionId,
    recipients,
    createdAt: isoRequired(s.createdAt),
    expiresAt: isoRequired(s.expiresAt),
    revokedAt: iso(s.revokedAt),
  };
}

const wsPath = (sessionId: string, ticket: string) => `/api/v1/desktops/${sessionId}/ws?ticket=${encodeURIComponent(ticket)}`;

const listTemplates = createRoute({
  method: "get",
  path: "/desktop-templates",
  tags,
  summary: "The desktop templates this user may start (enabled ones; admin-only ones for administrators only)",
  responses: { 200: jsonResponse(z.object({ templates: z.array(TemplateSummarySchema) }), "Templates"), ...errorResponses },
});
const startRoute = createRoute({
  method: "post",
  path: "/desktops",
  tags,
  summary:
    "Start a desktop from a template. 429 QUOTA_EXCEEDED (per-user limit or deployment max), 409 NO_CAPACITY (no bridge with a free slot)",
  request: {
    ...jsonBody(
      z.object({
        templateId: z.uuid(),
        platform: PlatformSchema.optional().openapi({ description: "only bridges of this platform" }),
        region: z
          .string()
          .trim()
          .min(1)
          .max(64)
          .optional()
          .openapi({ description: "preferred region (others are used when it has no free slot)" }),
      }),
    ),
  },
  responses: { 201: jsonResponse(z.object({ session: DesktopSessionSchema }), "Requested"), ...errorResponses },
});
const listRoute = createRoute({
  method: "get",
  path: "/desktops",
  tags,
  summary: "The caller's desktop sessions, newest first",
  request: {
    query: z.object({
      state: z
        .union([DesktopStateSchema, z.literal("live")])
        .optional()
        .openapi({ description: "one state, or 'live' for every state but stopped / failed" }),
      limit: z.coerce.number().int().min(1).max(200).default(50),
    }),
  },
  responses: { 200: jsonResponse(z.object({ sessions: z.array(DesktopSessionSchema) }), "Sessions"), ...errorResponses },
});
const getRoute = createRoute({
  method: "get",
  path: "/desktops/{sessionId}",
  tags,
  summary: "One of the caller's sessions",
  request: { params: SessionParams },
  responses: { 200: jsonResponse(z.object({ session: DesktopSessionSchema }), "The session"), ...errorResponses },
});
const action = (name: "stop" | "hibernate" | "wake", summary: string) =>
  createRoute({
    method: "post",
    path: `/desktops/{sessionId}/${name}`,
    tags,
    summary,
    request: { params: SessionParams },
    responses: { 202: jsonResponse(z.object({ session: DesktopSessionSchema }), "Requested"), ...errorResponses },
  });
const stopRoute = action("stop", "Stop one of the caller's sessions");
const hibernateRoute = action("hibernate", "Hibernate a running session (not on `local` bridges: 409 HIBERNATE_UNSUPPORTED)");
const wakeRoute = action("wake", "Wake a hibernated session (opening its viewer socket does this too)");
const deleteRoute = createRoute({
  method: "delete",
  path: "/desktops/{sessionId}",
  tags,
  summary: "Delete a stopped or failed session (stop it first: 409 INVALID_STATE)",
  request: { params: SessionParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});
const ticketRoute = createRoute({
  method: "post",
  path: "/desktops/{sessionId}/ticket",
  tags,
  summary: "A single-use viewer ticket (60 s) for the session's WebSocket",
  request: {
    params: SessionParams,
    body: {
      required: false,
      content: {
        "application/json": {
          schema: z.object({
            viewOnly: z.boolean().optional(),
            wake: z.boolean().optional().openapi({
              description:
                "Whether opening a hibernated desktop with this ticket wakes it (default true). Viewers reconnecting on their own send false, so a desktop the idle reaper hibernated stays hibernated until someone opens it.",
            }),
          }),
        },
      },
    },
  },
  responses: { 201: jsonResponse(TicketSchema, "Ticket"), ...errorResponses },
});
const createShareRoute = createRoute({
  method: "post",
  path: "/desktops/{sessionId}/shares",
  tags,
  summary:
    "A view-only share link for teammates (people sharing a team with the owner); the token is shown once. Only the recipients fixed now may redeem it: people who join the owner's teams later cannot. 404 USER_NOT_FOUND when a named user is not a teammate (or there are no teammates)",
  request: {
    params: SessionParams,
    ...jsonBody(
      z.object({
        userIds: z
          .array(z.uuid())
          .min(1)
          .max(100)
          .refine((ids) => new Set(ids).size === ids.length, "userIds must not repeat")
          .optional()
          .openapi({ description: "only these teammates may use the link; default: everyone who shares a team with the owner now" }),
        expiresInHours: z.number().int().min(1).max(720).default(24),
      }),
    ),
  },
  responses: { 201: jsonResponse(z.object({ share: ShareSchema, token: z.string(), link: z.string() }), "Created"), ...errorResponses },
});
const listSharesRoute = createRoute({
  method: "get",
  path: "/desktops/{sessionId}/shares",
  tags,
  summary: "The session's share links (without their tokens)",
  request: { params: SessionParams },
  responses: { 200: jsonResponse(z.object({ shares: z.array(ShareSchema) }), "Shares"), ...errorResponses },
});
const revokeShareRoute = createRoute({
  method: "delete",
  path: "/desktops/{sessionId}/shares/{shareId}",
  tags,
  summary: "Revoke a share link; viewers who came through it are disconnected",
  request: { params: ShareParams },
  responses: { 204: { description: "Revoked" }, ...errorResponses },
});
const shareTicketRoute = createRoute({
  method: "post",
  path: "/desktop-shares/ticket",
  tags,
  summary:
    "Redeem a share link: a view-only viewer ticket for one of its recipients who still shares a team with the session's owner (anyone else: 404 SHARE_NOT_FOUND)",
  request: { ...jsonBody(z.object({ token: z.string().min(1).max(200) })) },
  responses: {
    200: jsonResponse(
      TicketSchema.extend({
        session: z.object({ id: z.string(), templateName: z.string(), state: DesktopStateSchema, ownerName: z.string() }),
      }),
      "Ticket",
    ),
    ...errorResponses,
  },
});

export const desktopRoutes = createRouter()
  .openapi(listTemplates, async (c) => {
    const auth = requireUser(c);
    const rows = await getDb(c.env)
      .select()
      .from(desktopTemplates)
      // Admin-only templates do not exist for everyone else.
      .where(and(eq(desktopTemplates.enabled, true), auth.isAdmin ? undefined : eq(desktopTemplates.adminOnly, false)))
      .orderBy(asc(desktopTemplates.name));
    return c.json(
      {
        templates: rows.map((t) => ({
          id: t.id,
          name: t.name,
          description: t.description,
          kind: t.kind,
          cpu: t.cpu,
          memoryMb: t.memoryMb,
          persistentHome: t.persistentHome,
          adminOnly: t.adminOnly,
        })),
      },
      200,
    );
  })
  .openapi(startRoute, async (c) => {
    const session = await startDesktop(c, c.req.valid("json"));
    return c.json({ session: sessionView(session) }, 201);
  })
  .openapi(listRoute, async (c) => {
    const auth = requireUser(c);
    const { state, limit } = c.req.valid("query");
    const stateFilter =
      state === "live" ? inArray(desktopSessions.state, [...LIVE_STATES]) : state ? eq(desktopSessions.state, state) : undefined;
    const rows = await getDb(c.env)
      .select()
      .from(desktopSessions)
      .where(and(eq(desktopSessions.userId, auth.userId), stateFilter))
      .orderBy(desc(desktopSessions.createdAt))
      .limit(limit);
    return c.json({ sessions: rows.map(sessionView) }, 200);
  })
  .openapi(getRoute, async (c) => {
    const session = await ownedSession(c, c.req.valid("param").sessionId);
    return c.json({ session: sessionView(session) }, 200);
  })
  .openapi(stopRoute, async (c) => {
    const session = await ownedSession(c, c.req.valid("param").sessionId);
    unwrap(await sessionStub(c.env, session.id).stop());
    return c.json({ session: sessionView((await loadSession(getDb(c.env), session.id)) ?? session) }, 202);
  })
  .openapi(hibernateRoute, async (c) => {
    const session = await ownedSession(c, c.req.valid("param").sessionId);
    unwrap(await sessionStub(c.env, session.id).hibernate());
    return c.json({ session: sessionView((await loadSession(getDb(c.env), session.id)) ?? session) }, 202);
  })
  .openapi(wakeRoute, async (c) => {
    const session = await ownedSession(c, c.req.valid("param").sessionId);
    unwrap(await sessionStub(c.env, session.id).wake());
    return c.json({ session: sessionView((await loadSession(getDb(c.env), session.id)) ?? session) }, 202);
  })
  .openapi(deleteRoute, async (c) => {
    const session = await ownedSession(c, c.req.valid("param").sessionId);
    if (!isTerminal(session.state)) throw new ApiError("INVALID_STATE", `The desktop is ${session.state}: stop it before deleting it.`);
    await sessionStub(c.env, session.id).forget();
    await getDb(c.env).delete(desktopSessions).where(eq(desktopSessions.id, session.id));
    return c.body(null, 204);
  })
  .openapi(ticketRoute, async (c) => {
    const auth = requireUser(c);
    const session = await ownedSession(c, c.req.valid("param").sessionId);
    const body = c.req.valid("json");
    const viewOnly = body.viewOnly ?? false;
    if (isTerminal(session.state)) throw new ApiError("INVALID_STATE", `The desktop is ${session.state}.`);
    const t = unwrap(
      await sessionStub(c.env, session.id).issueTicket({ userId: auth.userId, viewOnly, shareId: null, wake: body.wake ?? true }),
    );
    return c.json(
      { ticket: t.ticket, expiresAt: new Date(t.expiresAt).toISOString(), viewOnly, wsPath: wsPath(session.id, t.ticket) },
      201,
    );
  })
  .openapi(createShareRoute, async (c) => {
    const auth = requireUser(c);
    const session = await ownedSession(c, c.req.valid("param").sessionId);
    const body = c.req.valid("json");
    const db = getDb(c.env);
    const token = `dsh_${randomToken(32)}`;
    const created = await createShare(c.env, {
      sessionId: session.id,
      ownerId: auth.userId,
      userIds: body.userIds,
      tokenHash: await sha256Hex(token),
      expiresAt: new Date(Date.now() + body.expiresInHours * 3_600_000),
    });
    if (!created.ok) throw new ApiError("USER_NOT_FOUND", created.message);
    const { share, recipients } = created;
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "desktop.share.create",
      targetType: "desktop_share",
      targetId: share.id,
      detail: { sessionId: session.id, recipients: recipients.map((r) => r.id) },
    });
    // The token rides in the fragment so it never reaches a server log.
    return c.json({ share: shareView(share, recipients), token, link: `${publicOrigin(c)}/desktops/shared#token=${token}` }, 201);
  })
  .openapi(listSharesRoute, async (c) => {
    const session = await ownedSession(c, c.req.valid("param").sessionId);
    const db = getDb(c.env);
    const rows = await db
      .select()
      .from(desktopShares)
      .where(eq(desktopShares.sessionId, session.id))
      .orderBy(desc(desktopShares.createdAt));
    const recipients = await shareRecipients(
      db,
      rows.map((r) => r.id),
    );
    return c.json({ shares: rows.map((r) => shareView(r, recipients.get(r.id) ?? [])) }, 200);
  })
  .openapi(revokeShareRoute, async (c) => {
    const { sessionId, shareId } = c.req.valid("param");
    const session = await ownedSession(c, sessionId);
    const db = getDb(c.env);
    const [share] = await db
      .select({ id: desktopShares.id, revokedAt: desktopShares.revokedAt })
      .from(desktopShares)
      .where(and(eq(desktopShares.id, shareId), eq(desktopShares.sessionId, session.id)));
    if (!share) throw new ApiError("SHARE_NOT_FOUND", "No such share link (or it is already revoked).");
    const [revoked] = share.revokedAt
      ? []
      : await db
          .update(desktopShares)
          .set({ revokedAt: new Date() })
          .where(and(eq(desktopShares.id, shareId), isNull(desktopShares.revokedAt)))
          .returning({ id: desktopShares.id });
    // The session ends the link's viewers and tickets before anything else can fail, and again
    // for a link already revoked: a revoke whose first attempt died between Postgres and the
    // session is finished by asking again (closing is idempotent).
    await sessionStub(c.env, session.id).closeShareViewers(shareId);
    if (!revoked) throw new ApiError("SHARE_NOT_FOUND", "No such share link (or it is already revoked).");
    const auth = requireUser(c);
    await auditInsert(db, {
      actorId: auth.userId,
      actorName: auth.name,
      action: "desktop.share.revoke",
      targetType: "desktop_share",
      targetId: shareId,
      ip: clientIp(c),
      detail: { sessionId },
    });
    return c.body(null, 204);
  })
  .openapi(shareTicketRoute, async (c) => {
    const auth = requireUser(c);
    const { token } = c.req.valid("json");
    const db = getDb(c.env);
    const [row] = await db
      .select({ share: desktopShares, session: desktopSessions, ownerName: users.displayName })
      .from(desktopShares)
      .innerJoin(desktopSessions, eq(desktopSessions.id, desktopShares.sessionId))
      .innerJoin(users, eq(users.id, desktopSessions.userId))
      .where(eq(desktopShares.tokenHash, await sha256Hex(token)));
    const notFound = () => new ApiError("SHARE_NOT_FOUND", "This share link does not exist, has expired, was revoked, or is not for you.");
    if (!row || row.share.revokedAt || new Date(row.share.expiresAt).getTime() <= Date.now()) throw notFound();
    const { share, session } = row;
    // Its recipients only (fixed when the owner made it), and only while they still share a team
    // with the owner: leaving the team ends the access, joining one later grants none.
    if (session.userId !== auth.userId && !(await mayRedeem(db, share.id, session.userId, auth.userId))) throw notFound();
    if (isTerminal(session.state)) throw new ApiError("INVALID_STATE", `The desktop is ${session.state}.`);
    const t = unwrap(
      await sessionStub(c.env, session.id).issueTicket({ userId: auth.userId, viewOnly: true, shareId: share.id, wake: false }),
    );
    return c.json(
      {
        ticket: t.ticket,
        expiresAt: new Date(t.expiresAt).toISOString(),
        viewOnly: true,
        wsPath: wsPath(session.id, t.ticket),
        session: { id: session.id, templateName: session.templateName, state: session.state, ownerName: row.ownerName },
      },
      200,
    );
  });
