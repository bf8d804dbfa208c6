/**
 * WebSocket routes: the Worker authenticates the upgrade (cookie or `atrium.bearer.<jwt>`
 * subprotocol), checks the caller's role, and hands the socket to the room's Durable Object
 * with the identity in a header the room trusts (only the Worker can reach a DO).
 */
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { users } from "../../migrations/schema.ts";
import { IDENTITY_HEADER, type RoomIdentity } from "../../durable-objects/room/protocol.ts";
import { getDb } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import type { AppEnv } from "../lib/router.ts";
import { requireUser } from "../middleware/auth.ts";
import { requireTeamRole } from "../services/team-access.ts";

const TeamIdSchema = z.uuid();

/** Forwards an authenticated upgrade to a room stub. */
export async function forwardToRoom(request: Request, stub: DurableObjectStub, identity: RoomIdentity): Promise<Response> {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("BAD_REQUEST", "This endpoint takes a WebSocket upgrade.");
  }
  const headers = new Headers(request.headers);
  headers.set(IDENTITY_HEADER, JSON.stringify(identity));
  return stub.fetch(new Request(request.url, { headers, method: "GET" }));
}

export const roomRoutes = new Hono<AppEnv>().get("/teams/:teamId/ws", async (c) => {
  const auth = requireUser(c);
  const teamId = TeamIdSchema.safeParse(c.req.param("teamId"));
  if (!teamId.success) throw new ApiError("TEAM_NOT_FOUND", "No such team.");
  const db = getDb(c.env);
  const role = await requireTeamRole(db, teamId.data, auth.userId, "viewer");
  const [user] = await db.select({ displayName: users.displayName }).from(users).where(eq(users.id, auth.userId));
  const stub = c.env.TEAM_ROOM.get(c.env.TEAM_ROOM.idFromName(teamId.data));
  return forwardToRoom(c.req.raw, stub, { userId: auth.userId, name: auth.name, displayName: user?.displayName ?? auth.name, role });
});
