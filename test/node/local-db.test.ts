/**
 * The local database stack (scripts/local) through the REAL Neon driver, the way the Worker uses
 * it: `neon()` against the SQL-over-HTTP stand-in, `Pool` through the WebSocket relay, drizzle over
 * neon-http. Runs on the embedded PGlite and, when DATABASE_URL is set, on a fresh database of
 * that server. Also the `npm run db:migrate` CLI.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { NeonDbError, type NeonQueryFunction, neon, neonConfig, Pool, types } from "@neondatabase/serverless";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import WebSocket from "ws";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { users } from "../../migrations/schema.ts";
import { createDatabase, dropDatabase, type LocalDatabase, startLocalDatabase } from "../../scripts/local/local-db.ts";
import { type MigrationReport, migrateDatabase } from "../../scripts/local/migrate-db.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
/** Every migration drizzle-kit generated, from its journal. */
const journal = (
  JSON.parse(readFileSync(join(root, "migrations/meta/_journal.json"), "utf8")) as { entries: { tag: string }[] }
).entries.map((e) => e.tag);
const node = join(root, "node_modules/.bin/node");
const run = promisify(execFile);

type Target = {
  name: string;
  embedded: boolean;
  start(): Promise<LocalDatabase>;
  cleanup(): Promise<void>;
};

