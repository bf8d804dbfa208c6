/**
 * /api/v1/teams: teams and their members. Viewers read; owners rename, delete and manage
 * members; a team always keeps at least one owner.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, sql } from "drizzle-orm";
import { TEAM_ROLES, teamMembers, teams, users } from "../../migrations/schema.ts";
import { type Db, getDb, pgErrorCode } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import { createRouter, errorResponses, IdParam, isoRequired, jsonBody, jsonResponse, TimestampSchema } from "../lib/router.ts";
import { auditActor, requireUser } from "../middleware/auth.ts";
import { auditInsert } from "../services/audit.ts";
import { revokeSockets } from "../services/socket-access.ts";
import { requireTeamRole } from "../services/team-access.ts";

const tags = ["teams"];
const RoleSchema = z.enum(TEAM_ROLES).openapi("TeamRole");

const TeamSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    role: RoleSchema.openapi({ description: "the caller's role" }),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
  })
  .openapi("Team");

const MemberSchema = z
  .object({
    userId: z.string(),
    username: z.string(),
    displayName: z.string(),
    role: RoleSchema,
    joinedAt: TimestampSchema,
  })
  .openapi("TeamMember");

const TeamParams = z.object({ teamId: IdParam.openapi({ param: { name: "teamId", in: "path" } }) });
const MemberParams = TeamParams.extend({ userId: IdParam.openapi({ param: { name: "userId", in: "path" } }) });

const TeamInput = z.object({
  name: z.string().trim().min(1).max(100),
  description: z.string().trim().max(2000).optional(),
});

type TeamRow = typeof teams.$inferSelect;
function teamView(t: TeamRow, role: (typeof TEAM_ROLES)[number]): z.infer<typeof TeamSchema> {
  return {
    id: t.id,
    name: t.name,
    description: t.description,
    role,
    createdAt: isoRequired(t.createdAt),
    updatedAt: isoRequired(t.updatedAt),
  };
}

const listTeams = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "Teams the caller belongs to",
  responses: { 200: jsonResponse(z.object({ teams: z.array(TeamSchema) }), "Teams"), ...errorResponses },
});
const createTeam = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create a team (the caller becomes its owner)",
  request: jsonBody(TeamInput),
  responses: { 201: jsonResponse(z.object({ team: TeamSchema }), "Created"), ...errorResponses },
});
const getTeam = createRoute({
  method: "get",
  path: "/{teamId}",
  tags,
  summary: "One team",
  request: { params: TeamParams },
  responses: { 200: jsonResponse(z.object({ team: TeamSchema }), "The team"), ...errorResponses },
});
const updateTeam = createRoute({
  method: "patch",
  path: "/{teamId}",
  tags,
  summary: "Rename or describe a team (owner)",
  request: { params: TeamParams, ...jsonBody(TeamInput.partial()) },
  responses: { 200: jsonResponse(z.object({ team: TeamSchema }), "Updated"), ...errorResponses },
});
const deleteTeam = createRoute({
  method: "delete",
  path: "/{teamId}",
  tags,
  summary: "Delete a team with its agents (owner)",
  request: { params: TeamParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});
const listMembers = createRoute({
  method: "get",
  path: "/{teamId}/members",
  tags,
  summary: "Members and their roles",
  request: { params: TeamParams },
  responses: { 200: jsonResponse(z.object({ members: z.array(MemberSchema) }), "Members"), ...errorResponses },
});
const addMember = createRoute({
  method: "post",
  path: "/{teamId}/members",
  tags,
  summary: "Add a member by username or email (owner)",
  request: {
    params: TeamParams,
    ...jsonBody(z.object({ user: z.string().trim().min(1).max(254).openapi({ description: "username or email" }), role: RoleSchema })),
  },
  responses: { 201: jsonResponse(z.object({ member: MemberSchema }), "Added"), ...errorResponses },
});
const changeRole = createRoute({
  method: "patch",
  path: "/{teamId}/members/{userId}",
  tags,
  summary: "Change a member's role (owner); the last owner cannot be demoted",
  request: { params: MemberParams, ...jsonBody(z.object({ role: RoleSchema })) },
  responses: { 200: jsonResponse(z.object({ member: MemberSchema }), "Changed"), ...errorResponses },
});
const removeMember = createRoute({
  method: "delete",
  path: "/{teamId}/members/{userId}",
  tags,
  summary: "Remove a member (owner), or leave (yourself); the last owner cannot leave",
  request: { params: MemberParams },
  responses: { 204: { description: "Removed" }, ...errorResponses },
});

/** The hot list query, built once per database handle instead of on every request. */
function buildListTeams(db: Db) {
  return db
    .select({ team: teams, role: teamMembers.role })
    .from(teamMembers)
    .innerJoin(teams, eq(teams.id, teamMembers.teamId))
    .where(eq(teamMembers.userId, sql.placeholder("userId")))
    .orderBy(asc(teams.name), asc(teams.id))
    .limit(500)
    .prepare("list_teams");
}
const listTeamsQueries = new WeakMap<Db, ReturnType<typeof buildListTeams>>();

