/**
 * Runs in Node before the workerd suites: a database for them (embedded PGlite, or a fresh
 * database on the server in DATABASE_URL), migrated, reached by the Worker through the same
 * local stand-ins `npm start` uses. The Worker's bindings come from `provide("workerVars")`.
 */
import type { TestProject } from "vitest/node";
import { createTestDatabase, spawnLocalDb } from "../helpers/local-db-process.ts";
import { startAnthropicStandIn } from "../stand-ins/anthropic-server.ts";

export default async function setup(project: TestProject) {
  const serverUrl = process.env.DATABASE_URL;
  const fresh = serverUrl ? await createTestDatabase(serverUrl) : undefined;
  const db = await spawnLocalDb(fresh ? { databaseUrl: fresh.url } : {});
  console.log(`workers suite database: ${db.embedded ? "embedded PGlite" : "Postgres (DATABASE_URL)"}`);
  project.provide("workerVars", db.workerVars);
  project.provide("databaseKind", serverUrl ? "postgres" : "pglite");
  const anthropic = await startAnthropicStandIn({ acceptKey: (k) => k.startsWith("sk-ant-test-"), control: true });
  project.provide("anthropicUrl", anthropic.url);
  return async () => {
    await anthropic.close();
    await db.stop();
    await fresh?.drop();
  };
}
