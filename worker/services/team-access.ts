/**
 * Team authorization: a caller's role in a team decides what they may do. Teams the caller is
 * not in do not exist for them (404, never 403), so team ids cannot be probed.
 */
import { and, eq } from "drizzle-orm";
import { teamMembers, type TeamRole } from "../../migrations/schema.ts";
import type { Db } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";

const RANK: Record<TeamRole, number> = { viewer: 1, editor: 2, owner: 3 };

export function roleAtLeast(role: TeamRole, min: TeamRole): boolean {
  return RANK[role] >= RANK[min];
}

/** The caller's role in the team; 404 TEAM_NOT_FOUND if not a member, 403 if below `min`. */
export async function requireTeamRole(db: Db, teamId: string, userId: string, min: TeamRole): Promise<TeamRole> {
  const [row] = await db
    .select({ role: teamMembers.role })
    .from(teamMembers)
    .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.userId, userId)))
    .limit(1);
  if (!row) throw new ApiError("TEAM_NOT_FOUND", "No such team.");
  if (!roleAtLeast(row.role, min)) {
    throw new ApiError("FORBIDDEN", `This needs the ${min} role in the team; you are ${row.role === "editor" ? "an" : "a"} ${row.role}.`);
  }
  return row.role;
}
