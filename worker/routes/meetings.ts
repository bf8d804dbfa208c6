/**
 * Meetings: create (team or individual, optionally started at once), list, read, transcript,
 * summary, export, branch, parallel-and-merge, usage. A meeting belongs to a team: viewers read
 * and watch, editors and owners create and run them. Live state is in each MeetingRoom.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Context } from "hono";
import { agents, meetings, TEAM_ROLES, type TeamRole, usageLedger } from "../../migrations/schema.ts";
import { BranchError, branchMeeting } from "../../durable-objects/meeting/branch.ts";
import {
  type Agent,
  MEETING_LIMITS,
  MeetingConfigSchema,
  PRINCIPAL_INVESTIGATOR,
  SCIENTIFIC_CRITIC,
} from "../../durable-objects/meeting/meeting-config.ts";
import { createMeeting, createMeetings } from "../../durable-objects/meeting/meeting-factory.ts";
import { meetingAllowance, preflightMeetingRequest } from "../../durable-objects/meeting/meeting-limits.ts";
import { type AnyDb, loadTranscript } from "../../durable-objects/meeting/meeting-records.ts";
import { parallelCopies } from "../../durable-objects/meeting/parallel-merge.ts";
import { MEETING_STATUSES, MeetingMessageSchema } from "../../durable-objects/meeting/protocol.ts";
import { renderSummaryForContext } from "../../durable-objects/meeting/summary.ts";
import { planMeeting } from "../../durable-objects/meeting/turn-plan.ts";
import { toTranscript } from "../../durable-objects/meeting/meeting-room.ts";
import { getDb, withPool } from "../db/client.ts";
import { ApiError, ERROR_CODES, type ErrorCode } from "../lib/errors.ts";
import {
  type AppEnv,
  createRouter,
  errorResponses,
  IdParam,
  iso,
  isoRequired,
  jsonBody,
  jsonResponse,
  TimestampSchema,
} from "../lib/router.ts";
import { requireUser } from "../middleware/auth.ts";
import { requireTeamRole } from "../services/team-access.ts";

const tags = ["meetings"];
export const BUILTIN_LEAD_ID = "builtin:principal-investigator";
export const BUILTIN_CRITIC_ID = "builtin:scientific-critic";

const AgentRef = z
  .string()
  .min(1)
  .max(64)
  .openapi({ description: `an agent id of the team, or "${BUILTIN_LEAD_ID}" / "${BUILTIN_CRITIC_ID}"` });
const Items = (max: number, chars: number) => z.array(z.string().trim().min(1).max(chars)).max(max);

const MeetingInput = z.object({
  type: z.enum(["team", "individual"]),
  agenda: z.string().trim().min(1).max(MEETING_LIMITS.maxAgendaChars),
  agendaQuestions: Items(MEETING_LIMITS.maxQuestions, 2000).default([]),
  agendaRules: Items(MEETING_LIMITS.maxRules, 2000).default([]),
  contexts: z.array(z.string().min(1).max(MEETING_LIMITS.maxContextChars)).max(MEETING_LIMITS.maxContexts).default([]),
  earlierMeetingIds: z.array(z.uuid()).max(MEETING_LIMITS.maxSummaries).default([]),
  rounds: z.number().int().min(MEETING_LIMITS.minRounds).max(MEETING_LIMITS.maxRounds),
  temperature: z.number().min(0).max(1).optional(),
  leadAgentId: AgentRef.optional(),
  memberAgentIds: z.array(AgentRef).max(MEETING_LIMITS.maxMembers).optional(),
  memberAgentId: AgentRef.optional(),
  critic: z.boolean().default(true),
  criticAgentId: AgentRef.optional(),
  maxCostUsd: z.number().positive().max(10_000).optional(),
  start: z.boolean().default(false),
});
type MeetingInputT = z.infer<typeof MeetingInput>;

export const MeetingSchema = z
  .object({
    id: z.string(),
    teamId: z.string(),
    title: z.string(),
    type: z.enum(["team", "individual"]),
    status: z.enum(MEETING_STATUSES),
    provider: z.enum(["anthropic", "offline"]).nullable(),
    totalTurns: z.number().int(),
    completedTurns: z.number().int(),
    costUsd: z.number(),
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
    summaryText: z.string().nullable(),
    summary: z.record(z.string(), z.unknown()).nullable(),
    errorCode: z.string().nullable(),
    errorMessage: z.string().nullable(),
    parentMeetingId: z.string().nullable(),
    branchTurnIndex: z.number().int().nullable(),
    mergeGroupId: z.string().nullable(),
    mergeRole: z.enum(["copy", "merge"]).nullable(),
    config: z.record(z.string(), z.unknown()),
    createdBy: z.string().nullable(),
    createdAt: TimestampSchema,
    startedAt: TimestampSchema.nullable(),
    completedAt: TimestampSchema.nullable(),
  })
  .openapi("Meeting");

type MeetingRow = typeof meetings.$inferSelect;
function meetingView(m: MeetingRow): z.infer<typeof MeetingSchema> {
  return {
    id: m.id,
    teamId: m.teamId,
    title: m.title,
    type: m.type,
    status: m.status,
    provider: m.provider,
    totalTurns: m.totalTurns,
    completedTurns: m.completedTurns,
    costUsd: m.costUsd,
    inputTokens: m.inputTokens,
    outputTokens: m.outputTokens,
    summaryText: m.summaryText,
    summary: m.summary,
    errorCode: m.errorCode,
    errorMessage: m.errorMessage,
    parentMeetingId: m.parentMeetingId,
    branchTurnIndex: m.branchTurnIndex,
    mergeGroupId: m.mergeGroupId,
    mergeRole: m.mergeRole,
    config: m.config,
    createdBy: m.createdBy,
    createdAt: isoRequired(m.createdAt),
    startedAt: iso(m.startedAt),
    completedAt: iso(m.completedAt),
  };
}

const TeamParams = z.object({ teamId: IdParam.openapi({ param: { name: "teamId", in: "path" } }) });
const MeetingParams = z.object({ meetingId: IdParam.openapi({ param: { name: "meetingId", in: "path" } }) });

function titleFrom(agenda: string): string {
  const line = agenda.split("\n")[0]?.trim() ?? "Meeting";
  return line.length > 120 ? `${line.slice(0, 117)}…` : line;
}

function db(c: Context<AppEnv>): AnyDb {
  return getDb(c.env) as unknown as AnyDb;
}

/** Turns the request's agent references and earlier meetings into a validated MeetingConfig. */
async function buildConfig(c: Context<AppEnv>, teamId: string, body: MeetingInputT) {
  const refs = [body.leadAgentId, ...(body.memberAgentIds ?? []), body.memberAgentId, body.criticAgentId].filter((r): r is string => !!r);
  const ids = refs.filter((r) => !r.startsWith("builtin:"));
  for (const id of ids) if (!z.uuid().safeParse(id).success) throw new ApiError("AGENT_NOT_FOUND", `No agent '${id}' in this team.`);
  const rows = ids.length
    ? await getDb(c.env)
        .select()
        .from(agents)
        .where(and(eq(agents.teamId, teamId), inArray(agents.id, ids)))
    : [];
  const byId = new Map(rows.map((a) => [a.id, a]));
  const resolve = (ref: string): Agent => {
    if (ref === BUILTIN_LEAD_ID) return PRINCIPAL_INVESTIGATOR;
    if (ref === BUILTIN_CRITIC_ID) return SCIENTIFIC_CRITIC;
    const a = byId.get(ref);
    if (!a) throw new ApiError("AGENT_NOT_FOUND", `No agent '${ref}' in this team.`);
    return { title: a.title, expertise: a.expertise, goal: a.goal, role: a.role, model: a.model };
  };
  let summaries: string[] = [];
  if (body.earlierMeetingIds.length > 0) {
    const earlier = await getDb(c.env)
      .select()
      .from(meetings)
      .where(and(eq(meetings.teamId, teamId), inArray(meetings.id, body.earlierMeetingIds)));
    const byMeeting = new Map(earlier.map((m) => [m.id, m]));
    summaries = body.earlierMeetingIds.map((id) => {
      const m = byMeeting.get(id);
      if (!m) throw new ApiError("MEETING_NOT_FOUND", `No meeting '${id}' in this team.`);
      if (m.status !== "completed" || !m.summaryText)
        throw new ApiError("MEETING_NOT_FINISHED", `Meeting '${m.title}' has no summary yet.`);
      return m.summary ? renderSummaryForContext(m.summary as never, { title: m.title }) : m.summaryText;
    });
  }
  const common = {
    agenda: body.agenda,
    agendaQuestions: body.agendaQuestions,
    agendaRules: body.agendaRules,
    contexts: body.contexts,
    summaries,
    rounds: body.rounds,
    ...(body.temperature !== undefined && { temperature: body.temperature }),
    critic: body.critic,
    ...(body.criticAgentId && { criticAgent: resolve(body.criticAgentId) }),
    ...(body.maxCostUsd !== undefined && { maxCostUsd: body.maxCostUsd }),
  };
  const raw =
    body.type === "team"
      ? { type: "team", ...common, lead: resolve(body.leadAgentId ?? BUILTIN_LEAD_ID), members: (body.memberAgentIds ?? []).map(resolve) }
      : { type: "individual", ...common, member: resolve(body.memberAgentId ?? body.leadAgentId ?? BUILTIN_LEAD_ID) };
  const parsed = MeetingConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError(
      "VALIDATION_FAILED",
      `Invalid meeting: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "bad configuration"}`,
    );
  }
  return parsed.data;
}

