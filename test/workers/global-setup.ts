/**
 * Runs in Node before the workerd suites: a database for them (embedded PGlite, or a fresh
 * database on the server in DATABASE_URL), migrated, reached by the Worker through the same
 * local stand-ins `npm start` uses. The Worker's bindings come from `provide("workerVars")`.
 */
import type { TestProject } from "vitest/node";
import { createDatabase, dropDatabase, startLocalDatabase } from "../../scripts/local/local-db.ts";
import { migrateDatabase } from "../../scripts/local/migrate-db.ts";

declare module "vitest" {
  export interface ProvidedContext {
    workerVars: { DATABASE_URL: string; NEON_WS_PROXY: string; NEON_HTTP_ENDPOINT: string };
    databaseKind: "pglite" | "postgres";
  }
}

export default async function setup(project: TestProject) {
  const serverUrl = process.env.DATABASE_URL;
  let databaseUrl: string | undefined;
  let dbName: string | undefined;
  if (serverUrl) {
    dbName = `atrium_test_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    databaseUrl = await createDatabase(serverUrl, dbName);
  }
  const local = await startLocalDatabase(databaseUrl ? { databaseUrl } : {});
  await migrateDatabase(local.databaseUrl);
  project.provide("workerVars", local.workerVars);
  project.provide("databaseKind", serverUrl ? "postgres" : "pglite");
  return async () => {
    await local.close();
    if (serverUrl && dbName) await dropDatabase(serverUrl, dbName);
  };
}
