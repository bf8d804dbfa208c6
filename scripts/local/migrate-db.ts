/**
 * Applies the drizzle-kit migrations in `migrations/` to a database (local PGlite over the wire
 * protocol, the machine's Postgres, or Neon over TCP+TLS). Owns how migrations are applied: direct
 * `pg` + drizzle's node-postgres migrator (one transaction for all pending migrations, bookkeeping
 * in drizzle.__drizzle_migrations, so a second run applies nothing), under an advisory lock so two
 * processes starting at once don't both apply the same migration.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import { Client } from "pg";

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../../migrations", import.meta.url));

export type MigrateOptions = { migrationsFolder?: string; log?: (msg: string) => void };

export type MigrationReport = {
  /** Tags of the migrations applied by this run, in order (empty: already up to date). */
  applied: string[];
  /** Migrations in the journal. */
  total: number;
};

type JournalEntry = { idx: number; when: number; tag: string };

// Arbitrary constant shared by every process migrating this schema ("atrium" in ASCII-ish)
const MIGRATION_LOCK = 0x617472;

export async function migrateDatabase(databaseUrl: string, options: MigrateOptions = {}): Promise<MigrationReport> {
  const migrationsFolder = options.migrationsFolder ?? MIGRATIONS_FOLDER;
  const log = options.log ?? (() => {});
  const journal = readJournal(migrationsFolder);

  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on("error", (err) => log(`migrate: connection error: ${err.message}`));
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot connect to ${redactUrl(databaseUrl)}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      // Same rule as drizzle's migrator: everything newer than the last recorded migration
      const last = await lastAppliedMillis(client);
      const pending = journal.filter((entry) => last === null || last < entry.when).map((entry) => entry.tag);
      if (pending.length > 0) log(`migrate: applying ${pending.join(", ")}`);
      await migrate(drizzle({ client }), { migrationsFolder });
      return { applied: pending, total: journal.length };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    }
  } finally {
    await client.end().catch(() => {});
  }
}

async function lastAppliedMillis(client: Client): Promise<number | null> {
  const exists = await client.query<{ t: string | null }>("SELECT to_regclass('drizzle.__drizzle_migrations')::text AS t");
  if (!exists.rows[0]?.t) return null;
  const last = await client.query<{ created_at: string | null }>(
    "SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1",
  );
  const value = last.rows[0]?.created_at;
  return value === undefined || value === null ? null : Number(value);
}

function readJournal(migrationsFolder: string): JournalEntry[] {
  const path = join(migrationsFolder, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(path, "utf8")) as { entries?: JournalEntry[] };
  return journal.entries ?? [];
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}
