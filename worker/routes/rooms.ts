/**
 * WebSocket routes: the Worker authenticates the upgrade (cookie or `atrium.bearer.<jwt>`
 * subprotocol), checks the caller's role, and hands the socket to the room's Durable Object
 * with the identity in a header the room trusts (only the Worker can reach a DO). Each upgrade
 * is recorded (services/socket-access.ts) so a later loss of access reaches the socket.
 */
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { meetings, users } from "../../migrations/schema.ts";
import { IDENTITY_HEADER, type RoomIdentity } from "../../durable-objects/room/protocol.ts";
import { getDb } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import type { AppEnv } from "../lib/router.ts";
import { requireUser, withSelectedSubprotocol } from "../middleware/auth.ts";
import { recordSocketRoom } from "../services/socket-access.ts";
import { requireTeamRole } from "../services/team-access.ts";

const UuidSchema = z.uuid();

/** Forwards an authenticated upgrade to a room stub. */
export async function forwardToRoom(request: Request, stub: DurableObjectStub, identity: RoomIdentity): Promise<Response> {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("BAD_REQUEST", "This endpoint takes a WebSocket upgrade.");
  }
  const headers = new Headers(request.headers);
  headers.set(IDENTITY_HEADER, JSON.stringify(identity));
  return withSelectedSubprotocol(request, await stub.fetch(new Request(request.url, { headers, method: "GET" })));
}

async function displayName(env: Env, userId: string, fallback: string): Promise<string> {
  const [user] = await getDb(env).select({ displayName: users.displayName }).from(users).where(eq(users.id, userId));
  return user?.displayName ?? fallback;
}

export const roomRoutes = new Hono<AppEnv>()
  .get("/meetings/:meetingId/ws", async (c) => {
    const auth = requireUser(c);
    const id = UuidSchema.safeParse(c.req.param("meetingId"));
    if (!id.success) throw new ApiError("MEETING_NOT_FOUND", "No such meeting.");
    const db = getDb(c.env);
    const [meeting] = await db.select({ teamId: meetings.teamId }).from(meetings).where(eq(meetings.id, id.data));
    if (!meeting) throw new ApiError("MEETING_NOT_FOUND", "No such meeting.");
    const role = await requireTeamRole(db, meeting.teamId, auth.userId, "viewer").catch((e: unknown) => {
      if (e instanceof ApiError && e.code === "TEAM_NOT_FOUND") throw new ApiError("MEETING_NOT_FOUND", "No such meeting.");
      throw e;
    });
    const stub = c.env.MEETING_ROOM.get(c.env.MEETING_ROOM.idFromName(id.data));
    await recordSocketRoom(db, auth, { kind: "meeting", roomId: id.data, teamId: meeting.teamId });
    return forwardToRoom(c.req.raw, stub, {
      userId: auth.userId,
      name: auth.name,
      displayName: await displayName(c.env, auth.userId, auth.name),
      role,
      familyId: auth.familyId,
    });
  })
  .get("/teams/:teamId/ws", async (c) => {
    const auth = requireUser(c);
    const teamId = UuidSchema.safeParse(c.req.param("teamId"));
    if (!teamId.success) throw new ApiError("TEAM_NOT_FOUND", "No such team.");
    const db = getDb(c.env);
    const role = await requireTeamRole(db, teamId.data, auth.userId, "viewer");
    const stub = c.env.TEAM_ROOM.get(c.env.TEAM_ROOM.idFromName(teamId.data));
    await recordSocketRoom(db, auth, { kind: "team", roomId: teamId.data, teamId: teamId.data });
    return forwardToRoom(c.req.raw, stub, {
      userId: auth.userId,
      name: auth.name,
      displayName: await displayName(c.env, auth.userId, auth.name),
      role,
      familyId: auth.familyId,
    });
  });
