/**
 * What a meeting is asked to do: the zod schema of its configuration (validated at every edge that
 * accepts one: REST body, DO storage, branch and merge helpers), the agent shape and the two
 * built-in agents every team has. Runtime-neutral: imports zod only.
 */
import { z } from "zod";

/** Model ids look like `claude-sonnet-4-5`; the same rule as the agents API. */
const ModelIdSchema = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, "a model id such as claude-sonnet-4-5");

/**
 * An agent as it takes part in a meeting: the Virtual Lab fields plus the model it runs on.
 * `temperature` is the agent's own default (used in chats); inside a meeting the meeting's
 * temperature wins, because parallel copies and merges vary it per meeting, not per agent.
 */
export const AgentSchema = z.object({
  /** Team agent uuid or `builtin:*`; informational, speakers are identified by title. */
  id: z.string().min(1).max(100).optional(),
  title: z.string().trim().min(1).max(200),
  expertise: z.string().trim().min(1).max(4000),
  goal: z.string().trim().min(1).max(4000),
  role: z.string().trim().min(1).max(4000),
  model: ModelIdSchema,
  temperature: z.number().min(0).max(1).optional(),
});
export type Agent = z.infer<typeof AgentSchema>;

/** Default model of the built-in agents: current (Sonnet 4.5 is deprecated), and it still accepts `temperature`. */
export const DEFAULT_AGENT_MODEL = "claude-sonnet-4-6";

/** The lead every team has (wording after Virtual Lab's PI, made field-neutral). */
export const PRINCIPAL_INVESTIGATOR: Agent = Object.freeze({
  id: "builtin:principal-investigator",
  title: "Principal Investigator",
  expertise: "running a science research lab",
  goal: "perform research in your area of expertise that maximizes the scientific impact of the work",
  role:
    "lead a team of experts to solve an important scientific problem, make key decisions about the project direction " +
    "based on team member input, and manage the project timeline and resources",
  model: DEFAULT_AGENT_MODEL,
});

/** The critic every team has (wording after Virtual Lab's Scientific Critic). */
export const SCIENTIFIC_CRITIC: Agent = Object.freeze({
  id: "builtin:scientific-critic",
  title: "Scientific Critic",
  expertise: "providing critical feedback for scientific research",
  goal: "ensure that proposed research projects and implementations are rigorous, detailed, feasible, and scientifically sound",
  role:
    "provide critical feedback to identify and correct all errors and demand that scientific answers are maximally " +
    "complete and detailed but simple and not overly complex",
  model: DEFAULT_AGENT_MODEL,
});

export const BUILT_IN_AGENTS: readonly Agent[] = Object.freeze([PRINCIPAL_INVESTIGATOR, SCIENTIFIC_CRITIC]);

/** Bounds of the configuration, exported so forms and docs quote the same numbers. */
export const MEETING_LIMITS = Object.freeze({
  minRounds: 1,
  maxRounds: 10,
  minMembers: 1,
  maxMembers: 12,
  maxQuestions: 20,
  maxRules: 20,
  maxContexts: 20,
  maxContextChars: 20_000,
  maxSummaries: 20,
  maxSummaryChars: 20_000,
  maxAgendaChars: 20_000,
  maxItemChars: 2_000,
  minMergeSources: 2,
  maxMergeSources: 10,
  minMaxTokens: 256,
  maxMaxTokens: 32_000,
});

/** Virtual Lab's "consistent" temperature: the default, and what merges run at. */
export const CONSISTENT_TEMPERATURE = 0.2;
/** Virtual Lab's "creative" temperature: what parallel copies run at. */
export const CREATIVE_TEMPERATURE = 0.8;
export const DEFAULT_MAX_TOKENS_PER_TURN = 4096;

const L = MEETING_LIMITS;
const ItemSchema = z.string().trim().min(1).max(L.maxItemChars);

/** One summary a merge meeting combines; `label` is how provenance refers to it ("Summary 2"). */
export const MergeSourceSchema = z.object({
  label: z.string().trim().min(1).max(200),
  /** Id of the meeting the summary came from, so provenance can link back. */
  meetingId: z.string().min(1).max(100).optional(),
  text: z.string().min(1).max(L.maxSummaryChars),
});
export type MergeSource = z.infer<typeof MergeSourceSchema>;

