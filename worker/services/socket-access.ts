/**
 * Open sockets follow the user's access. Every socket upgrade records which room the user (and
 * login session) connected to in `socket_rooms`; when access changes — a team role change or
 * removal, a deleted team, deactivation, logout, a revoked session — the Worker tells exactly
 * those rooms to re-authorize (new role) or close the user's sockets. Without this a removed
 * user's socket would keep its old role for as long as it stays open.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import { desktopSessions, type SocketRoomKind, socketRooms, teamMembers } from "../../migrations/schema.ts";
import type { AccessChange, RoomRole } from "../../durable-objects/room/protocol.ts";
import type { Db } from "../db/client.ts";
import type { AuthContext } from "../lib/router.ts";
import { sessionStub } from "./desktop-sessions.ts";
import { forgetLiveSessions } from "./live-sessions.ts";
import { loggableError } from "../lib/safe-log.ts";

/** Records that `auth` opened a socket to a room (before the upgrade reaches the room, so a revocation racing it finds it). */
export async function recordSocketRoom(
  db: Db,
  auth: AuthContext,
  room: { kind: SocketRoomKind; roomId: string; teamId: string | null },
): Promise<void> {
  // Single-user mode has nobody to revoke.
  if (auth.via === "local") return;
  await db
    .insert(socketRooms)
    .values({ userId: auth.userId, familyId: auth.familyId, kind: room.kind, roomId: room.roomId, teamId: room.teamId })
    .onConflictDoUpdate({
      target: [socketRooms.userId, socketRooms.kind, socketRooms.roomId, socketRooms.familyId],
      set: { connectedAt: sql`now()`, teamId: room.teamId },
    });
}

/** Whose sockets, where. */
export type SocketScope =
  /** every room of the user (deactivation, every session ended) */
  | { kind: "user"; userId: string }
  /** the rooms one login session of the user opened (logout, reuse detected) */
  | { kind: "session"; userId: string; familyId: string }
  /** the user's rooms of one team; with `role` they stay open under it, else they close (removal) */
  | { kind: "team-member"; userId: string; teamId: string; role?: RoomRole }
  /** everyone's rooms of a team being deleted; `members` are its members before the deletion */
  | { kind: "team"; teamId: string; members: string[] };

type Row = typeof socketRooms.$inferSelect;

/**
 * Re-authorizes or closes the sockets in `scope` (see SocketScope) and forgets the rooms that no
 * longer hold a socket of the user. Awaited by the route that changed the access, so its answer
 * means the old sockets are gone. A room that cannot be reached is logged and skipped (its
 * registry row stays, so a later revocation tries again).
 */
export async function revokeSockets(env: Env, db: Db, scope: SocketScope, reason: string): Promise<void> {
  // Every revocation path comes through here: this isolate's cached "session is live" answers go.
  if (scope.kind !== "team") forgetLiveSessions(scope.userId);
  const rows = await db.select().from(socketRooms).where(scopeWhere(scope));
  // Leaving a team ends views of teammates' desktops through share links only if no other team
  // is shared with the desktop's owner; the user's own desktops are not affected.
  // A deleted team does the same for each of its former members.
  const leavers = scope.kind === "team-member" && !scope.role ? [scope.userId] : scope.kind === "team" ? scope.members : [];
  const desktopRows = leavers.length > 0 ? await sharedDesktopsToClose(db, leavers) : [];
  const forget: Row[] = [];
  await Promise.all(
    [...rows, ...desktopRows].map(async (row) => {
      try {
        const remaining = await changeRoom(env, row, scope, reason);
        if (remaining === 0) forget.push(row);
      } catch (e: unknown) {
        console.error("socket revocation failed", row.kind, row.roomId, loggableError(e));
      }
    }),
  );
  if (forget.length > 0) {
    await db.delete(socketRooms).where(
      sql`(${socketRooms.userId}, ${socketRooms.kind}, ${socketRooms.roomId}, ${socketRooms.familyId}) in (${sql.join(
        forget.map((r) => sql`(${r.userId}::uuid, ${r.kind}, ${r.roomId}::uuid, ${r.familyId})`),
        sql`, `,
      )})`,
    );
  }
}

function scopeWhere(scope: SocketScope) {
  switch (scope.kind) {
    case "user":
      return eq(socketRooms.userId, scope.userId);
    case "session":
      return and(eq(socketRooms.userId, scope.userId), eq(socketRooms.familyId, scope.familyId));
    case "team-member":
      return and(eq(socketRooms.userId, scope.userId), eq(socketRooms.teamId, scope.teamId));
    case "team":
      return eq(socketRooms.teamId, scope.teamId);
  }
}

/** Desktop rooms of these users on other people's desktops whose owner shares no team with the viewer any more. */
async function sharedDesktopsToClose(db: Db, userIds: string[]): Promise<Row[]> {
  const rows = await db
    .select({ row: socketRooms })
    .from(socketRooms)
    .innerJoin(desktopSessions, eq(desktopSessions.id, socketRooms.roomId))
    .where(
      and(
        inArray(socketRooms.userId, userIds),
        eq(socketRooms.kind, "desktop"),
        sql`${desktopSessions.userId} <> ${socketRooms.userId}`,
        sql`not exists (
          select 1 from ${teamMembers} mine join ${teamMembers} theirs on theirs.team_id = mine.team_id
          where mine.user_id = ${socketRooms.userId} and theirs.user_id = ${desktopSessions.userId})`,
      ),
    );
  return rows.map((r) => r.row);
}

/** Tells one room; returns how many of the user's sockets are left there (0: forget the row). */
async function changeRoom(env: Env, row: Row, scope: SocketScope, reason: string): Promise<number> {
  const role = scope.kind === "team-member" ? scope.role : undefined;
  const change: AccessChange = {
    userId: row.userId,
    reason,
    ...(scope.kind === "session" && { familyId: scope.familyId }),
    ...(role && { role }),
  };
  switch (row.kind) {
    case "team": {
      const n = await env.TEAM_ROOM.get(env.TEAM_ROOM.idFromName(row.roomId)).changeAccess(change);
      return role ? n : 0;
    }
    case "meeting": {
      const n = await env.MEETING_ROOM.get(env.MEETING_ROOM.idFromName(row.roomId)).changeAccess(change);
      return role ? n : 0;
    }
    case "desktop": {
      // A role change does not touch desktops (their access is not a team role).
      if (role) return 1;
      // Viewer tickets do not carry the login session, so a logout closes all of the user's
      // viewers of that desktop; the site's viewer of another session reconnects with a new ticket.
      await sessionStub(env, row.roomId).closeUserViewers(row.userId, scope.kind === "team-member" || scope.kind === "team", reason);
      return 0;
    }
  }
}
