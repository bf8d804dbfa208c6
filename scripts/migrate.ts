/**
 * `npm run db:migrate`: applies the drizzle-kit migrations to the database in DATABASE_URL
 * (Neon in production, e.g. "postgres://…neon.tech/db?sslmode=require", or a local server) and
 * says what it did. `npm start` migrates its own local database; this is for everything else.
 */
import { MIGRATIONS_FOLDER, migrateDatabase, redactUrl } from "./local/migrate-db.ts";

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error(
    "db:migrate: DATABASE_URL is not set.\n" +
      "  Set it to the Postgres to migrate, e.g.\n" +
      "  DATABASE_URL=postgres://user:password@host/db?sslmode=require npm run db:migrate\n" +
      "  (`npm start` migrates its embedded local database by itself.)",
  );
  process.exit(1);
}

const started = Date.now();
try {
  const report = await migrateDatabase(databaseUrl, { log: (msg) => console.log(msg) });
  const target = redactUrl(databaseUrl);
  const ms = Date.now() - started;
  if (report.applied.length === 0) {
    console.log(`db:migrate: ${target} is up to date (${report.total} migrations, ${ms} ms)`);
  } else {
    console.log(
      `db:migrate: applied ${report.applied.length} of ${report.total} migrations to ${target} ` +
        `in ${ms} ms: ${report.applied.join(", ")}`,
    );
  }
} catch (err) {
  console.error(`db:migrate: failed: ${(err as Error).message}`);
  console.error(`  (migrations folder: ${MIGRATIONS_FOLDER})`);
  process.exit(1);
}
