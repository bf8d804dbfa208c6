/**
 * Starts `npm start`'s stack (scripts/start.ts) as a child process for end-to-end tests and
 * benchmarks: a fresh data folder, a free port, and the printed URL and one-time admin password.
 * The local node-bridge comes up with it (when Xvfb and x11vnc are installed) unless
 * `localBridge: false`: tests that drive their own bridge process turn it off.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(new URL("../..", import.meta.url).pathname);

export interface Stack {
  url: string;
  port: number;
  /** the stack's data folder (removed by `stop`) */
  dataDir: string;
  adminPassword: string | undefined;
  output: () => string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? res(addr.port) : rej(new Error("no port"))));
    });
  });
}

export interface StartStackOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Run npm start's local node-bridge (default: as npm start does, i.e. yes). */
  localBridge?: boolean;
}

export async function startStack(options: StartStackOptions = {}): Promise<Stack> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "atrium-stack-"));
  const built = existsSync(join(root, "site/dist/index.html"));
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    ATRIUM_DATA_DIR: dataDir,
    ...(options.localBridge !== undefined && { ATRIUM_LOCAL_BRIDGE: String(options.localBridge) }),
    ...options.env,
  };
  if (!options.env?.DATABASE_URL) delete env.DATABASE_URL;
  const child: ChildProcess = spawn(join(root, "node_modules/.bin/node"), ["scripts/start.ts", ...(built ? ["--no-build"] : [])], {
    cwd: root,
    env: { ...env, PATH: `${join(root, "node_modules/.bin")}:${process.env.PATH ?? ""}` },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });

  const ready = await new Promise<boolean>((res) => {
    const timer = setTimeout(() => res(false), options.timeoutMs ?? 120_000);
    const check = () => {
      if (/Atrium is running at/.test(out)) {
        clearTimeout(timer);
        setTimeout(() => res(true), 100); // let the admin lines arrive
      }
    };
    child.stdout?.on("data", check);
    child.on("exit", () => {
      clearTimeout(timer);
      res(false);
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((r) => child.once("exit", r));
      try {
        process.kill(-child.pid, "SIGINT");
      } catch {
        child.kill("SIGINT");
      }
      // npm start drains its local bridge (bounded at ~12 s) before it stops wrangler.
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  if (!ready) {
    await stop();
    throw new Error(`npm start did not come up:\n${out}`);
  }
  const password = /one-time password: (\S+)/.exec(out)?.[1];
  return { url: `http://localhost:${port}`, port, dataDir, adminPassword: password, output: () => out, stop };
}
