/**
 * End-to-end helpers for the `local` driver's desktops: a real `node node-bridge/main.ts` child
 * process pointed at a stack, and the machine's process table read from /proc, so a test sees the
 * Xvfb and x11vnc processes a bridge left running on its X displays (what a user's machine would
 * be left with), independently of what the bridge reports.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { findExecutable } from "../../node-bridge/drivers/local-processes.ts";

const root = resolve(new URL("../..", import.meta.url).pathname);

/**
 * The paths of the Debian programs a real-desktop test needs. A real desktop is part of what those
 * tests prove, so a missing program fails them (with the install line), never skips them.
 */
export async function requirePrograms(...names: string[]): Promise<string[]> {
  const paths = await Promise.all(names.map((n) => findExecutable(n)));
  const missing = names.filter((_, i) => !paths[i]);
  if (missing.length > 0) {
    throw new Error(`${missing.join(", ")} required: apt-get install -y xvfb x11vnc x11-xserver-utils xterm (.ci/run installs them)`);
  }
  return paths as string[];
}

export interface DisplayRange {
  first: number;
  last: number;
}

export interface DesktopProcess {
  pid: number;
  program: string;
  display: number;
  cmdline: string[];
}

/** The display a desktop program serves, from its arguments (`Xvfb :N …`, `x11vnc -display :N …`). */
function displayOf(args: string[]): number | undefined {
  const i = args.indexOf("-display");
  const spec = i >= 0 ? args[i + 1] : args.find((a) => /^:\d+$/.test(a));
  const m = spec ? /^:(\d+)$/.exec(spec) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * Live processes serving an X display in `range`: Xvfb and x11vnc, and any launcher script
 * (`sh <dir>/x11vnc …`) that will exec one.
 */
export function desktopProcesses(range: DisplayRange): DesktopProcess[] {
  const found: DesktopProcess[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string[];
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      // A zombie has an empty cmdline and is no longer running anything.
      if (readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]?.startsWith("Z")) continue;
    } catch {
      continue; // exited while we looked
    }
    const names = cmdline.slice(0, 2).map((a) => a.split("/").pop() ?? "");
    const program = names.find((n) => n === "Xvfb" || n === "x11vnc");
    if (!program) continue;
    const display = displayOf(cmdline);
    if (display === undefined || display < range.first || display > range.last) continue;
    found.push({ pid: Number(entry), program, display, cmdline });
  }
  return found;
}

/** SIGKILLs whatever still serves a display in `range` (test clean-up). */
export function killDesktopProcesses(range: DisplayRange): void {
  for (const p of desktopProcesses(range)) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

export interface BridgeProcessOptions {
  atriumUrl: string;
  bridgeId: string;
  token: string;
  stateDir: string;
  displays: DisplayRange;
  /** folders put before PATH (e.g. launchers that stand in front of the real programs) */
  pathPrefix?: string;
}

/** A node-bridge child process; `lines` are its JSON log records. */
export interface BridgeProcess {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  output(): string;
  exited: Promise<void>;
  /** SIGKILL: no drain, no clean-up, as when the machine's OOM killer strikes. */
  kill(): Promise<void>;
  /** SIGTERM (drain) with a SIGKILL fallback. */
  stop(): Promise<void>;
}

export function startBridgeProcess(options: BridgeProcessOptions): BridgeProcess {
  const child = spawn(process.execPath, ["node-bridge/main.ts"], {
    cwd: root,
    env: {
      PATH: `${options.pathPrefix ? `${options.pathPrefix}:` : ""}${process.env.PATH ?? ""}`,
      HOME: options.stateDir,
      ATRIUM_URL: options.atriumUrl,
      BRIDGE_ID: options.bridgeId,
      BRIDGE_TOKEN: options.token,
      BRIDGE_PLATFORM: "local",
      BRIDGE_REGION: "test",
      BRIDGE_STATE_DIR: options.stateDir,
      BRIDGE_LOG_LEVEL: "info",
      BRIDGE_DRAIN_TIMEOUT_MS: "5000",
      LOCAL_DISPLAY_RANGE: `${options.displays.first}-${options.displays.last}`,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  const lines: Record<string, unknown>[] = [];
  let partial = "";
  const onData = (d: Buffer) => {
    text += d.toString();
    partial += d.toString();
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log record
      }
    }
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r();
    else child.once("exit", () => r());
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    lines,
    output: () => text,
    exited,
    async kill() {
      if (alive()) child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (!alive()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
