/**
 * `npm start`'s local node-bridge (DESIGN §6): desktops as Xvfb + x11vnc processes on this
 * machine. Registers a bridge named `local` straight in Postgres (as start.ts creates the first
 * admin), with a token generated once and kept in the data folder's secrets file — Postgres holds
 * only its SHA-256 hash, as when an administrator registers a bridge — seeds a starter template on
 * a fresh install, and supervises `node node-bridge/main.ts`: restarted with backoff when it dies,
 * drained and stopped with everything else on Ctrl-C.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { join, resolve } from "node:path";
import pg from "pg";
import { findExecutable } from "../../node-bridge/drivers/local-processes.ts";
import { randomToken, sha256Hex } from "../../worker/lib/bytes.ts";

const root = resolve(new URL("../..", import.meta.url).pathname);

/** The bridge row's name and region; its platform is `local`. */
export const LOCAL_BRIDGE_NAME = "local";
const REGION = "local";
/** node-bridge exits with this when its configuration is invalid: restarting would not help. */
const EX_CONFIG = 78;
/** A bridge that ran this long before dying restarts quickly again. */
const STABLE_MS = 60_000;
const MAX_RESTART_DELAY_MS = 30_000;
/** How long Ctrl-C lets in-flight commands finish before the bridge closes. */
const DRAIN_TIMEOUT_MS = 5_000;

/** Programs the local driver needs that are not on PATH (empty when desktops can run here). */
export async function missingDesktopPrograms(): Promise<string[]> {
  const found = await Promise.all(["Xvfb", "x11vnc"].map(async (name) => [name, await findExecutable(name)] as const));
  return found.filter(([, file]) => !file).map(([name]) => name);
}

export interface LocalBridgeRegistration {
  bridgeId: string;
  /** the token to configure the bridge with: the one passed in, or a new one if it did not match */
  token: string;
}

/**
 * Makes sure the `local` bridge is registered with `token`. A missing row is created; a row whose
 * hash does not match (the token was rotated in the admin UI, or the secrets file is new) gets a
 * fresh token, so a rotated token never works again.
 */
export async function registerLocalBridge(databaseUrl: string, token: string | undefined): Promise<LocalBridgeRegistration> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string; token_hash: string }>(
      "select id, token_hash from bridges where name = $1 and platform = 'local' order by created_at limit 1",
      [LOCAL_BRIDGE_NAME],
    );
    const existing = rows[0];
    if (existing && token && (await sha256Hex(token)) === existing.token_hash) return { bridgeId: existing.id, token };
    const fresh = `brg_${randomToken(32)}`;
    const hash = await sha256Hex(fresh);
    if (existing) {
      await client.query("update bridges set token_hash = $1 where id = $2", [hash, existing.id]);
      return { bridgeId: existing.id, token: fresh };
    }
    const inserted = await client.query<{ id: string }>(
      "insert into bridges (name, platform, region, token_hash) values ($1, 'local', $2, $3) returning id",
      [LOCAL_BRIDGE_NAME, REGION, hash],
    );
    const id = inserted.rows[0]?.id;
    if (!id) throw new Error("registering the local bridge returned no row");
    return { bridgeId: id, token: fresh };
  } finally {
    await client.end();
  }
}

/** What the seeded template says about itself (shown to administrators in the gallery and the admin page). */
export const STARTER_TEMPLATE_DESCRIPTION =
  "A shell on the machine running npm start: a bare X desktop (Xvfb + x11vnc) with a terminal, served by its local bridge under a user of its own. Administrators only; cannot hibernate, idle ones are stopped.";
/** The description earlier versions seeded, when the template was open to every user. */
const OLD_STARTER_DESCRIPTION =
  "A bare X desktop (Xvfb + x11vnc) on the machine running npm start, served by its local bridge. Cannot hibernate: idle ones are stopped.";

