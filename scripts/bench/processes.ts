/**
 * Process plumbing for the benchmarks: free ports, child processes in their own process group,
 * waiting for HTTP readiness, finding which process owns a listening port, and a cleanup stack
 * that stops everything a section started, in reverse order, even when the section fails.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";

export const root = resolve(new URL("../..", import.meta.url).pathname);
export const binDir = resolve(root, "node_modules/.bin");

/** Environment for children: the project's Node 24 first on PATH, wrangler's telemetry and tracing off. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${binDir}:${process.env.PATH ?? ""}`,
    X_LOCAL_OBSERVABILITY: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_SEND_METRICS: "false",
    ...extra,
  };
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? res(addr.port) : rej(new Error("no port"))));
    });
  });
}

/** Things to undo, last in first out. `run` is idempotent: concurrent callers share one pass. */
export class Cleanup {
  private readonly steps: { label: string; fn: () => Promise<void> | void }[] = [];
  private running: Promise<void> | undefined;
  add(label: string, fn: () => Promise<void> | void): void {
    this.steps.push({ label, fn });
  }
  run(): Promise<void> {
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }
  private async drain(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step.fn();
      } catch (e: unknown) {
        console.error(`[bench] cleanup "${step.label}" failed:`, e instanceof Error ? e.message : e);
      }
    }
  }
}

export interface Child {
  proc: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Process groups of the children still running: killed on any exit of the bench, however abrupt. */
const liveGroups = new Set<number>();
process.on("exit", () => {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** Spawns a command in its own process group, keeping the last 64 KiB of its output. */
export function spawnChild(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; echo?: boolean } = {}): Child {
  const proc = spawn(cmd, args, { cwd: opts.cwd ?? root, env: opts.env ?? childEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true });
  const pgid = proc.pid;
  if (pgid) {
    liveGroups.add(pgid);
    proc.once("exit", () => liveGroups.delete(pgid));
  }
  let out = "";
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-65536);
    if (opts.echo) process.stderr.write(d);
  };
  proc.stdout?.on("data", keep);
  proc.stderr?.on("data", keep);
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null || !proc.pid) return;
    const exited = new Promise((r) => proc.once("exit", r));
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        if (proc.pid) process.kill(-proc.pid, signal);
      } catch {
        proc.kill(signal);
      }
    };
    signalGroup("SIGTERM");
    const timer = new Promise((r) => setTimeout(r, 5_000));
    if ((await Promise.race([exited.then(() => "exited"), timer])) !== "exited") {
      signalGroup("SIGKILL");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
    }
  };
  return { proc, output: () => out, stop };
}

/** Polls until `url` answers with a status below 500 (or `accept`). */
export async function waitForHttp(url: string, opts: { timeoutMs: number; child?: Child; init?: RequestInit }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (opts.child && (opts.child.proc.exitCode !== null || opts.child.proc.signalCode !== null)) {
      throw new Error(
        `process exited (${opts.child.proc.exitCode ?? opts.child.proc.signalCode}) before ${url} answered:\n${opts.child.output()}`,
      );
    }
    try {
      const res = await fetch(url, { ...opts.init, signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
      last = `HTTP ${res.status}`;
    } catch (e: unknown) {
      last = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${opts.timeoutMs} ms (${last})${opts.child ? `:\n${opts.child.output()}` : ""}`);
}

export interface PortOwner {
  pid: number;
  command: string;
}

/** The process listening on 127.0.0.1:port, from `ss -ltnp`. */
export function portOwner(port: number): PortOwner | undefined {
  try {
    const out = execFileSync("ss", ["-Hltnp", `sport = :${port}`], { encoding: "utf8" });
    const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(out);
    if (!m?.[1] || !m[2]) return undefined;
    const pid = Number(m[2]);
    let command = m[1];
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).slice(0, 3).join(" ");
    } catch {
      // keep the short name
    }
    return { pid, command };
  } catch {
    return undefined;
  }
}

/** Processes whose parent is `pid`, recursively (from /proc). */
export function descendants(pid: number): number[] {
  try {
    const out = execFileSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" });
    const children = new Map<number, number[]>();
    for (const line of out.trim().split("\n")) {
      const [p, pp] = line.trim().split(/\s+/).map(Number);
      if (p === undefined || pp === undefined) continue;
      children.set(pp, [...(children.get(pp) ?? []), p]);
    }
    const result: number[] = [];
    const queue = [pid];
    while (queue.length) {
      const next = queue.shift();
      if (next === undefined) break;
      for (const c of children.get(next) ?? []) {
        result.push(c);
        queue.push(c);
      }
    }
    return result;
  } catch {
    return [];
  }
}
