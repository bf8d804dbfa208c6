/**
 * Starts scripts/local/serve-db.ts as a child Node process and waits for its ready line.
 * Also creates / drops isolated databases on a real server for test runs against DATABASE_URL.
 */
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import pg from "pg";

const root = resolve(new URL("../..", import.meta.url).pathname);

export interface LocalDbProcess {
  databaseUrl: string;
  workerVars: { DATABASE_URL: string; NEON_WS_PROXY: string; NEON_HTTP_ENDPOINT: string };
  embedded: boolean;
  stop(): Promise<void>;
}

export async function spawnLocalDb(options: { databaseUrl?: string; dataDir?: string } = {}): Promise<LocalDbProcess> {
  const args = ["scripts/local/serve-db.ts"];
  if (options.databaseUrl) args.push(`--database-url=${options.databaseUrl}`);
  if (options.dataDir) args.push(`--data-dir=${options.dataDir}`);
  const child = spawn(join(root, "node_modules/.bin/node"), args, { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const ready = await new Promise<Omit<LocalDbProcess, "stop">>((res, rej) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) res(JSON.parse(line) as Omit<LocalDbProcess, "stop">);
    });
    child.on("exit", (code) => rej(new Error(`serve-db exited (${code}): ${err}`)));
  });
  return {
    ...ready,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates a fresh database on the server behind `serverUrl`; returns its URL. */
export async function createTestDatabase(serverUrl: string, prefix = "atrium_test"): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`create database "${name}"`);
  await admin.end();
  return {
    url: withDatabase(serverUrl, name),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.end();
    },
  };
}
