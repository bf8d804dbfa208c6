/**
 * How the Worker reaches Postgres (DESIGN §4): `neon()` over HTTP for one-shot statements and
 * non-interactive batches on request paths; a WebSocket `Pool` only where an interactive
 * transaction is needed. Locally the NEON_* variables point the same driver at stand-ins.
 */
import { neon, neonConfig, Pool } from "@neondatabase/serverless";
import { drizzle as drizzleHttp, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import { drizzle as drizzleWs, type NeonDatabase } from "drizzle-orm/neon-serverless";
import * as schema from "../../migrations/schema.ts";
import { ApiError } from "../lib/errors.ts";

export type Db = NeonHttpDatabase<typeof schema>;
export type TxDb = NeonDatabase<typeof schema>;

interface DbEnv {
  DATABASE_URL: string;
  NEON_WS_PROXY?: string;
  NEON_HTTP_ENDPOINT?: string;
}

let configuredFor: string | undefined;
function configureDriver(env: DbEnv): void {
  const key = `${env.NEON_HTTP_ENDPOINT ?? ""}|${env.NEON_WS_PROXY ?? ""}`;
  if (configuredFor === key) return;
  configuredFor = key;
  if (env.NEON_HTTP_ENDPOINT) {
    const endpoint = env.NEON_HTTP_ENDPOINT;
    neonConfig.fetchEndpoint = () => endpoint;
  }
  if (env.NEON_WS_PROXY) {
    const proxy = env.NEON_WS_PROXY;
    neonConfig.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
  }
}

/**
 * A pool whose idle-connection errors are handled: workerd closes a request's sockets when the
 * request ends, which the driver reports as an `error` event after we are done with it.
 */
function newPool(env: DbEnv, max: number): Pool {
  const pool = new Pool({ connectionString: requireUrl(env), max });
  pool.on("error", (e: Error) => {
    if (!(pool as unknown as { ending?: boolean }).ending) console.warn("postgres pool connection closed:", e.message);
  });
  return pool;
}

function requireUrl(env: DbEnv): string {
  if (!env.DATABASE_URL) throw new ApiError("SERVICE_UNAVAILABLE", "The database is not configured.");
  return env.DATABASE_URL;
}

const httpDbs = new Map<string, Db>();

/** The request-path database: drizzle over `neon()` (HTTP), cached for the isolate. */
export function getDb(env: DbEnv): Db {
  configureDriver(env);
  const url = requireUrl(env);
  let db = httpDbs.get(url);
  if (!db) {
    db = drizzleHttp({ client: neon(url), schema });
    httpDbs.set(url, db);
  }
  return db;
}

/**
 * Runs `fn` in an interactive transaction on a short-lived WebSocket pool. Only for work that
 * must read and then write atomically; everything else goes through `getDb`.
 */
export async function withTransaction<T>(env: DbEnv, fn: (tx: TxDb) => Promise<T>): Promise<T> {
  return withPool(env, (db) => db.transaction(fn));
}

/** Runs `fn` with a short-lived WebSocket pool database (for code that opens its own transactions). */
export async function withPool<T>(env: DbEnv, fn: (db: TxDb) => Promise<T>): Promise<T> {
  configureDriver(env);
  const pool = newPool(env, 1);
  try {
    return await fn(drizzleWs({ client: pool, schema }));
  } finally {
    await pool.end().catch(() => {});
  }
}

/** A long-lived pool for a Durable Object (one per object lifetime). */
export function createPool(env: DbEnv): { db: TxDb; pool: Pool } {
  configureDriver(env);
  const pool = newPool(env, 2);
  return { db: drizzleWs({ client: pool, schema }), pool };
}

/** Postgres SQLSTATE of a driver error, if any (e.g. "23505" unique violation). */
export function pgErrorCode(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 4; depth++) {
    if (typeof cur === "object" && cur !== null && "code" in cur && typeof cur.code === "string" && /^[0-9A-Z]{5}$/.test(cur.code)) {
      return cur.code;
    }
    cur = typeof cur === "object" && cur !== null && "cause" in cur ? cur.cause : undefined;
  }
  return undefined;
}

/** Name of the violated constraint, when the driver reports one. */
export function pgConstraint(e: unknown): string | undefined {
  for (let cur: unknown = e, depth = 0; cur && depth < 4; depth++) {
    if (typeof cur === "object" && cur !== null && "constraint" in cur && typeof cur.constraint === "string") {
      return cur.constraint;
    }
    cur = typeof cur === "object" && cur !== null && "cause" in cur ? cur.cause : undefined;
  }
  return undefined;
}