/** Loads a meeting the caller may see (404 otherwise) and the caller's role in its team. */
async function meetingFor(c: Context<AppEnv>, meetingId: string, min: TeamRole): Promise<{ meeting: MeetingRow; role: TeamRole }> {
  const auth = requireUser(c);
  const [meeting] = await getDb(c.env).select().from(meetings).where(eq(meetings.id, meetingId));
  if (!meeting) throw new ApiError("MEETING_NOT_FOUND", "No such meeting.");
  try {
    const role = await requireTeamRole(getDb(c.env), meeting.teamId, auth.userId, min);
    return { meeting, role };
  } catch (e: unknown) {
    if (e instanceof ApiError && e.code === "TEAM_NOT_FOUND") throw new ApiError("MEETING_NOT_FOUND", "No such meeting.");
    throw e;
  }
}

function room(c: Context<AppEnv>, meetingId: string) {
  return c.env.MEETING_ROOM.get(c.env.MEETING_ROOM.idFromName(meetingId));
}

async function startMeeting(c: Context<AppEnv>, meetingId: string): Promise<void> {
  const auth = requireUser(c);
  const result = await room(c, meetingId).command({ userId: auth.userId, name: auth.name, role: "editor" }, { type: "start" });
  if (!result.ok) throw new ApiError(result.code in ERROR_CODES ? (result.code as ErrorCode) : "INVALID_STATE", result.message);
}