const commonFields = {
  agenda: z.string().trim().min(1).max(L.maxAgendaChars),
  agendaQuestions: z.array(ItemSchema).max(L.maxQuestions).default([]),
  agendaRules: z.array(ItemSchema).max(L.maxRules).default([]),
  contexts: z.array(z.string().min(1).max(L.maxContextChars)).max(L.maxContexts).default([]),
  /** Rendered summaries of earlier meetings (see `renderSummaryForContext`). */
  summaries: z.array(z.string().min(1).max(L.maxSummaryChars)).max(L.maxSummaries).default([]),
  rounds: z.number().int().min(L.minRounds).max(L.maxRounds),
  temperature: z.number().min(0).max(1).default(CONSISTENT_TEMPERATURE),
  /** Whether the critic takes part (see turn-plan.ts for where it speaks). */
  critic: z.boolean().default(true),
  /** Who critiques when `critic` is on; the built-in Scientific Critic unless the team picks another. */
  criticAgent: AgentSchema.optional(),
  /** Budget of the whole meeting in USD; every model call is checked against it first. */
  maxCostUsd: z.number().positive().optional(),
  /** `max_tokens` of discussion turns; closing turns (summary, final answer) get twice this. */
  maxTokensPerTurn: z.number().int().min(L.minMaxTokens).max(L.maxMaxTokens).default(DEFAULT_MAX_TOKENS_PER_TURN),
};

export const TeamMeetingConfigSchema = z.object({
  type: z.literal("team"),
  ...commonFields,
  lead: AgentSchema,
  members: z.array(AgentSchema).min(L.minMembers).max(L.maxMembers),
});

export const IndividualMeetingConfigSchema = z.object({
  type: z.literal("individual"),
  ...commonFields,
  member: AgentSchema,
  /** Present on a merge meeting: the summaries of the parallel copies to combine. */
  merge: z.object({ sources: z.array(MergeSourceSchema).min(L.minMergeSources).max(L.maxMergeSources) }).optional(),
});

const titleKey = (title: string) => title.trim().toLowerCase();

export const MeetingConfigSchema = z
  .discriminatedUnion("type", [TeamMeetingConfigSchema, IndividualMeetingConfigSchema])
  .superRefine((c, ctx) => {
    // The transcript labels every turn with its speaker's title, so titles must tell speakers apart.
    const critic = c.critic ? (c.criticAgent ?? SCIENTIFIC_CRITIC) : undefined;
    const seen = new Map<string, string>();
    const claim = (title: string, path: (string | number)[], what: string) => {
      const key = titleKey(title);
      const owner = seen.get(key);
      if (owner !== undefined) {
        ctx.addIssue({
          code: "custom",
          path,
          message: `${what} has the same title as ${owner} ("${title}"); titles label speakers, so they must differ`,
        });
      } else {
        seen.set(key, what);
      }
    };
    if (c.type === "team") {
      claim(c.lead.title, ["lead", "title"], "the lead");
      for (const [i, m] of c.members.entries()) claim(m.title, ["members", i, "title"], `member ${i + 1}`);
      if (critic)
        claim(critic.title, c.criticAgent ? ["criticAgent", "title"] : ["members"], "the critic (it joins on its own when critic is on)");
    } else {
      claim(c.member.title, ["member", "title"], "the member");
      if (critic) claim(critic.title, c.criticAgent ? ["criticAgent", "title"] : ["member", "title"], "the critic");
    }
    if (c.type === "individual" && c.merge) {
      const labels = new Set<string>();
      for (const [i, s] of c.merge.sources.entries()) {
        if (labels.has(titleKey(s.label))) {
          ctx.addIssue({ code: "custom", path: ["merge", "sources", i, "label"], message: "merge source labels must differ" });
        }
        labels.add(titleKey(s.label));
      }
    }
  });

/** A validated configuration (defaults applied). */
export type MeetingConfig = z.infer<typeof MeetingConfigSchema>;
/** What callers may send (defaults not yet applied). */
export type MeetingConfigInput = z.input<typeof MeetingConfigSchema>;
export type TeamMeetingConfig = Extract<MeetingConfig, { type: "team" }>;
export type IndividualMeetingConfig = Extract<MeetingConfig, { type: "individual" }>;

/** Validates and fills defaults; throws a `ZodError` on bad input. */
export function parseMeetingConfig(input: unknown): MeetingConfig {
  return MeetingConfigSchema.parse(input);
}

/** The critic taking part in this meeting, or undefined when the critic is off. */
export function criticOf(config: MeetingConfig): Agent | undefined {
  return config.critic ? (config.criticAgent ?? SCIENTIFIC_CRITIC) : undefined;
}

/** The agent who leads: the team lead, or the single member of an individual meeting. */
export function leadOf(config: MeetingConfig): Agent {
  return config.type === "team" ? config.lead : config.member;
}