function embeddedTarget(): Target {
  let dataDir: string | undefined;
  return {
    name: "embedded PGlite",
    embedded: true,
    start() {
      dataDir ??= mkdtempSync(join(tmpdir(), "atrium-pglite-test-"));
      return startLocalDatabase({ dataDir });
    },
    async cleanup() {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function serverTarget(adminUrl: string): Target {
  const name = `atrium_test_${process.pid}_${Date.now()}`;
  let created: Promise<string> | undefined;
  return {
    name: "DATABASE_URL server",
    embedded: false,
    async start() {
      // The database is created once; a restart reconnects to it.
      created ??= createDatabase(adminUrl, name);
      return startLocalDatabase({ databaseUrl: await created });
    },
    cleanup: () => dropDatabase(adminUrl, name),
  };
}

const targets = [embeddedTarget(), ...(process.env.DATABASE_URL ? [serverTarget(process.env.DATABASE_URL)] : [])];

/** neonConfig is module-global: point it at this stack before each test. */
function useStack(stack: LocalDatabase): void {
  neonConfig.fetchEndpoint = stack.workerVars.NEON_HTTP_ENDPOINT;
  neonConfig.wsProxy = (host, port) => `${stack.workerVars.NEON_WS_PROXY}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
}

describe.each(targets)("local database stack: $name", (target) => {
  let stack: LocalDatabase;
  let sql: NeonQueryFunction<false, false>;
  let firstRun: MigrationReport;

  beforeAll(async () => {
    stack = await target.start();
    firstRun = await migrateDatabase(stack.databaseUrl);
  });

  afterAll(async () => {
    await stack?.close();
    await target.cleanup();
  });

  beforeEach(() => {
    useStack(stack);
    sql = neon(stack.databaseUrl);
  });

  it("applies the migrations once", async () => {
    expect(stack.embedded).toBe(target.embedded);
    expect(firstRun).toEqual({ applied: journal, total: journal.length });
    expect(await migrateDatabase(stack.databaseUrl)).toEqual({ applied: [], total: journal.length });
    const [row] = await sql`select to_regclass('public.users')::text as t`;
    expect(row).toEqual({ t: "users" });
  });

  it("runs parameterised queries", async () => {
    const hostile = "'; drop table users; --";
    expect(await sql`select ${2}::int + ${3}::int as n, ${hostile}::text as s`).toEqual([{ n: 5, s: hostile }]);
    expect(await sql.query("select $1::text || $2::text as s", ["a", "b"])).toEqual([{ s: "ab" }]);
    expect(await sql.query("select 1 as a, 'x' as b", [], { arrayMode: true })).toEqual([[1, "x"]]);
    const full = await sql.query("select 7 as seven", [], { fullResults: true });
    expect(full).toMatchObject({ command: "SELECT", rowCount: 1, rows: [{ seven: 7 }] });
    expect(full.fields[0]).toMatchObject({ name: "seven", dataTypeID: 23, dataTypeSize: 4, format: "text" });
  });

  it("round-trips timestamptz, jsonb, bool, int, numeric, text[], bytea and NULL", async () => {
    await sql`create table type_check (
      ts timestamptz, j jsonb, b bool, i int, n numeric, arr text[], bin bytea, nothing text)`;
    const when = new Date("2024-02-29T12:34:56.789Z");
    const json = { a: [1, "x", null], nested: { ok: true } };
    const bytes = Buffer.from([0, 1, 2, 0x5c, 0x78, 254, 255]); // includes "\x" to trip naive escaping
    const texts = ["a", "b,c", 'quote"d', "NULL", "{braces}"];
    await sql`insert into type_check values (
      ${when}, ${json}, ${true}, ${42}, ${"12345678901234567890.123456789"}, ${texts}, ${bytes}, ${null})`;
    const [row = {}] = await sql`select * from type_check`;
    expect(row.ts).toBeInstanceOf(Date); // neon()'s default parsers, fed raw text by the stand-in
    expect((row.ts as Date).toISOString()).toBe(when.toISOString());
    expect(row.j).toEqual(json);
    expect(row.b).toBe(true);
    expect(row.i).toBe(42);
    expect(row.n).toBe("12345678901234567890.123456789");
    expect(row.arr).toEqual(texts);
    expect([...(row.bin as Uint8Array)]).toEqual([...bytes]);
    expect(row.nothing).toBeNull();
    expect(await sql`select ${null}::int as n, ''::text as empty`).toEqual([{ n: null, empty: "" }]);
  });

  it("commits a transaction([...]) all or nothing, honouring its options", async () => {
    await sql`create table tx_check (id int primary key, label text)`;
    const [inserted, counted] = await sql.transaction([
      sql`insert into tx_check values (1, 'one') returning id`,
      sql`select count(*)::int as n from tx_check`,
    ]);
    expect(inserted).toEqual([{ id: 1 }]);
    expect(counted).toEqual([{ n: 1 }]);

    const failed = await sql
      .transaction([sql`insert into tx_check values (2, 'two')`, sql`insert into tx_check values (1, 'dup')`])
      .catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(NeonDbError);
    expect(failed).toMatchObject({ code: "23505" });
    expect(await sql`select id from tx_check order by id`).toEqual([{ id: 1 }]); // 2 rolled back

    const readOnly = await sql
      .transaction([sql`insert into tx_check values (3, 'three')`], { readOnly: true })
      .catch((err: unknown) => err);
    expect(readOnly).toMatchObject({ code: "25006" }); // read_only_sql_transaction

    const [isolation, deferrable] = await sql.transaction([sql`show transaction_isolation`, sql`show transaction_deferrable`], {
      isolationLevel: "Serializable",
      readOnly: true,
      deferrable: true,
    });
    expect(isolation).toEqual([{ transaction_isolation: "serializable" }]);
    expect(deferrable).toEqual([{ transaction_deferrable: "on" }]);
  });

  it("surfaces a unique violation as NeonDbError with code 23505", async () => {
    await sql`insert into users (username, email, display_name, password_hash)
      values ('Ada', 'ada@example.com', 'Ada Lovelace', 'x')`;
    const err = await sql`insert into users (username, email, display_name, password_hash)
      values ('ada', 'other@example.com', 'Ada 2', 'x')`.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NeonDbError);
    expect(err).toMatchObject({
      code: "23505",
      constraint: "users_username_lower_idx",
      severity: "ERROR",
      table: "users",
    });
    expect((err as NeonDbError).detail).toMatch(/already exists/);
    const syntax = await sql`select from where`.catch((e: unknown) => e);
    expect(syntax).toMatchObject({ code: "42601", position: expect.any(String) });
  });

  it("runs an interactive Pool transaction through the relay", async () => {
    await sql`create table pool_check (id int primary key, label text)`;
    const pool = new Pool({ connectionString: stack.databaseUrl });
    try {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        await client.query("insert into pool_check values ($1, $2)", [10, "ten"]);
        const inside = await client.query("select label, now() as at from pool_check where id = $1", [10]);
        expect(inside.rows[0]).toMatchObject({ label: "ten" });
        expect(inside.rows[0].at).toBeInstanceOf(Date);
        await client.query("ROLLBACK");
        await client.query("BEGIN");
        await client.query("insert into pool_check values ($1, $2)", [11, "eleven"]);
        await client.query("COMMIT");
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
    expect(await sql`select id from pool_check order by id`).toEqual([{ id: 11 }]);
  });

  it("keeps concurrent statements of different connections apart", async () => {
    await sql`create table mix_check (id int primary key)`;
    const pool = new Pool({ connectionString: stack.databaseUrl, max: 3 });
    try {
      const viaHttp = Array.from({ length: 40 }, (_, i) => sql`select ${i}::int as i, ${`v${i}`}::text as v`.then((rows) => rows[0]));
      const viaPool = Array.from({ length: 6 }, async (_, i) => {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          await client.query("insert into mix_check values ($1)", [i]);
          const { rows } = await client.query("select count(*)::int as n from mix_check where id = $1", [i]);
          await client.query(i % 2 ? "COMMIT" : "ROLLBACK");
          return rows[0].n;
        } finally {
          client.release();
        }
      });
      const [http, pooled] = await Promise.all([Promise.all(viaHttp), Promise.all(viaPool)]);
      expect(http).toEqual(Array.from({ length: 40 }, (_, i) => ({ i, v: `v${i}` })));
      expect(pooled).toEqual([1, 1, 1, 1, 1, 1]);
    } finally {
      await pool.end();
    }
    expect(await sql`select id from mix_check order by id`).toEqual([{ id: 1 }, { id: 3 }, { id: 5 }]);
  });

  it("refuses targets that are not this database", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${stack.relayPort}/v1?address=127.0.0.1:1`);
      ws.on("unexpected-response", (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      ws.on("open", () => reject(new Error("the relay opened a disallowed address")));
      ws.on("error", () => {});
    });
    expect(status).toBe(403);

    // Through the driver: the refused WebSocket becomes a connection error, not a hang
    const pool = new Pool({ connectionString: "postgres://postgres:postgres@127.0.0.1:1/postgres" });
    pool.on("error", () => {});
    await expect(pool.query("select 1")).rejects.toThrow();
    await pool.end().catch(() => {});

    // The HTTP stand-in only serves this database's server
    const other = neon("postgres://postgres:postgres@127.0.0.1:1/postgres");
    await expect(other`select 1`).rejects.toThrow(/HTTP status 403/);
  });

  it("answers malformed requests to the HTTP stand-in with 400", async () => {
    const post = (body: string) =>
      fetch(stack.httpUrl, {
        method: "POST",
        headers: { "Neon-Connection-String": stack.databaseUrl, "Neon-Array-Mode": "true" },
        body,
      });
    const badJson = await post("{nope");
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toEqual({ message: expect.stringMatching(/JSON/) });
    const noQuery = await post(JSON.stringify({ params: [] }));
    expect(noQuery.status).toBe(400);
    expect(await noQuery.json()).toEqual({ message: expect.stringMatching(/query/) });
    expect((await fetch(stack.httpUrl)).status).toBe(405);
    const objectRows = await fetch(stack.httpUrl, {
      method: "POST",
      headers: { "Neon-Connection-String": stack.databaseUrl },
      body: JSON.stringify({ query: "select $1::int as n, null::text as z", params: ["5"] }),
    });
    expect(await objectRows.json()).toMatchObject({ rows: [{ n: "5", z: null }], rowAsArray: false });
  });

  it("serves drizzle over neon-http with the schema's users table", async () => {
    // drizzle-orm/neon-http swaps the driver's date parsers for the whole module: restore them
    const oids = [1184, 1114, 1082, 1186, 1231, 1115, 1185, 1187, 1182];
    const saved = oids.map((oid) => [oid, types.getTypeParser(oid)] as const);
    try {
      const db = drizzle({ client: sql });
      const [created] = await db
        .insert(users)
        .values({ username: "grace", email: "grace@example.com", displayName: "Grace Hopper", passwordHash: "h", isAdmin: true })
        .returning();
      const rows = await db.select().from(users).where(eq(users.username, "grace"));
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        id: created?.id,
        email: "grace@example.com",
        displayName: "Grace Hopper",
        isAdmin: true,
        isActive: true,
        mustChangePassword: false,
        lastLoginAt: null,
      });
      expect(rows[0]?.createdAt).toBeInstanceOf(Date);
      const [, count] = await db.batch([
        db
          .update(users)
          .set({ lastLoginAt: new Date() })
          .where(eq(users.id, created?.id ?? "")),
        db.select({ id: users.id }).from(users),
      ]);
      expect(count.length).toBeGreaterThanOrEqual(1);
    } finally {
      for (const [oid, parser] of saved) types.setTypeParser(oid, parser);
    }
  });

  it("keeps the data across a restart of the stack (PGlite: the same dataDir)", async () => {
    await sql`create table persist_check (v text)`;
    await sql`insert into persist_check values ('kept')`;
    await stack.close();
    stack = await target.start();
    useStack(stack);
    const again = neon(stack.databaseUrl);
    expect(await again`select v from persist_check`).toEqual([{ v: "kept" }]);
    expect(await migrateDatabase(stack.databaseUrl)).toEqual({ applied: [], total: journal.length });
  });
});

