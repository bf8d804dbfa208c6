/**
 * Process plumbing for the local driver: finding binaries on PATH, spawning each program in its
 * own process group (so stopping a desktop also takes down whatever it forked), waiting for a
 * readiness line on stdout, and terminating a group with a SIGKILL fallback; and the pieces of a
 * desktop's own unprivileged account: ending every process of its uid, removing what it left in
 * the shared temporary folders, its X authority file.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { access, lstat, readdir, readFile, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { delimiter, join } from "node:path";

/** The uid and gid a desktop's programs run as (a bridge running as root picks one per desktop). */
export interface Account {
  uid: number;
  gid: number;
}

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

export interface SpawnAs {
  /** run as this uid/gid (libuv also drops the supplementary groups) */
  account?: Account | undefined;
  cwd?: string;
}

/**
 * Spawns `file` as the leader of a new process group, stdin closed, stdout/stderr piped, with
 * exactly `env` (never the bridge's own environment merged in).
 */
export function spawnGroup(file: string, args: readonly string[], env: NodeJS.ProcessEnv, as: SpawnAs = {}): SpawnedProgram {
  const child = spawn(file, args, {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    ...(as.account && { uid: as.account.uid, gid: as.account.gid }),
    ...(as.cwd && { cwd: as.cwd }),
  });
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

/**
 * kill(-1) signals every process the caller may signal — for a caller running as a desktop's own
 * uid that is exactly that desktop's processes, including any that left their process group
 * (`setsid`, a double fork) — and never the caller itself. The shell's builtin: /bin/sh is there
 * and runnable by any user, which the bridge's own Node (maybe under a 0700 home) need not be.
 */
const KILL_ALL_OF_MY_UID = ["/bin/sh", ["-c", "kill -KILL -1"]] as const;

/** Ends every process running as `account` (a dedicated desktop uid, never the bridge's own). */
export async function killAccount(account: Account): Promise<void> {
  assertForeign(account);
  const child = spawn(KILL_ALL_OF_MY_UID[0], KILL_ALL_OF_MY_UID[1], {
    uid: account.uid,
    gid: account.gid,
    cwd: "/",
    env: {},
    stdio: "ignore",
  });
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
}

/** `killAccount` for exit hooks, which cannot wait for anything asynchronous. */
export function killAccountSync(account: Account): void {
  assertForeign(account);
  spawnSync(KILL_ALL_OF_MY_UID[0], KILL_ALL_OF_MY_UID[1], { uid: account.uid, gid: account.gid, cwd: "/", env: {}, stdio: "ignore" });
}

function assertForeign(account: Account): void {
  // kill(-1) as the bridge's own user would take down everything that user runs.
  if (account.uid === 0 || account.uid === process.getuid?.()) throw new Error(`uid ${account.uid} is not a desktop's own uid`);
}

/** The world-writable folders a desktop's user can leave files in, besides its home. */
const SHARED_DIRS = ["/tmp", "/var/tmp", "/dev/shm", "/tmp/.X11-unix", "/tmp/.ICE-unix"];

/**
 * Removes what `uid` left directly in the shared temporary folders, so the next desktop that gets
 * the same uid cannot read it. Call only once no process of `uid` runs (nothing can race it then).
 */
export async function removeFilesOwnedBy(uid: number, dirs: readonly string[] = SHARED_DIRS): Promise<void> {
  for (const dir of dirs) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        // lstat: a symlink is removed itself, never followed.
        if ((await lstat(path)).uid === uid) await rm(path, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
    }
  }
}

/** The contents of an X authority file with one MIT-MAGIC-COOKIE-1 for display `:display`, any host. */
export function xauthorityFile(display: number, cookie: Buffer = randomBytes(16)): Buffer {
  const field = (data: Buffer) => {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(data.length, 0);
    return Buffer.concat([length, data]);
  };
  const familyWild = Buffer.of(0xff, 0xff);
  return Buffer.concat([
    familyWild,
    field(Buffer.alloc(0)),
    field(Buffer.from(String(display))),
    field(Buffer.from("MIT-MAGIC-COOKIE-1")),
    field(cookie),
  ]);
}
