/**
 * Process plumbing for the local driver: finding binaries on PATH, spawning each program in its
 * own process group (so stopping a desktop also takes down whatever it forked), waiting for a
 * readiness line on stdout, and terminating a group with a SIGKILL fallback.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { delimiter, join } from "node:path";

/** Absolute path of `name` on PATH, or undefined. */
export async function findExecutable(name: string, path = process.env.PATH ?? ""): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

export interface SpawnedProgram {
  child: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last few KiB of stderr, for failure messages. */
  stderrTail(): string;
}

/** Spawns `file` as the leader of a new process group, stdin closed, stdout/stderr piped. */
export function spawnGroup(file: string, args: readonly string[], env: NodeJS.ProcessEnv): SpawnedProgram {
  const child = spawn(file, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let tail = "";
  child.stderr?.on("data", (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4096);
  });
  // Unread stdout would eventually block a chatty program on a full pipe.
  child.stdout?.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", () => resolve({ code: null, signal: null }));
  });
  return { child, exited, stderrTail: () => tail.trim() };
}

/**
 * Resolves with the first stdout line matching `pattern`; rejects if the program exits first or
 * `timeoutMs` passes.
 */
export function waitForLine(program: SpawnedProgram, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    const cleanup = () => {
      clearTimeout(timer);
      program.child.stdout?.off("data", onData);
    };
    const onData = (d: Buffer) => {
      buffer += d.toString();
      for (const line of buffer.split("\n")) {
        const m = pattern.exec(line);
        if (m) {
          cleanup();
          resolve(m);
          return;
        }
      }
      buffer = buffer.slice(buffer.lastIndexOf("\n") + 1);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no "${pattern.source}" within ${timeoutMs} ms; stderr: ${program.stderrTail().slice(-500)}`));
    }, timeoutMs);
    program.child.stdout?.on("data", onData);
    program.exited.then(({ code, signal }) => {
      cleanup();
      reject(new Error(`exited (${signal ?? code}) before it was ready; stderr: ${program.stderrTail().slice(-500)}`));
    });
  });
}

/** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves once the leader has exited. */
export async function killGroup(program: SpawnedProgram, graceMs = 3_000): Promise<void> {
  const pid = program.child.pid;
  if (pid === undefined || program.child.exitCode !== null || program.child.signalCode !== null) {
    signalGroup(pid, "SIGKILL"); // stragglers the leader left behind
    return;
  }
  signalGroup(pid, "SIGTERM");
  const timer = setTimeout(() => signalGroup(pid, "SIGKILL"), graceMs);
  await program.exited;
  clearTimeout(timer);
  signalGroup(pid, "SIGKILL");
}

/** Signals a process group by its leader's pid; a group that is already gone is fine. */
export function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: nothing left in the group
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago (the caller retries if it is taken meanwhile). */
export function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Whether X display `:n` is taken: a live lock file or a socket that accepts connections. A
 * socket file left by a killed server (nobody listening) does not count, so displays don't leak.
 */
export async function displayInUse(display: number): Promise<boolean> {
  try {
    const pid = Number.parseInt(await readFile(`/tmp/.X${display}-lock`, "utf8"), 10);
    if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) return true;
  } catch {
    // no lock file
  }
  return new Promise((resolve) => {
    const socket = connect(`/tmp/.X11-unix/X${display}`);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The program name of a live process (from /proc), or undefined. */
export async function processName(pid: number): Promise<string | undefined> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8");
    return cmdline.split("\0")[0]?.split("/").pop();
  } catch {
    return undefined;
  }
}