describe("npm run db:migrate", () => {
  const cli = (env: Record<string, string | undefined>) =>
    run(node, [join(root, "scripts/migrate.ts")], { cwd: root, env: { ...process.env, ...env } }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }),
    );

  it("explains a missing DATABASE_URL", async () => {
    const { code, out } = await cli({ DATABASE_URL: "" });
    expect(code).toBe(1);
    expect(out).toMatch(/DATABASE_URL is not set/);
  });

  it("explains an unreachable database", async () => {
    const { code, out } = await cli({ DATABASE_URL: "postgres://postgres:secret@127.0.0.1:1/postgres" });
    expect(code).toBe(1);
    expect(out).toMatch(/cannot connect to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/postgres/);
    expect(out).not.toMatch(/secret/);
  });

  it("migrates, then reports the database up to date", async () => {
    const stack = await startLocalDatabase();
    try {
      const first = await cli({ DATABASE_URL: stack.databaseUrl });
      expect(first).toMatchObject({
        code: 0,
        out: expect.stringMatching(new RegExp(`applied ${journal.length} of ${journal.length} migrations .*0000_init`)),
      });
      const second = await cli({ DATABASE_URL: stack.databaseUrl });
      expect(second).toMatchObject({ code: 0, out: expect.stringMatching(new RegExp(`up to date \\(${journal.length} migrations`)) });
    } finally {
      await stack.close();
    }
  });
});
