/**
 * The Worker under test, two ways:
 *  - on workerd's own port: the Worker bundled exactly as `wrangler deploy` would upload it
 *    (`wrangler deploy --dry-run --outdir`), run by Miniflare (the library inside wrangler dev)
 *    with the compatibility settings and Durable Objects of wrangler.toml, reached through a
 *    workerd socket bound straight to the Worker (`unsafeDirectSockets`): no proxy process and
 *    not even Miniflare's entry worker in front (the runner checks which process owns the port).
 *  - through `wrangler dev`'s port, as `npm start` runs it (wrangler's node process plus two
 *    workerd processes; the one owning the port fronts the Worker).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import {
  binDir,
  type Child,
  type Cleanup,
  childEnv,
  descendants,
  freePort,
  portOwner,
  type PortOwner,
  root,
  spawnChild,
  waitForHttp,
} from "./processes.ts";

export interface WorkerTarget {
  baseUrl: string;
  port: number;
  owner: PortOwner | undefined;
  /** the processes doing the work (for CPU accounting) */
  pids: () => number[];
  /** the DevTools inspector (http://…) and, for the bundle run by Miniflare, its source map */
  inspector?: { http: string; sourceMap?: string };
}

/** A fresh temporary folder, removed at cleanup. */
/** A temporary folder, removed by `cleanup`. */
export function tempDir(cleanup: Cleanup, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** wrangler dev and deploy refuse a missing assets folder: use an empty one until the site is built. */
function assetsArgs(cleanup: Cleanup): string[] {
  if (existsSync(join(root, "site/dist"))) return [];
  const empty = tempDir(cleanup, "atrium-bench-assets-");
  mkdirSync(empty, { recursive: true });
  return ["--assets", empty];
}

async function bundleWorker(cleanup: Cleanup): Promise<string> {
  const outDir = tempDir(cleanup, "atrium-bench-bundle-");
  const build = spawnChild(join(binDir, "wrangler"), ["deploy", "--dry-run", "--outdir", outDir, ...assetsArgs(cleanup)], {
    env: childEnv(),
  });
  const code = await new Promise<number | null>((r) => build.proc.once("exit", r));
  if (code !== 0) throw new Error(`wrangler deploy --dry-run failed (${code}):\n${build.output()}`);
  return join(outDir, "index.js");
}

/**
 * Miniflare's exit hook answers SIGINT/SIGTERM/SIGHUP by killing workerd and exiting at once, which
 * would leave the other processes and the temporary database behind. The runner (bench.ts) handles
 * those signals itself and disposes Miniflare in its cleanup, so take Miniflare's handlers off.
 */
function leaveSignalsToTheRunner(): void {
  const theirs: Record<string, string> = { SIGINT: "onSignalInt", SIGTERM: "onSignalTerm", SIGHUP: "onSignalHup" };
  for (const [signal, name] of Object.entries(theirs)) {
    for (const listener of process.listeners(signal as NodeJS.Signals)) {
      if (listener.name === name) process.removeListener(signal, listener);
    }
  }
}

/** The bundled Worker in Miniflare, on workerd's own socket. */
export async function startWorkerdOwnPort(
  vars: Record<string, string>,
  cleanup: Cleanup,
  probePath: string,
  opts: { inspect?: boolean } = {},
): Promise<WorkerTarget> {
  const scriptPath = await bundleWorker(cleanup);
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(root, "wrangler.toml"));
  const port = await freePort();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: await freePort(),
      log: new Log(LogLevel.WARN),
      modules: true,
      modulesRoot: dirname(scriptPath),
      scriptPath,
      cf: false,
      compatibilityDate: workerOptions.compatibilityDate as string,
      compatibilityFlags: workerOptions.compatibilityFlags as string[],
      bindings: { ...(workerOptions.bindings as Record<string, string> | undefined), ...vars },
      durableObjects: workerOptions.durableObjects as Record<string, { className: string; useSQLite?: boolean }>,
      // a socket of workerd's bound straight to the Worker, skipping Miniflare's entry worker too
      unsafeDirectSockets: [{ host: "127.0.0.1", port }],
      ...(opts.inspect && { inspectorPort: await freePort() }),
    }),
  );
  cleanup.add("miniflare", () => mf.dispose());
  leaveSignalsToTheRunner();
  await mf.ready;
  const url = await mf.unsafeGetDirectURL();
  const baseUrl = `http://127.0.0.1:${url.port}`;
  await waitForHttp(`${baseUrl}${probePath}`, { timeoutMs: 30_000 });
  const owner = portOwner(Number(url.port));
  const inspector = opts.inspect
    ? { http: (await mf.getInspectorURL()).href.replace(/^ws:/, "http:").replace(/\/$/, ""), sourceMap: `${scriptPath}.map` }
    : undefined;
  return { baseUrl, port: Number(url.port), owner, pids: () => (owner ? [owner.pid] : []), ...(inspector && { inspector }) };
}

/**
 * `wrangler dev` on free ports (its own and its inspector's), state kept in `dir`, quiet, stopped
 * by `cleanup`; `args` add to or override its configuration (e.g. `--config`, `--env-file`).
 */
export async function spawnWranglerDev(
  cleanup: Cleanup,
  label: string,
  dir: string,
  args: string[],
): Promise<{ child: Child; port: number; inspectorPort: number }> {
  const port = await freePort();
  const inspectorPort = await freePort();
  const child = spawnChild(
    join(binDir, "wrangler"),
    [
      "dev",
      ...args,
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--inspector-ip",
      "127.0.0.1",
      "--persist-to",
      join(dir, "state"),
      "--show-interactive-dev-session=false",
      "--log-level",
      "warn",
    ],
    { env: childEnv() },
  );
  cleanup.add(label, () => child.stop());
  return { child, port, inspectorPort };
}

/** `wrangler dev` with the same variables, as `npm start` runs it. */
export async function startWranglerDev(vars: Record<string, string>, cleanup: Cleanup, probePath: string): Promise<WorkerTarget> {
  const dir = tempDir(cleanup, "atrium-bench-wrangler-");
  const envFile = join(dir, "worker.env");
  writeFileSync(
    envFile,
    `${Object.entries(vars)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join("\n")}\n`,
    { mode: 0o600 },
  );
  const { child, port, inspectorPort } = await spawnWranglerDev(cleanup, "wrangler dev", dir, [
    "--env-file",
    envFile,
    ...assetsArgs(cleanup),
  ]);
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitForHttp(`${baseUrl}${probePath}`, { timeoutMs: 60_000, child });
  const pid = child.proc.pid;
  return {
    baseUrl,
    port,
    owner: portOwner(port),
    pids: () => (pid ? [pid, ...descendants(pid)] : []),
    inspector: { http: `http://127.0.0.1:${inspectorPort}` },
  };
}
