/**
 * Deployment-wide meeting limits, so no user can spend the deployment's Anthropic key without
 * bound. "Per day" is the last 24 hours (rolling: no burst at midnight, no time zone to explain).
 *
 * - Meetings per day: every meeting a user creates counts (team, individual, branch, each parallel
 *   copy; not the merge meeting a parallel run creates on its own), whichever key pays, because
 *   every meeting also costs the deployment storage and a Durable Object. Checked and counted in
 *   the transaction that inserts the rows, under a per-user advisory lock, so concurrent creates
 *   cannot overshoot.
 * - Spend per day: only what the deployment's key paid (usage_ledger.key_source = 'deployment')
 *   for meetings the user started. A user's own key and the offline model are not capped.
 * - Meeting budget: a meeting on the deployment's key without a budget gets the default one, and
 *   no budget above the maximum.
 */
import { and, count, eq, gt, isNull, ne, or, sql } from "drizzle-orm";
import * as schema from "../../migrations/schema.ts";
import { ApiError } from "../../worker/lib/errors.ts";
import type { MeetingConfig } from "./meeting-config.ts";
import type { AnyDb } from "./meeting-records.ts";
import { type BudgetCheckInput, checkBudget } from "./pricing.ts";

const { meetingSettings, meetings, usageLedger, userApiKeys } = schema;

/** The window every daily limit counts over. */
export const LIMIT_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface MeetingLimits {
  meetingsPerUserPerDay: number;
  dailySpendUsdPerUser: number;
  defaultMeetingBudgetUsd: number;
  maxMeetingBudgetUsd: number;
}

/** The schema's defaults, in force until an administrator saves settings. */
export const DEFAULT_MEETING_LIMITS: Readonly<MeetingLimits> = Object.freeze({
  meetingsPerUserPerDay: 20,
  dailySpendUsdPerUser: 5,
  defaultMeetingBudgetUsd: 1,
  maxMeetingBudgetUsd: 10,
});

/** The deployment's limits (the defaults when no admin has saved any). */
export async function readMeetingLimits(db: AnyDb): Promise<MeetingLimits> {
  const [row] = await db.select().from(meetingSettings).where(eq(meetingSettings.id, 1));
  if (!row) return { ...DEFAULT_MEETING_LIMITS };
  return {
    meetingsPerUserPerDay: row.meetingsPerUserPerDay,
    dailySpendUsdPerUser: row.dailySpendUsdPerUser,
    defaultMeetingBudgetUsd: row.defaultMeetingBudgetUsd,
    maxMeetingBudgetUsd: row.maxMeetingBudgetUsd,
  };
}

export async function writeMeetingLimits(db: AnyDb, limits: MeetingLimits): Promise<MeetingLimits> {
  const values = { ...limits, updatedAt: new Date() };
  await db
    .insert(meetingSettings)
    .values({ id: 1, ...values })
    .onConflictDoUpdate({ target: meetingSettings.id, set: values });
  return limits;
}

const since = () => new Date(Date.now() - LIMIT_WINDOW_MS);

/** Meetings that count towards a user's daily number: theirs, created in the window, not merges. */
const countedMeetings = (userId: string) =>
  and(eq(meetings.createdBy, userId), gt(meetings.createdAt, since()), or(isNull(meetings.mergeRole), ne(meetings.mergeRole, "merge")));

/** Meetings the user created in the last 24 hours (merge meetings excluded). */
export async function meetingsCreatedToday(db: AnyDb, userId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(meetings).where(countedMeetings(userId));
  return Number(row?.n ?? 0);
}

/** USD the deployment's key paid for the user's meetings in the last 24 hours. */
export async function deploymentSpendToday(db: AnyDb, userId: string): Promise<number> {
  const [row] = await db
    .select({ usd: sql<number>`coalesce(sum(${usageLedger.costUsd}), 0)::float8` })
    .from(usageLedger)
    .where(and(eq(usageLedger.userId, userId), eq(usageLedger.keySource, "deployment"), gt(usageLedger.createdAt, since())));
  return Number(row?.usd ?? 0);
}

/**
 * Takes `n` of the user's meetings-per-day inside the caller's transaction (the one inserting the
 * meetings): a per-user advisory lock serialises concurrent creates, so the count the check sees
 * includes every meeting committed before, and the rows inserted after it are counted by the next.
 */
export async function reserveMeetingSlots(tx: AnyDb, userId: string, n: number): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`atrium.meetings-per-day:${userId}`}, 0))`);
  const limits = await readMeetingLimits(tx);
  const used = await meetingsCreatedToday(tx, userId);
  if (used + n > limits.meetingsPerUserPerDay) {
    const limit = limits.meetingsPerUserPerDay;
    throw new ApiError(
      "DAILY_LIMIT_REACHED",
      n === 1
        ? `You have created ${used} meetings in the last 24 hours, the limit of this deployment is ${limit}. Try again later.`
        : `These ${n} meetings would take you past ${limit} meetings in 24 hours (you have created ${used}). Try again later.`,
      { details: { scope: "meetings", limit, used, requested: n } },
    );
  }
}

/** Which key would pay for a meeting the user starts, as MeetingRoom resolves it. */
export async function payingKeySource(
  env: Pick<Env, "ANTHROPIC_API_KEY" | "ENCRYPTION_KEYS">,
  db: AnyDb,
  userId: string,
): Promise<"user" | "deployment" | "offline"> {
  if (env.ENCRYPTION_KEYS) {
    const [own] = await db
      .select({ userId: userApiKeys.userId })
      .from(userApiKeys)
      .where(and(eq(userApiKeys.userId, userId), eq(userApiKeys.provider, "anthropic")));
    if (own) return "user";
  }
  return env.ANTHROPIC_API_KEY ? "deployment" : "offline";
}

const usd = (n: number) => `$${n.toFixed(2)}`;

function spendRefusal(limits: MeetingLimits, spentUsd: number): ApiError {
  return new ApiError(
    "DAILY_LIMIT_REACHED",
    `Your meetings have spent ${usd(spentUsd)} of the deployment's ${usd(limits.dailySpendUsdPerUser)} per 24 hours on its Anthropic key. ` +
      "Try again later, or add your own API key in Settings.",
    { details: { scope: "spend", limitUsd: limits.dailySpendUsdPerUser, spentUsd } },
  );
}

