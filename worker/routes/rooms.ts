/**
 * WebSocket routes: the Worker authenticates the upgrade (cookie or `atrium.bearer.<jwt>`
 * subprotocol), checks the caller's role, and hands the socket to the room's Durable Object
 * with the identity in a header the room trusts (only the Worker can reach a DO). Each upgrade
 * is recorded (services/socket-access.ts) so a later loss of access reaches the socket.
 */
import { eq } from "drizzle-orm";
import { type Context, Hono } from "hono";
import { z } from "zod";
import { meetings, type SocketRoomKind, users } from "../../migrations/schema.ts";
import { IDENTITY_HEADER, type RoomIdentity, type RoomRole } from "../../durable-objects/room/protocol.ts";
import { getDb } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import type { AppEnv, AuthContext } from "../lib/router.ts";
import { requireUser, withSelectedSubprotocol } from "../middleware/auth.ts";
import { recordSocketRoom } from "../services/socket-access.ts";
import { requireTeamRole } from "../services/team-access.ts";

const UuidSchema = z.uuid();

/**
 * Hands an authenticated, authorized upgrade to a room: records it first (so a revocation racing
 * the upgrade finds it), then forwards it with the caller's identity and role.
 */
async function joinRoom(
  c: Context<AppEnv>,
  auth: AuthContext,
  stub: DurableObjectStub,
  room: { kind: SocketRoomKind; roomId: string; teamId: string },
  role: RoomRole,
): Promise<Response> {
  const request = c.req.raw;
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("BAD_REQUEST", "This endpoint takes a WebSocket upgrade.");
  }
  await recordSocketRoom(getDb(c.env), auth, room);
  const identity: RoomIdentity = {
    userId: auth.userId,
    name: auth.name,
    displayName: await displayName(c.env, auth.userId, auth.name),
    role,
    familyId: auth.familyId,
  };
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
    return joinRoom(c, auth, stub, { kind: "meeting", roomId: id.data, teamId: meeting.teamId }, role);
  })
  .get("/teams/:teamId/ws", async (c) => {
    const auth = requireUser(c);
    const teamId = UuidSchema.safeParse(c.req.param("teamId"));
    if (!teamId.success) throw new ApiError("TEAM_NOT_FOUND", "No such team.");
    const db = getDb(c.env);
    const role = await requireTeamRole(db, teamId.data, auth.userId, "viewer");
    const stub = c.env.TEAM_ROOM.get(c.env.TEAM_ROOM.idFromName(teamId.data));
    return joinRoom(c, auth, stub, { kind: "team", roomId: teamId.data, teamId: teamId.data }, role);
  });
