/**
 * The local database stack behind `npm start`, the node tests and the benchmark: a Postgres
 * (DATABASE_URL, or an embedded PGlite served over the wire protocol with its data in a folder),
 * the WebSocket relay for the Neon driver's Pool/Client, and the stand-in of Neon's HTTP endpoint
 * for `neon()`. Owns their start order, their allow-lists and a clean shutdown; plus helpers that
 * give tests an isolated database on a real server.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { Client } from "pg";
import { startNeonHttp } from "./neon-http.ts";
import { startPgRelay } from "./pg-relay.ts";
import { startPgliteServer } from "./pglite-server.ts";

export type LocalDatabaseOptions = {
  /** Use this server instead of the embedded PGlite. */
  databaseUrl?: string;
  /** PGlite data folder, kept between runs; absent = in memory. Ignored with databaseUrl. */
  dataDir?: string;
  log?: (msg: string) => void;
};

export type LocalDatabase = {
  databaseUrl: string;
  relayPort: number;
  httpUrl: string;
  /** What the Worker needs to reach this database the way it reaches Neon in production. */
  workerVars: { DATABASE_URL: string; NEON_WS_PROXY: string; NEON_HTTP_ENDPOINT: string };
  embedded: boolean;
  close(): Promise<void>;
};

// PGlite is one session shared by every connection (see pglite-server.ts): more HTTP pool
// connections only queue there, but a few keep it busy while others are in flight
const EMBEDDED_HTTP_POOL = 4;
const SERVER_HTTP_POOL = 10;
const NOOP = () => {};

export async function startLocalDatabase(options: LocalDatabaseOptions = {}): Promise<LocalDatabase> {
  const log = options.log ?? NOOP;
  const cleanups: Array<() => Promise<void>> = [];
  const close = async () => {
    // Front ends first (no new work), then the server, then PGlite (flushes its folder)
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch((err: Error) => log(`local-db: shutdown: ${err.message}`));
    }
  };

  try {
    let databaseUrl: string;
    const embedded = !options.databaseUrl;
    if (options.databaseUrl) {
      databaseUrl = options.databaseUrl;
    } else {
      // Loaded only when needed: the wasm build is large and slow to import
      const { PGlite } = await import("@electric-sql/pglite");
      const dataDir = options.dataDir ? resolve(options.dataDir) : undefined;
      if (dataDir) {
        mkdirSync(dataDir, { recursive: true });
        const lock = lockDataDir(dataDir);
        cleanups.push(async () => rmSync(lock, { force: true }));
      }
      const started = Date.now();
      const db = await PGlite.create(dataDir ? { dataDir } : {});
      cleanups.push(() => db.close());
      const server = await startPgliteServer({ db, log });
      cleanups.push(() => server.close());
      // PGlite has no authentication: the user/password only satisfy clients that require them
      databaseUrl = `postgres://postgres:postgres@127.0.0.1:${server.port}/postgres`;
      log(`local-db: PGlite (${dataDir ?? "in memory"}) on 127.0.0.1:${server.port} in ${Date.now() - started} ms`);
    }

    const target = new URL(databaseUrl);
    const targetPort = target.port || "5432";
    const bare = target.hostname.replace(/^\[|\]$/g, "");
    const relay = await startPgRelay({ allow: [`${bare}:${targetPort}`, `${target.hostname}:${targetPort}`], log });
    cleanups.push(() => relay.close());

    const http = await startNeonHttp({
      maxConnections: embedded ? EMBEDDED_HTTP_POOL : SERVER_HTTP_POOL,
      allow: (connectionString) => sameServer(connectionString, target.hostname, targetPort),
      log,
    });
    cleanups.push(() => http.close());

    const wsProxy = `127.0.0.1:${relay.port}`;
    return {
      databaseUrl,
      relayPort: relay.port,
      httpUrl: http.url,
      workerVars: { DATABASE_URL: databaseUrl, NEON_WS_PROXY: wsProxy, NEON_HTTP_ENDPOINT: http.url },
      embedded,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * PGlite does not notice a second process opening the same folder, and two writers corrupt it
 * (e.g. two `npm start`s): a pid file beside the folder refuses the second one.
 */
function lockDataDir(dataDir: string): string {
  const lock = `${dataDir}.lock`;
  try {
    writeFileSync(lock, String(process.pid), { flag: "wx" });
    return lock;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const pid = Number(readFileSync(lock, "utf8"));
  if (pid && pid !== process.pid && isAlive(pid)) {
    throw new Error(`the PGlite data folder ${dataDir} is in use by process ${pid} (another npm start?)`);
  }
  writeFileSync(lock, String(process.pid)); // stale lock of a process that is gone
  return lock;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function sameServer(connectionString: string, hostname: string, port: string): boolean {
  try {
    const url = new URL(connectionString);
    return url.hostname === hostname && (url.port || "5432") === port;
  } catch {
    return false;
  }
}

const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Creates database `name` on the server of `adminUrl`; returns the new database's URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  if (!DATABASE_NAME.test(name)) throw new Error(`invalid database name: ${name}`);
  await withClient(adminUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops database `name` (closing its connections first) on the server of `adminUrl`. */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  if (!DATABASE_NAME.test(name)) throw new Error(`invalid database name: ${name}`);
  // WITH (FORCE) (Postgres 13+): the relay's and the stand-in's pools may still hold connections
  await withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on("error", NOOP);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(NOOP);
  }
}
