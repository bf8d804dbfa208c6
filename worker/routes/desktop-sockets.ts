/**
 * The desktop WebSockets. The bridge's sockets carry their own credential instead of a user's
 * JWT (app.ts skips user authentication for them), checked before the socket reaches the DO:
 * - `GET /bridges/connect`: a bridge's control socket, `Authorization: Bearer <bridge token>`,
 *   looked up by SHA-256 hash → its BridgeHub;
 * - `GET /desktops/:id/bridge-data?conn=`: a bridge's data socket, `Authorization: Bearer <data
 *   token>` from the start / wake command (the DesktopSession holds the hash and checks it);
 * - `GET /desktops/:id/ws?ticket=`: a viewer, with a single-use ticket (the DesktopSession
 *   consumes it). A signed-in caller must be the ticket's user.
 */
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { z } from "zod";
import { bridges } from "../../migrations/schema.ts";
import { BRIDGE_ID_HEADER, VIEWER_USER_HEADER } from "../../durable-objects/desktop/protocol.ts";
import { getDb } from "../db/client.ts";
import { sha256Hex } from "../lib/bytes.ts";
import { ApiError } from "../lib/errors.ts";
import type { AppEnv } from "../lib/router.ts";
import { withSelectedSubprotocol } from "../middleware/auth.ts";
import { hubStub, sessionStub } from "../services/desktop-sessions.ts";
import { recordSocketRoom } from "../services/socket-access.ts";

const UuidSchema = z.uuid();

function requireUpgrade(request: Request): void {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
    throw new ApiError("BAD_REQUEST", "This endpoint takes a WebSocket upgrade.");
}

function bearer(request: Request): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(request.headers.get("Authorization") ?? "")?.[1];
}

/** A forwarded request without the headers only the Worker may set. */
function forwardable(request: Request, extra: Record<string, string>): Request {
  const headers = new Headers(request.headers);
  headers.delete(BRIDGE_ID_HEADER);
  headers.delete(VIEWER_USER_HEADER);
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  return new Request(request.url, { headers, method: "GET" });
}

export const desktopSocketRoutes = new Hono<AppEnv>()
  .get("/bridges/connect", async (c) => {
    requireUpgrade(c.req.raw);
    const token = bearer(c.req.raw);
    const [bridge] = token?.startsWith("brg_")
      ? await getDb(c.env)
          .select({ id: bridges.id })
          .from(bridges)
          .where(eq(bridges.tokenHash, await sha256Hex(token)))
      : [];
    if (!bridge) throw new ApiError("BRIDGE_TOKEN_INVALID", "Connect with 'Authorization: Bearer <bridge token>' of a registered bridge.");
    return hubStub(c.env, bridge.id).fetch(forwardable(c.req.raw, { [BRIDGE_ID_HEADER]: bridge.id }));
  })
  .get("/desktops/:sessionId/bridge-data", async (c) => {
    requireUpgrade(c.req.raw);
    const id = UuidSchema.safeParse(c.req.param("sessionId"));
    if (!id.success) throw new ApiError("DESKTOP_NOT_FOUND", "No such desktop.");
    if (!bearer(c.req.raw))
      throw new ApiError("DATA_TOKEN_INVALID", "Connect with 'Authorization: Bearer <data token>' from the start or wake command.");
    return sessionStub(c.env, id.data).fetch(forwardable(c.req.raw, {}));
  })
  .get("/desktops/:sessionId/ws", async (c) => {
    requireUpgrade(c.req.raw);
    const id = UuidSchema.safeParse(c.req.param("sessionId"));
    if (!id.success) throw new ApiError("DESKTOP_NOT_FOUND", "No such desktop.");
    if (!c.req.query("ticket"))
      throw new ApiError("TICKET_INVALID", "Open the viewer socket with ?ticket= from POST /api/v1/desktops/{id}/ticket.");
    // A ticket alone is enough (browsers cannot set headers on WebSockets), but a signed-in
    // caller presenting someone else's ticket is refused by the session.
    const auth = c.get("auth");
    const userId = auth?.userId;
    if (auth) await recordSocketRoom(getDb(c.env), auth, { kind: "desktop", roomId: id.data, teamId: null });
    const answer = await sessionStub(c.env, id.data).fetch(forwardable(c.req.raw, userId ? { [VIEWER_USER_HEADER]: userId } : {}));
    return withSelectedSubprotocol(c.req.raw, answer);
  });