/**
 * On a fresh install (no desktop template at all) adds one enabled, admin-only template, so an
 * administrator can start a desktop right away: it is a shell on this machine, so it is not for
 * every self-registered user (an administrator can open it up on the templates page). A starter
 * template seeded by an earlier version, still exactly as seeded, is made admin-only too.
 * Templates an administrator added, edited, deleted or disabled are left alone. Returns whether
 * it added one.
 */
export async function ensureStarterTemplate(databaseUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `update desktop_templates set admin_only = true, description = $1
       where name = 'Local desktop' and image = 'atrium/local-desktop' and description = $2 and not admin_only`,
      [STARTER_TEMPLATE_DESCRIPTION, OLD_STARTER_DESCRIPTION],
    );
    const { rowCount } = await client.query(
      `insert into desktop_templates (name, description, kind, image, cpu, memory_mb, admin_only)
       select $1, $2, 'container', 'atrium/local-desktop', 1, 1024, true
       where not exists (select 1 from desktop_templates)`,
      ["Local desktop", STARTER_TEMPLATE_DESCRIPTION],
    );
    return (rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

/** Whether the bridge said hello (or a heartbeat) since `since`: a row left "online" by a previous run does not count. */
export async function bridgeOnline(databaseUrl: string, bridgeId: string, since: Date): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ status: string }>("select status from bridges where id = $1 and last_heartbeat_at >= $2", [
      bridgeId,
      since,
    ]);
    return rows[0]?.status === "online";
  } finally {
    await client.end();
  }
}

export interface LocalBridgeOptions {
  /** where the bridge reaches the Worker, e.g. http://127.0.0.1:8787 */
  atriumUrl: string;
  bridgeId: string;
  token: string;
  /** commands.json, relays.json, local-desktops.json */
  stateDir: string;
  log: (msg: string) => void;
}

export interface LocalBridge {
  /** Drains and stops the bridge (its desktops end with it); no restart afterwards. */
  stop(): Promise<void>;
}

/** Runs node-bridge with the local driver and restarts it whenever it dies. */
export function superviseLocalBridge(options: LocalBridgeOptions): LocalBridge {
  let child: ChildProcess | undefined;
  let stopping = false;
  let failures = 0;
  let restartTimer: NodeJS.Timeout | undefined;

  const launch = () => {
    const startedAt = Date.now();
    const proc = spawn(process.execPath, ["node-bridge/main.ts"], {
      cwd: root,
      // Its own process group: a terminal's Ctrl-C reaches start.ts only, which then drains the bridge.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        ATRIUM_URL: options.atriumUrl,
        BRIDGE_ID: options.bridgeId,
        BRIDGE_TOKEN: options.token,
        BRIDGE_PLATFORM: "local",
        BRIDGE_REGION: REGION,
        BRIDGE_STATE_DIR: options.stateDir,
        BRIDGE_LOG_LEVEL: process.env.BRIDGE_LOG_LEVEL ?? "warn",
        BRIDGE_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
      },
    });
    child = proc;
    for (const stream of [proc.stdout, proc.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", (line) => console.log(`[bridge] ${line}`));
    }
    proc.on("exit", (code, signal) => {
      if (child === proc) child = undefined;
      if (stopping) return;
      if (code === EX_CONFIG) {
        options.log("the local bridge's configuration was refused (see above); local desktops are unavailable");
        return;
      }
      failures = Date.now() - startedAt > STABLE_MS ? 1 : failures + 1;
      const delay = Math.min(MAX_RESTART_DELAY_MS, 1_000 * 2 ** (failures - 1));
      options.log(`the local bridge exited (${signal ?? code}); restarting it in ${Math.round(delay / 1000)} s`);
      restartTimer = setTimeout(launch, delay);
    });
  };
  launch();

  return {
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
      const proc = child;
      if (!proc?.pid || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      // Draining plus closing its sockets; past that, SIGKILL (the next start ends its desktops).
      const timer = setTimeout(() => proc.kill("SIGKILL"), DRAIN_TIMEOUT_MS + 7_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The bridge's state folder inside npm start's data folder. */
export function localBridgeStateDir(dataDir: string): string {
  return join(dataDir, "bridge");
}
