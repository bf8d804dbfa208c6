/**
 * `npm start`: the whole product on one machine with no account anywhere (DESIGN §6).
 * Builds the site, brings up Postgres (DATABASE_URL, or embedded PGlite kept in .atrium/),
 * the Neon driver's local stand-ins, applies migrations, creates the first admin, runs
 * `wrangler dev` (Worker + Durable Objects + site assets), then the local node-bridge that runs
 * desktops as Xvfb + x11vnc processes (scripts/local/local-bridge.ts), and prints the URL.
 * Ctrl-C stops all.
 *
 * Environment: PORT (8787), DATABASE_URL, ATRIUM_DATA_DIR (.atrium), AUTH_ENABLED (true),
 * ATRIUM_LOCAL_BRIDGE (true; false = no local desktops).
 * Flags: --watch (rebuild the site on change), --no-build (use the existing site/dist).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import pg from "pg";
import { generatePassword, hashPassword } from "../worker/lib/password.ts";
import {
  bridgeOnline,
  ensureStarterTemplate,
  type LocalBridge,
  localBridgeStateDir,
  missingDesktopPrograms,
  registerLocalBridge,
  superviseLocalBridge,
} from "./local/local-bridge.ts";
import { startLocalDatabase } from "./local/local-db.ts";
import { migrateDatabase } from "./local/migrate-db.ts";
import { loadSecrets, saveSecrets, writeEnvFile } from "./local/secrets-file.ts";

const root = resolve(new URL("..", import.meta.url).pathname);
const args = new Set(process.argv.slice(2));
const port = Number(process.env.PORT ?? 8787);
const dataDir = resolve(root, process.env.ATRIUM_DATA_DIR ?? ".atrium");
const authEnabled = (process.env.AUTH_ENABLED ?? "true").toLowerCase() !== "false";
const localBridgeEnabled = (process.env.ATRIUM_LOCAL_BRIDGE ?? "true").toLowerCase() !== "false";
const children: ChildProcess[] = [];
let localBridge: LocalBridge | undefined;

function log(msg: string): void {
  console.log(`[atrium] ${msg}`);
}

/** Creates the first admin when there is none; returns the one-time password to print. */
async function ensureFirstAdmin(databaseUrl: string): Promise<{ username: string; password: string } | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const existing = await client.query("select 1 from users where is_admin and username <> 'local' limit 1");
    if (existing.rowCount) return undefined;
    const password = generatePassword(20);
    await client.query(
      `insert into users (username, email, display_name, password_hash, is_admin, must_change_password)
       values ('admin', 'admin@localhost', 'Administrator', $1, true, true)
       on conflict do nothing`,
      [await hashPassword(password)],
    );
    return { username: "admin", password };
  } finally {
    await client.end();
  }
}