async function reload(c: Context<AppEnv>, id: string): Promise<MeetingRow> {
  const [m] = await getDb(c.env).select().from(meetings).where(eq(meetings.id, id));
  if (!m) throw new ApiError("MEETING_NOT_FOUND", "No such meeting.");
  return m;
}

const createRouteDef = createRoute({
  method: "post",
  path: "/teams/{teamId}/meetings",
  tags,
  summary: "Create a team or individual meeting (editor); `start: true` starts it at once",
  request: { params: TeamParams, ...jsonBody(MeetingInput) },
  responses: { 201: jsonResponse(z.object({ meeting: MeetingSchema }), "Created"), ...errorResponses },
});
const parallelRoute = createRoute({
  method: "post",
  path: "/teams/{teamId}/meetings/parallel",
  tags,
  summary: "Run K copies of a meeting at a higher temperature, then merge their summaries (editor)",
  request: {
    params: TeamParams,
    ...jsonBody(MeetingInput.extend({ copies: z.number().int().min(MEETING_LIMITS.minMergeSources).max(5) })),
  },
  responses: {
    201: jsonResponse(z.object({ groupId: z.string(), meetings: z.array(MeetingSchema) }), "Copies created"),
    ...errorResponses,
  },
});
const listRoute = createRoute({
  method: "get",
  path: "/teams/{teamId}/meetings",
  tags,
  summary: "A team's meetings, newest first",
  request: { params: TeamParams },
  responses: { 200: jsonResponse(z.object({ meetings: z.array(MeetingSchema) }), "Meetings"), ...errorResponses },
});
const getRoute = createRoute({
  method: "get",
  path: "/meetings/{meetingId}",
  tags,
  summary: "One meeting, with the caller's team role",
  request: { params: MeetingParams },
  responses: { 200: jsonResponse(z.object({ meeting: MeetingSchema, role: z.enum(TEAM_ROLES) }), "The meeting"), ...errorResponses },
});
const transcriptRoute = createRoute({
  method: "get",
  path: "/meetings/{meetingId}/transcript",
  tags,
  summary: "Every finished turn and interjection, in order",
  request: { params: MeetingParams },
  responses: { 200: jsonResponse(z.object({ messages: z.array(MeetingMessageSchema) }), "Transcript"), ...errorResponses },
});
const summaryRoute = createRoute({
  method: "get",
  path: "/meetings/{meetingId}/summary",
  tags,
  summary: "The final summary as text and structured fields",
  request: { params: MeetingParams },
  responses: {
    200: jsonResponse(z.object({ summaryText: z.string().nullable(), summary: z.record(z.string(), z.unknown()).nullable() }), "Summary"),
    ...errorResponses,
  },
});
const exportRoute = createRoute({
  method: "get",
  path: "/meetings/{meetingId}/export",
  tags,
  summary: "Download the meeting as Markdown or JSON",
  request: { params: MeetingParams, query: z.object({ format: z.enum(["md", "json"]).default("md") }) },
  responses: { 200: { description: "The export file" }, ...errorResponses },
});
const branchRoute = createRoute({
  method: "post",
  path: "/meetings/{meetingId}/branch",
  tags,
  summary: "Start a new meeting from a finished turn with changed parameters (editor)",
  request: {
    params: MeetingParams,
    ...jsonBody(
      z.object({
        fromTurnIndex: z.number().int().min(0),
        rounds: z.number().int().min(MEETING_LIMITS.minRounds).max(MEETING_LIMITS.maxRounds).optional(),
        temperature: z.number().min(0).max(1).optional(),
        agenda: z.string().trim().min(1).max(MEETING_LIMITS.maxAgendaChars).optional(),
        agendaQuestions: Items(MEETING_LIMITS.maxQuestions, 2000).optional(),
        agendaRules: Items(MEETING_LIMITS.maxRules, 2000).optional(),
        contexts: z.array(z.string().min(1).max(MEETING_LIMITS.maxContextChars)).max(MEETING_LIMITS.maxContexts).optional(),
        maxCostUsd: z.number().positive().max(10_000).optional(),
        start: z.boolean().default(false),
      }),
    ),
  },
  responses: { 201: jsonResponse(z.object({ meeting: MeetingSchema }), "The branch"), ...errorResponses },
});
const UsageSchema = z.object({
  costUsd: z.number(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  calls: z.number().int(),
});
const AllowanceSchema = z
  .object({
    windowHours: z.number().openapi({ description: "the limits count the last this many hours (24)" }),
    meetingsPerDay: z.number().int(),
    meetingsUsed: z.number().int().openapi({ description: "meetings the caller created in the window (merge meetings not counted)" }),
    meetingsLeft: z.number().int(),
    spendLimitApplies: z
      .boolean()
      .openapi({ description: "false when the caller's own API key pays (or the deployment has no key): no spend limit then" }),
    dailySpendUsd: z.number(),
    spentUsd: z.number().openapi({ description: "what the deployment's key paid for the caller's meetings in the window" }),
    spendLeftUsd: z.number(),
    defaultMeetingBudgetUsd: z.number(),
    maxMeetingBudgetUsd: z.number(),
  })
  .openapi("MeetingAllowance");
const meetingUsageRoute = createRoute({
  method: "get",
  path: "/meetings/{meetingId}/usage",
  tags,
  summary: "Tokens and cost of one meeting",
  request: { params: MeetingParams },
  responses: { 200: jsonResponse(UsageSchema, "Usage"), ...errorResponses },
});
const userUsageRoute = createRoute({
  method: "get",
  path: "/usage",
  tags,
  summary: "The caller's model usage, in total and per model, and what is left of today's meeting limits",
  responses: {
    200: jsonResponse(
      UsageSchema.extend({
        byModel: z.array(z.object({ model: z.string(), costUsd: z.number(), calls: z.number().int() })),
        allowance: AllowanceSchema,
      }),
      "Usage",
    ),
    ...errorResponses,
  },
});

const usageColumns = {
  costUsd: sql<number>`coalesce(sum(${usageLedger.costUsd}), 0)::float8`,
  inputTokens: sql<number>`coalesce(sum(${usageLedger.inputTokens} + ${usageLedger.cacheCreationTokens} + ${usageLedger.cacheReadTokens}), 0)::int`,
  outputTokens: sql<number>`coalesce(sum(${usageLedger.outputTokens}), 0)::int`,
  calls: sql<number>`count(*)::int`,
};

function markdownExport(m: MeetingRow, messages: z.infer<typeof MeetingMessageSchema>[]): string {
  const lines = [
    `# ${m.title}`,
    "",
    `- Type: ${m.type}`,
    `- Status: ${m.status}`,
    `- Model provider: ${m.provider ?? "not started"}`,
    `- Cost: $${m.costUsd.toFixed(4)}`,
    "",
  ];
  const config = m.config as { agenda?: string; agendaQuestions?: string[] };
  if (config.agenda) lines.push("## Agenda", "", config.agenda, "");
  if (config.agendaQuestions?.length) lines.push("## Questions", "", ...config.agendaQuestions.map((q, i) => `${i + 1}. ${q}`), "");
  lines.push("## Transcript", "");
  for (const msg of messages) {
    lines.push(
      `### ${msg.speaker}${msg.kind === "interjection" ? " (interjection)" : ` — ${msg.kind.replace(/_/g, " ")}`}`,
      "",
      msg.text,
      "",
    );
  }
  if (m.summaryText) lines.push("## Summary", "", m.summaryText, "");
  return lines.join("\n");
}

export const meetingRoutes = createRouter()
  .openapi(createRouteDef, async (c) => {
    const auth = requireUser(c);
    const { teamId } = c.req.valid("param");
    const body = c.req.valid("json");
    await requireTeamRole(getDb(c.env), teamId, auth.userId, "editor");
    const config = await buildConfig(c, teamId, body);
    await preflightMeetingRequest(c.env, db(c), auth.userId, body);
    const created = await withPool(c.env, (pdb) =>
      createMeeting(
        c.env,
        pdb as unknown as AnyDb,
        { teamId, createdBy: auth.userId, title: titleFrom(body.agenda), config },
        { countFor: auth.userId },
      ),
    );
    if (body.start) await startMeeting(c, created.id);
    return c.json({ meeting: meetingView(await reload(c, created.id)) }, 201);
  })
  .openapi(parallelRoute, async (c) => {
    const auth = requireUser(c);
    const { teamId } = c.req.valid("param");
    const body = c.req.valid("json");
    await requireTeamRole(getDb(c.env), teamId, auth.userId, "editor");
    const base = await buildConfig(c, teamId, body);
    await preflightMeetingRequest(c.env, db(c), auth.userId, body);
    const groupId = crypto.randomUUID();
    const copies = parallelCopies(base, { copies: body.copies });
    // All copies in one transaction: the run takes `copies` of the user's meetings per day, or none.
    const rows = await withPool(c.env, (pdb) =>
      createMeetings(
        c.env,
        pdb as unknown as AnyDb,
        copies.map((config, i) => ({
          teamId,
          createdBy: auth.userId,
          title: `${titleFrom(body.agenda)} (copy ${i + 1} of ${copies.length})`,
          config,
          mergeGroupId: groupId,
          mergeRole: "copy" as const,
          mergeBase: base,
        })),
        { countFor: auth.userId },
      ),
    );
    const created = rows.map((m) => m.id);
    if (body.start) for (const id of created) await startMeeting(c, id);
    const reloaded = await Promise.all(created.map((id) => reload(c, id)));
    return c.json({ groupId, meetings: reloaded.map(meetingView) }, 201);
  })
  .openapi(listRoute, async (c) => {
    const auth = requireUser(c);
    const { teamId } = c.req.valid("param");
    await requireTeamRole(getDb(c.env), teamId, auth.userId, "viewer");
    const rows = await getDb(c.env).select().from(meetings).where(eq(meetings.teamId, teamId)).orderBy(desc(meetings.createdAt)).limit(200);
    return c.json({ meetings: rows.map(meetingView) }, 200);
  })
  .openapi(getRoute, async (c) => {
    const { meeting, role } = await meetingFor(c, c.req.valid("param").meetingId, "viewer");
    return c.json({ meeting: meetingView(meeting), role }, 200);
  })
  .openapi(transcriptRoute, async (c) => {
    const { meeting } = await meetingFor(c, c.req.valid("param").meetingId, "viewer");
    return c.json({ messages: await loadTranscript(db(c), meeting.id) }, 200);
  })
  .openapi(summaryRoute, async (c) => {
    const { meeting } = await meetingFor(c, c.req.valid("param").meetingId, "viewer");
    return c.json({ summaryText: meeting.summaryText, summary: meeting.summary }, 200);
  })
  .openapi(exportRoute, async (c) => {
    const { meeting } = await meetingFor(c, c.req.valid("param").meetingId, "viewer");
    const { format } = c.req.valid("query");
    const messages = await loadTranscript(db(c), meeting.id);
    const slug =
      meeting.title
        .replace(/[^A-Za-z0-9]+/g, "-")
        .replace(/^-|-$/g, "")
        .slice(0, 60) || "meeting";
    if (format === "json") {
      c.header("Content-Disposition", `attachment; filename="${slug}.json"`);
      return c.json({ meeting: meetingView(meeting), messages }, 200);
    }
    c.header("Content-Disposition", `attachment; filename="${slug}.md"`);
    c.header("Content-Type", "text/markdown; charset=utf-8");
    return c.body(markdownExport(meeting, messages), 200);
  })
  .openapi(branchRoute, async (c) => {
    const auth = requireUser(c);
    const { meeting } = await meetingFor(c, c.req.valid("param").meetingId, "editor");
    const body = c.req.valid("json");
    const sourceConfig = MeetingConfigSchema.parse(meeting.config);
    const config = MeetingConfigSchema.parse({
      ...sourceConfig,
      ...(body.rounds !== undefined && { rounds: body.rounds }),
      ...(body.temperature !== undefined && { temperature: body.temperature }),
      ...(body.agenda !== undefined && { agenda: body.agenda }),
      ...(body.agendaQuestions !== undefined && { agendaQuestions: body.agendaQuestions }),
      ...(body.agendaRules !== undefined && { agendaRules: body.agendaRules }),
      ...(body.contexts !== undefined && { contexts: body.contexts }),
      ...(body.maxCostUsd !== undefined && { maxCostUsd: body.maxCostUsd }),
    });
    const stored = await loadTranscript(db(c), meeting.id);
    // A branch of a branch follows the source's own (branched) plan, which only its room knows.
    const sourcePlan = (await room(c, meeting.id).plan()) ?? planMeeting(sourceConfig);
    let branch: ReturnType<typeof branchMeeting>;
    try {
      branch = branchMeeting({ sourcePlan, sourceTranscript: toTranscript(stored), fromTurnIndex: body.fromTurnIndex, config });
    } catch (e: unknown) {
      if (e instanceof BranchError) throw new ApiError("BRANCH_POINT_INVALID", e.message);
      throw e;
    }
    const cutPosition = stored.findIndex((m) => m.turnIndex === body.fromTurnIndex);
    const inherited = stored.slice(0, cutPosition + 1);
    await preflightMeetingRequest(c.env, db(c), auth.userId, body);
    const created = await withPool(c.env, (pdb) =>
      createMeeting(
        c.env,
        pdb as unknown as AnyDb,
        {
          teamId: meeting.teamId,
          createdBy: auth.userId,
          title: `${meeting.title} (branch at turn ${body.fromTurnIndex + 1})`,
          config,
          plan: branch.plan,
          inherited,
          parentMeetingId: meeting.id,
          branchTurnIndex: body.fromTurnIndex,
        },
        { countFor: auth.userId },
      ),
    );
    if (body.start) await startMeeting(c, created.id);
    return c.json({ meeting: meetingView(await reload(c, created.id)) }, 201);
  })
  .openapi(meetingUsageRoute, async (c) => {
    const { meeting } = await meetingFor(c, c.req.valid("param").meetingId, "viewer");
    const [row] = await getDb(c.env).select(usageColumns).from(usageLedger).where(eq(usageLedger.meetingId, meeting.id));
    return c.json(row ?? { costUsd: 0, inputTokens: 0, outputTokens: 0, calls: 0 }, 200);
  })
  .openapi(userUsageRoute, async (c) => {
    const auth = requireUser(c);
    const d = getDb(c.env);
    const [allowance, [[total], byModel]] = await Promise.all([
      meetingAllowance(c.env, db(c), auth.userId),
      d.batch([
        d.select(usageColumns).from(usageLedger).where(eq(usageLedger.userId, auth.userId)),
        d
          .select({ model: usageLedger.model, costUsd: usageColumns.costUsd, calls: usageColumns.calls })
          .from(usageLedger)
          .where(eq(usageLedger.userId, auth.userId))
          .groupBy(usageLedger.model),
      ]),
    ]);
    return c.json({ ...(total ?? { costUsd: 0, inputTokens: 0, outputTokens: 0, calls: 0 }), byModel, allowance }, 200);
  });