/** The budget a meeting runs with on the deployment's key: its own, else the default, at most the maximum. */
export function budgetOnDeploymentKey(maxCostUsd: number | undefined, limits: MeetingLimits): number {
  return Math.min(maxCostUsd ?? limits.defaultMeetingBudgetUsd, limits.maxMeetingBudgetUsd);
}

/**
 * Before a meeting starts on the deployment's key: refuses (DAILY_LIMIT_REACHED) when the user's
 * daily spend is used up, else returns the configuration with the deployment's budget applied.
 */
export async function admitOnDeploymentKey(db: AnyDb, userId: string, config: MeetingConfig): Promise<MeetingConfig> {
  const [limits, spentUsd] = await Promise.all([readMeetingLimits(db), deploymentSpendToday(db, userId)]);
  if (spentUsd >= limits.dailySpendUsdPerUser) throw spendRefusal(limits, spentUsd);
  const maxCostUsd = budgetOnDeploymentKey(config.maxCostUsd, limits);
  return maxCostUsd === config.maxCostUsd ? config : { ...config, maxCostUsd };
}

/**
 * Before each model call on the deployment's key (the per-meeting budget's check, applied to the
 * user's daily spend): the refusal message when the call's worst case could take the user past
 * their daily spend, else undefined.
 */
export async function dailySpendRefusal(
  db: AnyDb,
  userId: string,
  call: Omit<BudgetCheckInput, "spentUsd" | "maxCostUsd">,
): Promise<string | undefined> {
  const [limits, spentUsd] = await Promise.all([readMeetingLimits(db), deploymentSpendToday(db, userId)]);
  const check = checkBudget({ ...call, spentUsd, maxCostUsd: limits.dailySpendUsdPerUser });
  if (check.allowed) return undefined;
  return (
    `The next turn could cost up to $${check.worstCaseUsd.toFixed(4)}, more than the $${Math.max(0, check.remainingUsd).toFixed(4)} ` +
    `left of ${usd(limits.dailySpendUsdPerUser)} per 24 hours its starter may spend on the deployment's Anthropic key. ` +
    "The transcript so far is kept."
  );
}

/**
 * Checks a request that creates (and maybe starts) meetings before anything is written: a budget
 * above the maximum and a start past the daily spend are refused when the deployment's key would
 * pay. (The meeting count is taken atomically when the rows are inserted, see reserveMeetingSlots.)
 */
export async function preflightMeetingRequest(
  env: Pick<Env, "ANTHROPIC_API_KEY" | "ENCRYPTION_KEYS">,
  db: AnyDb,
  userId: string,
  request: { start: boolean; maxCostUsd?: number | undefined },
): Promise<void> {
  if (!request.start && request.maxCostUsd === undefined) return;
  if ((await payingKeySource(env, db, userId)) !== "deployment") return;
  const limits = await readMeetingLimits(db);
  if (request.maxCostUsd !== undefined && request.maxCostUsd > limits.maxMeetingBudgetUsd) {
    throw new ApiError(
      "VALIDATION_FAILED",
      `Invalid meeting: maxCostUsd: at most ${usd(limits.maxMeetingBudgetUsd)} on the deployment's Anthropic key (add your own key in Settings for more).`,
    );
  }
  if (request.start) {
    const spentUsd = await deploymentSpendToday(db, userId);
    if (spentUsd >= limits.dailySpendUsdPerUser) throw spendRefusal(limits, spentUsd);
  }
}

/** What the user has left today, for Settings → usage. */
export interface MeetingAllowance {
  windowHours: number;
  meetingsPerDay: number;
  meetingsUsed: number;
  meetingsLeft: number;
  /** whether the spend limit applies: false with the user's own key, or without a deployment key */
  spendLimitApplies: boolean;
  dailySpendUsd: number;
  spentUsd: number;
  spendLeftUsd: number;
  defaultMeetingBudgetUsd: number;
  maxMeetingBudgetUsd: number;
}

export async function meetingAllowance(
  env: Pick<Env, "ANTHROPIC_API_KEY" | "ENCRYPTION_KEYS">,
  db: AnyDb,
  userId: string,
): Promise<MeetingAllowance> {
  const [limits, meetingsUsed, spentUsd, source] = await Promise.all([
    readMeetingLimits(db),
    meetingsCreatedToday(db, userId),
    deploymentSpendToday(db, userId),
    payingKeySource(env, db, userId),
  ]);
  return {
    windowHours: LIMIT_WINDOW_MS / 3_600_000,
    meetingsPerDay: limits.meetingsPerUserPerDay,
    meetingsUsed,
    meetingsLeft: Math.max(0, limits.meetingsPerUserPerDay - meetingsUsed),
    spendLimitApplies: source === "deployment",
    dailySpendUsd: limits.dailySpendUsdPerUser,
    spentUsd,
    spendLeftUsd: Math.max(0, limits.dailySpendUsdPerUser - spentUsd),
    defaultMeetingBudgetUsd: limits.defaultMeetingBudgetUsd,
    maxMeetingBudgetUsd: limits.maxMeetingBudgetUsd,
  };
}