async function waitForHttp(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/**
 * Registers and starts the local bridge when Xvfb and x11vnc are installed, and waits (bounded)
 * until it is online so a desktop can be started as soon as the URL is printed. Returns the line
 * to print about local desktops.
 */
async function startLocalBridge(databaseUrl: string, secretsFile: string): Promise<string> {
  const missing = await missingDesktopPrograms();
  if (missing.length > 0) {
    return `local desktops: off — ${missing.join(" and ")} not found (Debian/Ubuntu: apt-get install xvfb x11vnc x11-xserver-utils); everything else runs`;
  }
  const secrets = loadSecrets(secretsFile);
  const { bridgeId, token } = await registerLocalBridge(databaseUrl, secrets.LOCAL_BRIDGE_TOKEN);
  if (token !== secrets.LOCAL_BRIDGE_TOKEN) saveSecrets(secretsFile, { ...secrets, LOCAL_BRIDGE_TOKEN: token });
  if (await ensureStarterTemplate(databaseUrl)) log("added the desktop template 'Local desktop' (administrators only)");
  const launchedAt = new Date();
  localBridge = superviseLocalBridge({
    atriumUrl: `http://127.0.0.1:${port}`,
    bridgeId,
    token,
    stateDir: localBridgeStateDir(dataDir),
    log,
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await bridgeOnline(databaseUrl, bridgeId, launchedAt)) {
      const sameUser = /^(true|1)$/.test(process.env.LOCAL_DESKTOP_SAME_USER ?? "");
      if (process.getuid?.() !== 0 && !sameUser)
        return "local desktops: bridge 'local' online, but it will refuse desktops: it is not root, so it cannot run them as users of their own (set LOCAL_DESKTOP_SAME_USER=true on a single-person machine)";
      return "local desktops: bridge 'local' online (Xvfb + x11vnc on this machine; the 'Local desktop' template is for administrators)";
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return "local desktops: the bridge 'local' has not connected yet (see the [bridge] lines above)";
}

async function main(): Promise<void> {
  // Owner-only: it holds the secrets, the embedded database and the bridge's state, and local
  // desktops run shells on this machine (as other users when this runs as root).
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);

  if (!args.has("--no-build")) {
    log("building the site…");
    const build = spawnSync("npx", ["vite", "build", "--config", "site/vite.config.ts", "--logLevel", "warn"], {
      cwd: root,
      stdio: "inherit",
    });
    if (build.status !== 0) throw new Error("site build failed");
  }
  if (args.has("--watch")) {
    children.push(
      spawn("npx", ["vite", "build", "--watch", "--config", "site/vite.config.ts", "--logLevel", "warn"], { cwd: root, stdio: "inherit" }),
    );
  }

  const db = await startLocalDatabase({
    ...(process.env.DATABASE_URL && { databaseUrl: process.env.DATABASE_URL }),
    dataDir: join(dataDir, "pglite"),
    log,
  });
  let shuttingDown = false;
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    // The bridge first: it drains and ends its desktops while the Worker can still hear it.
    await localBridge?.stop().catch(() => {});
    for (const child of children) {
      if (child.exitCode === null && child.pid) {
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch {
          child.kill("SIGTERM");
        }
      }
    }
    await db.close().catch(() => {});
    process.exit(code);
  };
  process.on("SIGINT", () => void shutdown(0));
  process.on("SIGTERM", () => void shutdown(0));

  log(db.embedded ? `Postgres: embedded PGlite (data in ${join(dataDir, "pglite")})` : "Postgres: DATABASE_URL");
  await migrateDatabase(db.databaseUrl);
  const admin = authEnabled ? await ensureFirstAdmin(db.databaseUrl) : undefined;

  const secretsFile = join(dataDir, "secrets.json");
  const secrets = loadSecrets(secretsFile);
  const vars: Record<string, string> = {
    ...db.workerVars,
    JWT_SECRET: secrets.JWT_SECRET,
    ENCRYPTION_KEYS: secrets.ENCRYPTION_KEYS,
    AUTH_ENABLED: authEnabled ? "true" : "false",
    // Anthropic: a deployment-wide key if the shell has one; users can also store their own.
    ...(process.env.ANTHROPIC_API_KEY && { ANTHROPIC_API_KEY: process.env.ANTHROPIC_API_KEY }),
    ...(process.env.ANTHROPIC_BASE_URL && { ANTHROPIC_BASE_URL: process.env.ANTHROPIC_BASE_URL }),
    // Tests only: shortens the idle timeout's minute so idle reaping can be watched end to end.
    ...(process.env.IDLE_MINUTE_MS && { IDLE_MINUTE_MS: process.env.IDLE_MINUTE_MS }),
  };
  const envFile = join(dataDir, "worker.env");
  writeEnvFile(envFile, vars);

  const wrangler = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--env-file",
      envFile,
      "--persist-to",
      join(dataDir, "wrangler"),
      "--show-interactive-dev-session=false",
      "--log-level",
      process.env.WRANGLER_LOG ?? "warn",
    ],
    {
      cwd: root,
      stdio: ["ignore", "inherit", "inherit"],
      detached: true,
      env: { ...process.env, X_LOCAL_OBSERVABILITY: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
    },
  );
  children.push(wrangler);
  wrangler.on("exit", (code) => {
    if (shuttingDown) return;
    log(`wrangler dev exited (${code ?? "signal"})`);
    void shutdown(code ?? 1);
  });
  await waitForHttp(`http://127.0.0.1:${port}/api/v1/auth/config`, 60_000, wrangler);

  const desktops = localBridgeEnabled
    ? await startLocalBridge(db.databaseUrl, secretsFile)
    : "local desktops: off (ATRIUM_LOCAL_BRIDGE=false)";

  const url = `http://localhost:${port}`;
  console.log("");
  log(`Atrium is running at ${url}`);
  log(`API docs: ${url}/api/docs`);
  if (!authEnabled) log("single-user local mode (AUTH_ENABLED=false): no login needed");
  log(desktops);
  log(
    process.env.ANTHROPIC_API_KEY
      ? "LLM: Anthropic (ANTHROPIC_API_KEY)"
      : "LLM: no ANTHROPIC_API_KEY — meetings use the offline model unless a user stores a key in Settings",
  );
  if (admin) {
    log(`first admin created — username: ${admin.username}  one-time password: ${admin.password}`);
    log("you will be asked to choose a new password at first login");
  }
  log("press Ctrl-C to stop");
}

main().catch((e: unknown) => {
  console.error("[atrium] failed to start:", e instanceof Error ? e.message : e);
  for (const child of children) child.kill("SIGTERM");
  void (localBridge?.stop() ?? Promise.resolve()).finally(() => process.exit(1));
});
