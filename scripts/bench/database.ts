/**
 * A database for a benchmark run: a fresh temporary database on a Postgres server (DATABASE_URL,
 * else the machine's Postgres at 127.0.0.1:5432 when it answers), dropped afterwards; or embedded
 * PGlite when there is no server. Migrated, with the same local stand-ins `npm start` uses in
 * front of it (scripts/local), and seeded for the API read path.
 */
import pg from "pg";
import { createDatabase, dropDatabase, startLocalDatabase } from "../local/local-db.ts";
import { migrateDatabase } from "../local/migrate-db.ts";
import type { Cleanup } from "./processes.ts";

export const MACHINE_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export type DbChoice = "auto" | "postgres" | "pglite";

export interface BenchDatabase {
  /** for Node clients (pg) */
  databaseUrl: string;
  /** for the Worker: DATABASE_URL, NEON_WS_PROXY, NEON_HTTP_ENDPOINT */
  workerVars: Record<string, string>;
  /** what it is, for the report */
  description: string;
  kind: "postgres" | "pglite";
}

/** The server's version, or undefined when nothing answers (tried twice: a busy machine is slow to fork a backend). */
async function reachable(url: string, attempts = 2): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    const r = await client.query<{ v: string }>("select current_setting('server_version') as v");
    return r.rows[0]?.v;
  } catch {
    await client.end().catch(() => {});
    return attempts > 1 ? reachable(url, attempts - 1) : undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

/** Brings up the database and the stand-ins; everything is undone by `cleanup`. */
export async function openBenchDatabase(choice: DbChoice, cleanup: Cleanup, log: (msg: string) => void): Promise<BenchDatabase> {
  const serverUrl = process.env.DATABASE_URL ?? MACHINE_POSTGRES_URL;
  const version = choice === "pglite" ? undefined : await reachable(serverUrl);
  if (choice === "postgres" && !version) throw new Error(`no Postgres answers at ${redact(serverUrl)}`);

  let databaseUrl: string | undefined;
  let description: string;
  if (version) {
    const name = `atrium_bench_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    databaseUrl = await createDatabase(serverUrl, name);
    cleanup.add(`drop database ${name}`, () => dropDatabase(serverUrl, name));
    description = `Postgres ${version.split(" ")[0]} at ${redact(serverUrl).replace(/\/[^/]*$/, "")}, temporary database ${name}`;
  } else {
    description =
      choice === "pglite"
        ? "embedded PGlite, in memory (--db=pglite)"
        : `embedded PGlite, in memory (no Postgres answered at ${redact(serverUrl)})`;
  }
  const local = await startLocalDatabase({ ...(databaseUrl && { databaseUrl }), log });
  cleanup.add("local database stand-ins", () => local.close());
  await migrateDatabase(local.databaseUrl);
  return { databaseUrl: local.databaseUrl, workerVars: { ...local.workerVars }, description, kind: local.embedded ? "pglite" : "postgres" };
}

export interface ReadPathSeed {
  userId: string;
  /** a live login session (refresh-token family) of the user, for the token's `fam` */
  familyId: string;
  username: string;
  teamCount: number;
  totals: { users: number; teams: number; memberships: number };
}

/**
 * 500 users and 1,000 teams of 5 members each, plus the benchmark user, who belongs to
 * `teamCount` of them (owner of a few, editor or viewer of the rest).
 */
export async function seedReadPath(databaseUrl: string, teamCount = 20): Promise<ReadPathSeed> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`
      insert into users (username, email, display_name, password_hash)
      select 'bench_user_' || i, 'bench_user_' || i || '@bench.invalid', 'Bench user ' || i, '!disabled'
      from generate_series(1, 500) as i`);
    await client.query(`
      insert into teams (name, description)
      select 'Team ' || lpad(i::text, 4, '0'), 'Benchmark team number ' || i || ', with a description of ordinary length.'
      from generate_series(1, 1000) as i`);
    await client.query(`
      with u as (select id, row_number() over (order by username) as n from users where username like 'bench_user_%'),
           t as (select id, row_number() over (order by name) as n from teams where name like 'Team %'),
           pairs as (select t.id as team_id, ((t.n * 7 + k * 131) % 500) + 1 as user_n, k from t, generate_series(0, 4) as k)
      insert into team_members (team_id, user_id, role)
      select pairs.team_id, u.id, case when pairs.k = 0 then 'owner' when pairs.k < 3 then 'editor' else 'viewer' end
      from pairs join u on u.n = pairs.user_n`);
    const user = await client.query<{ id: string }>(
      `insert into users (username, email, display_name, password_hash)
       values ('bench', 'bench@bench.invalid', 'Benchmark user', '!disabled') returning id`,
    );
    const userId = user.rows[0]?.id;
    if (!userId) throw new Error("seeding the benchmark user failed");
    const family = await client.query<{ id: string }>(
      `insert into refresh_token_families (user_id, expires_at) values ($1, now() + interval '7 days') returning id`,
      [userId],
    );
    const familyId = family.rows[0]?.id;
    if (!familyId) throw new Error("seeding the benchmark session failed");
    const stride = Math.floor(1000 / teamCount);
    await client.query(
      `with t as (select id, row_number() over (order by name) as n from teams where name like 'Team %')
       insert into team_members (team_id, user_id, role)
       select id, $1, case when n % 3 = 0 then 'owner' when n % 3 = 1 then 'editor' else 'viewer' end
       from t where n % $2 = 0 and n / $2 <= $3`,
      [userId, stride, teamCount],
    );
    await client.query("analyze");
    const totals = await client.query<{ users: string; teams: string; memberships: string }>(
      "select (select count(*) from users) as users, (select count(*) from teams) as teams, (select count(*) from team_members) as memberships",
    );
    const mine = await client.query<{ n: string }>("select count(*) as n from team_members where user_id = $1", [userId]);
    const row = totals.rows[0];
    return {
      userId,
      familyId,
      username: "bench",
      teamCount: Number(mine.rows[0]?.n ?? 0),
      totals: { users: Number(row?.users ?? 0), teams: Number(row?.teams ?? 0), memberships: Number(row?.memberships ?? 0) },
    };
  } finally {
    await client.end();
  }
}
