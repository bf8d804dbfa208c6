/**
 * The SQL of the Worker's team list (worker/routes/teams.ts), built by drizzle from the same
 * schema, so the Node baseline and the stand-in probe send exactly what the Worker sends.
 * Parameters: $1 = user id, $2 = limit (500).
 */
import { asc, eq } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/pg-core";
import { teamMembers, teams } from "../../migrations/schema.ts";

export const LIST_TEAMS_LIMIT = 500;

export const listTeamsSql: string = new QueryBuilder()
  .select({ team: teams, role: teamMembers.role })
  .from(teamMembers)
  .innerJoin(teams, eq(teams.id, teamMembers.teamId))
  .where(eq(teamMembers.userId, "00000000-0000-0000-0000-000000000000"))
  .orderBy(asc(teams.name), asc(teams.id))
  .limit(LIST_TEAMS_LIMIT)
  .toSQL().sql;
