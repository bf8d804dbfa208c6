/**
 * /api/v1/teams/:teamId/agents: a team's AI agents with the Virtual Lab fields (title,
 * expertise, goal, role, model, default temperature). Viewers read; editors and owners write.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq } from "drizzle-orm";
import { agents } from "../../migrations/schema.ts";
import { getDb } from "../db/client.ts";
import { ApiError } from "../lib/errors.ts";
import { createRouter, errorResponses, IdParam, isoRequired, jsonBody, jsonResponse, TimestampSchema } from "../lib/router.ts";
import { requireUser } from "../middleware/auth.ts";
import { requireTeamRole } from "../services/team-access.ts";

const tags = ["agents"];

export const AgentSchema = z
  .object({
    id: z.string(),
    teamId: z.string(),
    title: z.string().openapi({ example: "Immunologist" }),
    expertise: z.string().openapi({ example: "antibody engineering and immune response" }),
    goal: z.string().openapi({ example: "design nanobodies that bind the new variant" }),
    role: z.string().openapi({ example: "propose and critique binder candidates" }),
    model: z.string().openapi({ example: "claude-sonnet-4-5" }),
    temperature: z.number().nullable(),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
  })
  .openapi("Agent");

const AgentInput = z.object({
  title: z.string().trim().min(1).max(200),
  expertise: z.string().trim().min(1).max(4000),
  goal: z.string().trim().min(1).max(4000),
  role: z.string().trim().min(1).max(4000),
  model: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, "a model id such as claude-sonnet-4-5"),
  temperature: z.number().min(0).max(1).nullable().optional(),
});

const TeamParams = z.object({ teamId: IdParam.openapi({ param: { name: "teamId", in: "path" } }) });
const AgentParams = TeamParams.extend({ agentId: IdParam.openapi({ param: { name: "agentId", in: "path" } }) });

type AgentRow = typeof agents.$inferSelect;
function agentView(a: AgentRow): z.infer<typeof AgentSchema> {
  return {
    id: a.id,
    teamId: a.teamId,
    title: a.title,
    expertise: a.expertise,
    goal: a.goal,
    role: a.role,
    model: a.model,
    temperature: a.temperature,
    createdAt: isoRequired(a.createdAt),
    updatedAt: isoRequired(a.updatedAt),
  };
}

const listAgents = createRoute({
  method: "get",
  path: "/{teamId}/agents",
  tags,
  summary: "A team's agents",
  request: { params: TeamParams },
  responses: { 200: jsonResponse(z.object({ agents: z.array(AgentSchema) }), "Agents"), ...errorResponses },
});
const createAgent = createRoute({
  method: "post",
  path: "/{teamId}/agents",
  tags,
  summary: "Create an agent (editor)",
  request: { params: TeamParams, ...jsonBody(AgentInput) },
  responses: { 201: jsonResponse(z.object({ agent: AgentSchema }), "Created"), ...errorResponses },
});
const getAgent = createRoute({
  method: "get",
  path: "/{teamId}/agents/{agentId}",
  tags,
  summary: "One agent",
  request: { params: AgentParams },
  responses: { 200: jsonResponse(z.object({ agent: AgentSchema }), "The agent"), ...errorResponses },
});
const updateAgent = createRoute({
  method: "patch",
  path: "/{teamId}/agents/{agentId}",
  tags,
  summary: "Edit an agent (editor)",
  request: { params: AgentParams, ...jsonBody(AgentInput.partial()) },
  responses: { 200: jsonResponse(z.object({ agent: AgentSchema }), "Updated"), ...errorResponses },
});
const deleteAgent = createRoute({
  method: "delete",
  path: "/{teamId}/agents/{agentId}",
  tags,
  summary: "Delete an agent (editor)",
  request: { params: AgentParams },
  responses: { 204: { description: "Deleted" }, ...errorResponses },
});

const notFound = () => new ApiError("AGENT_NOT_FOUND", "No such agent.");

export const agentRoutes = createRouter()
  .openapi(listAgents, async (c) => {
    const auth = requireUser(c);
    const { teamId } = c.req.valid("param");
    const db = getDb(c.env);
    await requireTeamRole(db, teamId, auth.userId, "viewer");
    const rows = await db.select().from(agents).where(eq(agents.teamId, teamId)).orderBy(asc(agents.createdAt), asc(agents.id));
    return c.json({ agents: rows.map(agentView) }, 200);
  })
  .openapi(createAgent, async (c) => {
    const auth = requireUser(c);
    const { teamId } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = getDb(c.env);
    await requireTeamRole(db, teamId, auth.userId, "editor");
    const [agent] = await db
      .insert(agents)
      .values({ ...body, temperature: body.temperature ?? null, teamId, createdBy: auth.userId })
      .returning();
    if (!agent) throw new Error("agent insert returned no row");
    return c.json({ agent: agentView(agent) }, 201);
  })
  .openapi(getAgent, async (c) => {
    const auth = requireUser(c);
    const { teamId, agentId } = c.req.valid("param");
    const db = getDb(c.env);
    await requireTeamRole(db, teamId, auth.userId, "viewer");
    const [agent] = await db
      .select()
      .from(agents)
      .where(and(eq(agents.teamId, teamId), eq(agents.id, agentId)));
    if (!agent) throw notFound();
    return c.json({ agent: agentView(agent) }, 200);
  })
  .openapi(updateAgent, async (c) => {
    const auth = requireUser(c);
    const { teamId, agentId } = c.req.valid("param");
    const body = c.req.valid("json");
    const db = getDb(c.env);
    await requireTeamRole(db, teamId, auth.userId, "editor");
    const [agent] = await db
      .update(agents)
      .set({ ...body, updatedAt: new Date() })
      .where(and(eq(agents.teamId, teamId), eq(agents.id, agentId)))
      .returning();
    if (!agent) throw notFound();
    return c.json({ agent: agentView(agent) }, 200);
  })
  .openapi(deleteAgent, async (c) => {
    const auth = requireUser(c);
    const { teamId, agentId } = c.req.valid("param");
    const db = getDb(c.env);
    await requireTeamRole(db, teamId, auth.userId, "editor");
    const deleted = await db
      .delete(agents)
      .where(and(eq(agents.teamId, teamId), eq(agents.id, agentId)))
      .returning({ id: agents.id });
    if (deleted.length === 0) throw notFound();
    return c.body(null, 204);
  });
