/**
 * Runs the local database stack as its own Node process (for test global setups, whose module
 * runner resolves packages like `ws` with worker/browser conditions). Starts the stack, applies
 * the migrations, prints one JSON line `{ "ready": true, databaseUrl, workerVars }` and runs
 * until SIGTERM/SIGINT or until its stdin closes (so it dies with its parent).
 *
 * Flags: --database-url=URL (else embedded PGlite), --data-dir=DIR (PGlite folder; else memory).
 */
import { startLocalDatabase } from "./local-db.ts";
import { migrateDatabase } from "./migrate-db.ts";

const flag = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const databaseUrl = flag("database-url");
const dataDir = flag("data-dir");
const db = await startLocalDatabase({ ...(databaseUrl && { databaseUrl }), ...(dataDir && { dataDir }), log: (m) => console.error(m) });
await migrateDatabase(db.databaseUrl);
console.log(JSON.stringify({ ready: true, databaseUrl: db.databaseUrl, workerVars: db.workerVars, embedded: db.embedded }));

let closing = false;
const stop = async () => {
  if (closing) return;
  closing = true;
  await db.close().catch(() => {});
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
process.stdin.on("end", () => void stop());
process.stdin.on("close", () => void stop());
process.stdin.resume();
