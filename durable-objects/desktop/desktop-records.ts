/**
 * Desktop rows in Postgres (the system of record) that both the Worker and the Durable Objects
 * touch: the deployment's desktop settings, quota counts, placement of a new session (under a
 * transaction-scoped advisory lock, so concurrent starts cannot both take the last slot), the
 * capacity check of a wake, and a session's state.
 */
import { and, count, eq, inArray, sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "../../migrations/schema.ts";
import type { Platform } from "../bridge/protocol.ts";
import { type BridgeCandidate, chooseBridge } from "./placement.ts";
import { ACTIVE_STATES, type DesktopState, isTerminal, LIVE_STATES } from "./protocol.ts";

const { bridges, desktopSessions, desktopSettings } = schema;

// Both the HTTP (`neon()`) and the Pool drizzle databases fit here.
export type AnyDb = PgDatabase<PgQueryResultHKT, typeof schema>;
export type DesktopSessionRow = typeof desktopSessions.$inferSelect;

export interface DesktopSettings {
  maxConcurrentSessions: number;
  perUserSessionLimit: number;
  /** 0 = never reap idle sessions */
  idleTimeoutMinutes: number;
}

/** The defaults of the schema, used until an administrator saves settings. */
export const DEFAULT_DESKTOP_SETTINGS: DesktopSettings = { maxConcurrentSessions: 50, perUserSessionLimit: 2, idleTimeoutMinutes: 30 };

/** Key of the advisory lock that serialises placement and wake-ups across the deployment. */
const PLACEMENT_LOCK = 727_001;

export async function readDesktopSettings(db: AnyDb): Promise<DesktopSettings> {
  const [row] = await db.select().from(desktopSettings).where(eq(desktopSettings.id, 1));
  if (!row) return { ...DEFAULT_DESKTOP_SETTINGS };
  return {
    maxConcurrentSessions: row.maxConcurrentSessions,
    perUserSessionLimit: row.perUserSessionLimit,
    idleTimeoutMinutes: row.idleTimeoutMinutes,
  };
}

export async function writeDesktopSettings(db: AnyDb, settings: DesktopSettings): Promise<DesktopSettings> {
  const values = { ...settings, updatedAt: new Date() };
  await db
    .insert(desktopSettings)
    .values({ id: 1, ...values })
    .onConflictDoUpdate({ target: desktopSettings.id, set: values });
  return settings;
}

export type CapacityRefusal = { ok: false; code: "QUOTA_EXCEEDED" | "NO_CAPACITY"; message: string; details: Record<string, unknown> };

async function lockPlacement(tx: AnyDb): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(${PLACEMENT_LOCK})`);
}

async function activeCount(tx: AnyDb): Promise<number> {
  const [row] = await tx
    .select({ n: count() })
    .from(desktopSessions)
    .where(inArray(desktopSessions.state, [...ACTIVE_STATES]));
  return Number(row?.n ?? 0);
}

/** Bridges with their active session counts. */
async function bridgeLoads(tx: AnyDb, where: ReturnType<typeof and>): Promise<(BridgeCandidate & { status: string; draining: boolean })[]> {
  // "bridges"."id" by hand: drizzle renders a lone table's columns unqualified, and the subquery
  // would bind a bare "id" to its own table.
  const active = sql<number>`(select count(*)::int from ${desktopSessions} s where s.bridge_id = "bridges"."id" and s.state in (${sql.join(
    ACTIVE_STATES.map((s) => sql`${s}`),
    sql`, `,
  )}))`;
  const rows = await tx
    .select({
      id: bridges.id,
      platform: bridges.platform,
      region: bridges.region,
      capacity: bridges.capacity,
      status: bridges.status,
      draining: bridges.draining,
      active,
    })
    .from(bridges)
    .where(where);
  return rows.map((r) => ({ ...r, active: Number(r.active) }));
}

export interface PlaceSessionInput {
  userId: string;
  templateId: string;
  templateName: string;
  platform?: Platform | undefined;
  region?: string | undefined;
}

/** The refusal when the deployment already runs its `maxConcurrentSessions`. */
async function deploymentFull(tx: AnyDb, settings: DesktopSettings): Promise<CapacityRefusal | undefined> {
  const active = await activeCount(tx);
  if (active < settings.maxConcurrentSessions) return undefined;
  return {
    ok: false,
    code: "QUOTA_EXCEEDED",
    message: `The deployment runs its maximum of ${settings.maxConcurrentSessions} desktops. Try again later.`,
    details: { scope: "deployment", limit: settings.maxConcurrentSessions, current: active },
  };
}

/**
 * Checks the quotas, picks a bridge and records the session as `requested`, atomically. Run it
 * inside a transaction (`db.transaction`).
 */
export async function placeSession(
  tx: AnyDb,
  input: PlaceSessionInput,
): Promise<{ ok: true; session: DesktopSessionRow } | CapacityRefusal> {
  await lockPlacement(tx);
  const settings = await readDesktopSettings(tx);
  const [mine] = await tx
    .select({ n: count() })
    .from(desktopSessions)
    .where(and(eq(desktopSessions.userId, input.userId), inArray(desktopSessions.state, [...LIVE_STATES])));
  const own = Number(mine?.n ?? 0);
  if (own >= settings.perUserSessionLimit) {
    return {
      ok: false,
      code: "QUOTA_EXCEEDED",
      message: `You already have ${own} desktop session(s); the limit is ${settings.perUserSessionLimit}. Stop one first.`,
      details: { scope: "user", limit: settings.perUserSessionLimit, current: own },
    };
  }
  const full = await deploymentFull(tx, settings);
  if (full) return full;
  const candidates = await bridgeLoads(tx, and(eq(bridges.status, "online"), eq(bridges.draining, false)));
  const bridge = chooseBridge(candidates, { platform: input.platform, region: input.region });
  if (!bridge) {
    return {
      ok: false,
      code: "NO_CAPACITY",
      message: `No online bridge${input.platform ? ` for ${input.platform}` : ""} has a free slot. Try again later.`,
      details: { platform: input.platform ?? null, region: input.region ?? null },
    };
  }
  const [session] = await tx
    .insert(desktopSessions)
    .values({
      userId: input.userId,
      templateId: input.templateId,
      templateName: input.templateName,
      bridgeId: bridge.id,
      platform: bridge.platform,
      state: "requested",
    })
    .returning();
  if (!session) throw new Error("desktop session insert returned no row");
  return { ok: true, session };
}

/**
 * Checks that a hibernated session may wake (its bridge is connected and has a slot, the
 * deployment is under its max) and records it as `waking`, atomically. Run inside a transaction.
 */
export async function reserveWake(tx: AnyDb, sessionId: string, bridgeId: string | null): Promise<{ ok: true } | CapacityRefusal> {
  await lockPlacement(tx);
  const [bridge] = bridgeId ? await bridgeLoads(tx, eq(bridges.id, bridgeId)) : [];
  // An administrator's drain keeps new desktops away but lets existing ones wake; a bridge that
  // announced its own shutdown takes nothing.
  if (bridge?.status !== "online") {
    return {
      ok: false,
      code: "NO_CAPACITY",
      message: "The desktop's bridge is offline; it can wake once the bridge is back.",
      details: { bridgeId },
    };
  }
  if (bridge.active >= bridge.capacity) {
    return { ok: false, code: "NO_CAPACITY", message: "The desktop's bridge has no free slot. Try again later.", details: { bridgeId } };
  }
  const settings = await readDesktopSettings(tx);
  const full = await deploymentFull(tx, settings);
  if (full) return full;
  await tx
    .update(desktopSessions)
    .set({ state: "waking", stateDetail: null, updatedAt: new Date() })
    .where(eq(desktopSessions.id, sessionId));
  return { ok: true };
}

export async function writeSessionState(db: AnyDb, sessionId: string, state: DesktopState, detail: string | null): Promise<void> {
  const terminal = isTerminal(state);
  await db
    .update(desktopSessions)
    .set({ state, stateDetail: detail, updatedAt: new Date(), ...(terminal && { stoppedAt: new Date() }) })
    .where(eq(desktopSessions.id, sessionId));
}

export async function writeLastInput(db: AnyDb, sessionId: string, at: Date): Promise<void> {
  await db.update(desktopSessions).set({ lastInputAt: at }).where(eq(desktopSessions.id, sessionId));
}