/** Locks the team row first so concurrent owner changes serialize and the owner check is sound. */
function lockTeam(db: ReturnType<typeof getDb>, teamId: string) {
  return db.execute(sql`select id from ${teams} where ${teams.id} = ${teamId} for update`);
}
const otherOwnerExists = (teamId: string, userId: string) =>
  sql`exists (select 1 from ${teamMembers} o where o.team_id = ${teamId} and o.role = 'owner' and o.user_id <> ${userId})`;

async function memberView(db: ReturnType<typeof getDb>, teamId: string, userId: string): Promise<z.infer<typeof MemberSchema>> {
  const [m] = await db
    .select({
      userId: users.id,
      username: users.username,
      displayName: users.displayName,
      role: teamMembers.role,
      joinedAt: teamMembers.createdAt,
    })
    .from(teamMembers)
    .innerJoin(users, eq(users.id, teamMembers.userId))
    .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.userId, userId)));
  if (!m) throw new ApiError("MEMBER_NOT_FOUND", "No such member.");
  return { ...m, joinedAt: isoRequired(m.joinedAt) };
}

export const teamRoutes = createRouter()
  .openapi(listTeams, async (c) => {
    const auth = requireUser(c);
    const db = getDb(c.env);
    let query = listTeamsQueries.get(db);
    if (!query) {
      query = buildListTeams(db);
      listTeamsQueries.set(db, query);
    }
    const rows = await query.execute({ userId: auth.userId });
    return c.json({ teams: rows.map((r) => teamView(r.team, r.role)) }, 200);
  })
  .openapi(createTeam, async (c) => {
    const auth = requireUser(c);
    const body = c.req.valid("json");
    const db = getDb(c.env);
    const id = crypto.randomUUID();
    const [[team]] = await db.batch([
      db
        .insert(teams)
        .values({ id, name: body.name, description: body.description ?? "", createdBy: auth.userId })
        .returning(),
      db.insert(teamMembers).values({ teamId: id, userId: auth.userId, role: "owner" }),
      auditInsert(db, { ...auditActor(c, auth), action: "team.create", targetType: "team", targetId: id, detail: { name: body.name } }),
    ]);
    if (!team) throw new Error("team insert returned no row");
    return c.json({ team: teamView(team, "owner") }, 201);
  })
  .openapi(getTeam, async (c) => {
    const auth = requireUser(c);
    const { teamId } = c.req.valid("param");
    const db = getDb(c.env);
    const [row] = await db
      .select({ team: teams, role: teamMembers.role })
      .from(teamMembers)
      .innerJoin(teams, eq(teams.id, teamMembers.teamId))
      .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.userId, auth.userId)));
    if (!row) throw new ApiError("TEAM_NOT_FOUND", "No such team.");
    return c.json({ team: teamView(row.team, row.role) }, 200);
  })
  .openapi(updateTeam, async (c) => {
    const auth = requireUser(c);
    const { teamId } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = getDb(c.env);
    await requireTeamRole(db, teamId, auth.userId, "owner");
    const [[team]] = await db.batch([
      db
        .update(teams)
        .set({
          ...(body.name !== undefined && { name: body.name }),
          ...(body.description !== undefined && { description: body.description }),
          updatedAt: new Date(),
        })
        .where(eq(teams.id, teamId))
        .returning(),
      auditInsert(db, { ...auditActor(c, auth), action: "team.update", targetType: "team", targetId: teamId, detail: body }),
    ]);
    if (!team) throw new ApiError("TEAM_NOT_FOUND", "No such team.");
    return c.json({ team: teamView(team, "owner") }, 200);
  })
  .openapi(deleteTeam, async (c) => {
    const auth = requireUser(c);
    const { teamId } = c.req.valid("param");
    const db = getDb(c.env);
    await requireTeamRole(db, teamId, auth.userId, "owner");
    // Its members lose the team with it, and with it maybe their only team in common with the
    // owner of a desktop they watch through a share link (revokeSockets).
    const [members] = await db.batch([
      db.delete(teamMembers).where(eq(teamMembers.teamId, teamId)).returning({ userId: teamMembers.userId }),
      db.delete(teams).where(eq(teams.id, teamId)),
      auditInsert(db, { ...auditActor(c, auth), action: "team.delete", targetType: "team", targetId: teamId }),
    ]);
    const formerMembers = members.map((m) => m.userId);
    await revokeSockets(c.env, db, { kind: "team", teamId, members: formerMembers }, "The team was deleted.");
    return c.body(null, 204);
  })
  .openapi(listMembers, async (c) => {
    const auth = requireUser(c);
    const { teamId } = c.req.valid("param");
    const db = getDb(c.env);
    await requireTeamRole(db, teamId, auth.userId, "viewer");
    const rows = await db
      .select({
        userId: users.id,
        username: users.username,
        displayName: users.displayName,
        role: teamMembers.role,
        joinedAt: teamMembers.createdAt,
      })
      .from(teamMembers)
      .innerJoin(users, eq(users.id, teamMembers.userId))
      .where(eq(teamMembers.teamId, teamId))
      .orderBy(sql`case ${teamMembers.role} when 'owner' then 0 when 'editor' then 1 else 2 end`, asc(users.username));
    return c.json({ members: rows.map((m) => ({ ...m, joinedAt: isoRequired(m.joinedAt) })) }, 200);
  })
  .openapi(addMember, async (c) => {
    const auth = requireUser(c);
    const { teamId } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = getDb(c.env);
    await requireTeamRole(db, teamId, auth.userId, "owner");
    const login = body.user.toLowerCase();
    const [user] = await db
      .select({ id: users.id, username: users.username })
      .from(users)
      .where(
        and(
          login.includes("@") ? sql`lower(${users.email}) = ${login}` : sql`lower(${users.username}) = ${login}`,
          eq(users.isActive, true),
        ),
      )
      .limit(1);
    if (!user) throw new ApiError("USER_NOT_FOUND", `No active user '${body.user}'.`);
    try {
      await db.batch([
        db.insert(teamMembers).values({ teamId, userId: user.id, role: body.role }),
        auditInsert(db, {
          ...auditActor(c, auth),
          action: "team.member.add",
          targetType: "member",
          targetId: user.id,
          detail: { teamId, username: user.username, role: body.role },
        }),
      ]);
    } catch (e: unknown) {
      if (pgErrorCode(e) === "23505") throw new ApiError("ALREADY_MEMBER", `${user.username} is already a member.`);
      throw e;
    }
    return c.json({ member: await memberView(db, teamId, user.id) }, 201);
  })
  .openapi(changeRole, async (c) => {
    const auth = requireUser(c);
    const { teamId, userId } = c.req.valid("param");
    const { role } = c.req.valid("json");
    const db = getDb(c.env);
    await requireTeamRole(db, teamId, auth.userId, "owner");
    const [, changed] = await db.batch([
      lockTeam(db, teamId),
      db
        .update(teamMembers)
        .set({ role })
        .where(
          and(
            eq(teamMembers.teamId, teamId),
            eq(teamMembers.userId, userId),
            sql`(${role} = 'owner' or ${teamMembers.role} <> 'owner' or ${otherOwnerExists(teamId, userId)})`,
          ),
        )
        .returning({ userId: teamMembers.userId }),
    ]);
    if (changed.length === 0) {
      await memberView(db, teamId, userId); // 404 if not a member at all
      throw new ApiError("LAST_OWNER", "A team needs at least one owner: make someone else an owner first.");
    }
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: "team.member.role_change",
      targetType: "member",
      targetId: userId,
      detail: { teamId, role },
    });
    // Open sockets switch to the new role at once (a demoted editor's next command is refused).
    await revokeSockets(c.env, db, { kind: "team-member", userId, teamId, role }, `Your role in the team is now ${role}.`);
    return c.json({ member: await memberView(db, teamId, userId) }, 200);
  })
  .openapi(removeMember, async (c) => {
    const auth = requireUser(c);
    const { teamId, userId } = c.req.valid("param");
    const db = getDb(c.env);
    const self = userId === auth.userId;
    await requireTeamRole(db, teamId, auth.userId, self ? "viewer" : "owner");
    const [, removed] = await db.batch([
      lockTeam(db, teamId),
      db
        .delete(teamMembers)
        .where(
          and(
            eq(teamMembers.teamId, teamId),
            eq(teamMembers.userId, userId),
            sql`(${teamMembers.role} <> 'owner' or ${otherOwnerExists(teamId, userId)})`,
          ),
        )
        .returning({ userId: teamMembers.userId }),
    ]);
    if (removed.length === 0) {
      await memberView(db, teamId, userId);
      throw new ApiError(
        "LAST_OWNER",
        self ? "You are the last owner: make someone else an owner, or delete the team." : "A team needs at least one owner.",
      );
    }
    await auditInsert(db, {
      ...auditActor(c, auth),
      action: self ? "team.member.leave" : "team.member.remove",
      targetType: "member",
      targetId: userId,
      detail: { teamId },
    });
    await revokeSockets(
      c.env,
      db,
      { kind: "team-member", userId, teamId },
      self ? "You left the team." : "You were removed from the team.",
    );
    return c.body(null, 204);
  });
