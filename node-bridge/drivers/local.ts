/**
 * Desktops as processes on the bridge's own machine, for `npm start` and for trying Atrium out:
 * per session an `Xvfb` X server on a display from the configured range and an `x11vnc` serving
 * it on a free 127.0.0.1 port, each in its own process group. The root window gets a solid colour
 * (`xsetroot`) and, when installed, an `xterm` or `xclock` is started, so a screenshot is never a
 * blank frame. The template's image is not used: every session is the same bare X desktop.
 *
 * Processes don't survive the bridge, so there is nothing to hibernate (HIBERNATE_UNSUPPORTED) and
 * `list()` is this driver's own process table. Desktops whose X server or VNC server dies are
 * reported `failed` until stopped.
 *
 * A desktop is a shell on this machine, so it runs as nobody who matters:
 * - a bridge running as root runs all of a desktop's programs (Xvfb, x11vnc, xterm…) as a uid and
 *   gid of their own, `uidBase + display`, with no supplementary groups. That user cannot read
 *   the bridge's files (its data folder is 0700, its secrets 0600), nor another desktop's home or
 *   X cookie, nor signal its processes. Everything that uid runs is killed when the desktop
 *   starts and stops (even processes that left their process group), and what it left in the
 *   shared temporary folders is removed, so the next desktop on that uid starts clean;
 * - a bridge that is not root cannot switch users: it refuses (LOCAL_DESKTOP_NEEDS_ROOT) unless
 *   `LOCAL_DESKTOP_SAME_USER=true` says that desktops may run as the bridge's own user;
 * - either way programs get a scrubbed environment (DISPLAY, HOME, PATH, LANG, TERM, XAUTHORITY:
 *   never the bridge's variables, its token among them) and a fresh private home (0700) that is
 *   deleted at stop;
 * - the X server only admits clients holding the desktop's random MIT cookie (`-auth`), and
 *   x11vnc requires a random per-desktop VNC password (read from a file it deletes at once), which
 *   only the bridge knows: its relay logs in for the viewer (rfb-handshake.ts).
 */
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { randomInt } from "node:crypto";
import { z } from "zod";
import type { ReportedSession, StartPayload } from "../../durable-objects/bridge/protocol.ts";
import type { LocalSettings } from "../config.ts";
import { BridgeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { DesktopDriver, SessionStateListener, VncEndpoint } from "./driver.ts";
import { JsonFileWriter, readJsonFile } from "../json-file.ts";
import {
  type Account,
  displayInUse,
  findExecutable,
  freeLocalPort,
  killAccount,
  killAccountSync,
  killGroup,
  processAlive,
  processName,
  removeFilesOwnedBy,
  type SpawnedProgram,
  signalGroup,
  spawnGroup,
  waitForLine,
  xauthorityFile,
} from "./local-processes.ts";

export interface LocalDriverOptions {
  settings: LocalSettings;
  log: Logger;
  /** PATH used to find Xvfb, x11vnc and the optional helpers (tests can hide them). */
  path?: string;
  /** How long Xvfb and x11vnc each get to report ready (ms). */
  readyTimeoutMs?: number;
  /** Root window colour. */
  background?: string;
  /**
   * Where the process groups of running desktops are recorded, so a bridge restarted after a
   * crash or SIGKILL (no exit hook runs then) can end the desktops its predecessor left behind.
   */
  stateFile?: string;
  /** Folder the desktops' private homes are made in (default: the system's temporary folder). */
  homeRoot?: string;
  /**
   * The bridge's own uid (default `process.getuid()`); only 0 lets desktops run as users of
   * their own. Tests pass a non-zero one to see how a bridge that is not root behaves.
   */
  bridgeUid?: number;
}

const OWNED_PROGRAMS = new Set(["Xvfb", "x11vnc", "xterm", "xclock", "xsetroot"]);
const HOME_PREFIX = "atrium-desktop-";
const StateFileSchema = z.object({
  version: z.literal(1),
  desktops: z.array(
    z.object({
      sessionId: z.string(),
      pids: z.array(z.number().int().positive()),
      uid: z.number().int().positive().optional(),
      home: z.string().optional(),
    }),
  ),
});

/** What a desktop holds on this machine, recorded from the moment it exists. */
interface Placement {
  programs: SpawnedProgram[];
  /** its own uid/gid; unset when it runs as the bridge's user (LOCAL_DESKTOP_SAME_USER) */
  account?: Account | undefined;
  /** its private home (0700), deleted at stop */
  home?: string | undefined;
}

interface LocalDesktop extends Placement {
  sessionId: string;
  display: number;
  vncPort: number;
  vncPassword: string;
  state: ReportedSession["state"];
  detail?: string;
  stopping: boolean;
}

/** A desktop being prepared on one display: its home, X cookie and environment. */
interface Seat {
  display: number;
  account: Account | undefined;
  home: string;
  xauthority: string;
  env: NodeJS.ProcessEnv;
}

const SESSION_PATH = "/usr/local/bin:/usr/bin:/bin";
const PASSWORD_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Records a just-spawned program of a starting desktop; the returned function forgets it again. */
type Track = (program: SpawnedProgram) => Promise<() => void>;

const NEEDS_ROOT =
  "local desktops give a shell on this machine, and this bridge is not root so it cannot run them as a user of their own; run the bridge as root, or set LOCAL_DESKTOP_SAME_USER=true to let desktops run as the bridge's own user (only for a machine whose users may all have that user's rights)";
const MISSING_PACKAGES =
  "the local driver needs Xvfb and x11vnc on PATH (Debian/Ubuntu: apt-get install xvfb x11vnc; x11-xserver-utils adds a coloured background, xterm a terminal)";

export class LocalDriver implements DesktopDriver {
  readonly platform = "local" as const;
  readonly canHibernate = false;
  readonly #settings: LocalSettings;
  readonly #log: Logger;
  readonly #path: string;
  readonly #readyTimeoutMs: number;
  readonly #background: string;
  readonly #desktops = new Map<string, LocalDesktop>();
  readonly #starting = new Map<string, Promise<void>>();
  /**
   * Programs of desktops still starting, recorded in the state file as soon as each is spawned:
   * a bridge killed mid-start would otherwise leave them running where no successor looks.
   */
  readonly #launching = new Map<string, Placement>();
  readonly #displaysInUse = new Set<number>();
  readonly #listeners: SessionStateListener[] = [];
  readonly #onExit = () => this.#killAllNow();
  readonly #stateFile: string | undefined;
  readonly #writer: JsonFileWriter | undefined;
  readonly #homeRoot: string;
  readonly #bridgeUid: number;

  constructor(options: LocalDriverOptions) {
    this.#settings = options.settings;
    this.#log = options.log;
    this.#path = options.path ?? process.env.PATH ?? "";
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
    this.#background = options.background ?? "#2f4f6f";
    this.#stateFile = options.stateFile;
    this.#writer = options.stateFile ? new JsonFileWriter(options.stateFile) : undefined;
    this.#homeRoot = options.homeRoot ?? tmpdir();
    this.#bridgeUid = options.bridgeUid ?? process.getuid?.() ?? -1;
    // Desktops must not outlive the bridge, even when it exits without running close().
    process.on("exit", this.#onExit);
  }

  /**
   * Ends desktops a previous bridge process left running (it was killed without cleaning up).
   * Only pids that still run one of this driver's programs are signalled: a recycled pid is left alone.
   */
  async cleanupOrphans(): Promise<void> {
    if (!this.#stateFile) return;
    const saved = await readJsonFile(this.#stateFile, StateFileSchema, this.#log);
    const orphans: number[] = [];
    for (const pid of saved?.desktops.flatMap((d) => d.pids) ?? []) {
      if (processAlive(pid) && OWNED_PROGRAMS.has((await processName(pid)) ?? "")) orphans.push(pid);
    }
    // SIGTERM first so Xvfb removes its display socket; SIGKILL whatever is left after a moment.
    for (const pid of orphans) signalGroup(pid, "SIGTERM");
    for (let i = 0; i < 20 && orphans.some(processAlive); i++) await new Promise((r) => setTimeout(r, 100));
    for (const pid of orphans) signalGroup(pid, "SIGKILL");
    const ended = orphans.length;
    if (ended > 0) this.#log.warn("ended desktop processes left by a previous bridge", { processes: ended });
    for (const d of saved?.desktops ?? []) {
      const account = d.uid !== undefined && this.#privileged ? { uid: d.uid, gid: d.uid } : undefined;
      await this.#release({ programs: [], account, home: d.home && this.#isOwnHome(d.home) ? d.home : undefined });
    }
    await this.#persist();
  }

  async list(): Promise<ReportedSession[]> {
    return [...this.#desktops.values()].map((d) =>
      d.detail ? { sessionId: d.sessionId, state: d.state, detail: d.detail } : { sessionId: d.sessionId, state: d.state },
    );
  }

  onSessionState(listener: SessionStateListener): void {
    this.#listeners.push(listener);
  }

  async start(payload: StartPayload): Promise<void> {
    const existing = this.#desktops.get(payload.sessionId);
    if (existing?.state === "running") return;
    if (existing) await this.stop(payload.sessionId); // a failed one is replaced
    const pending = this.#starting.get(payload.sessionId);
    if (pending) return pending;
    const starting = this.#start(payload).finally(() => this.#starting.delete(payload.sessionId));
    this.#starting.set(payload.sessionId, starting);
    return starting;
  }

  /** Nothing was kept, so waking is starting a fresh desktop. */
  wake(payload: StartPayload): Promise<void> {
    return this.start(payload);
  }

  async hibernate(sessionId: string): Promise<void> {
    throw new BridgeError("HIBERNATE_UNSUPPORTED", `local desktops cannot hibernate (session ${sessionId}); stop it instead`);
  }

  async stop(sessionId: string): Promise<void> {
    await this.#starting.get(sessionId)?.catch(() => {});
    const desktop = this.#desktops.get(sessionId);
    if (!desktop) return;
    desktop.stopping = true;
    await Promise.all(desktop.programs.map((p) => killGroup(p)));
    await this.#release(desktop);
    this.#desktops.delete(sessionId);
    this.#displaysInUse.delete(desktop.display);
    await this.#persist();
    this.#log.info("local desktop stopped", { sessionId, display: desktop.display });
  }

  async vncEndpoint(sessionId: string): Promise<VncEndpoint> {
    await this.#starting.get(sessionId);
    const desktop = this.#desktops.get(sessionId);
    if (desktop?.state !== "running") throw new BridgeError("SESSION_NOT_FOUND", `no running local desktop for session ${sessionId}`);
    return { host: "127.0.0.1", port: desktop.vncPort, auth: { type: "vnc", password: desktop.vncPassword } };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#desktops.keys()].map((id) => this.stop(id)));
    process.off("exit", this.#onExit);
  }

  /** Whether desktops run as users of their own (the bridge is root). */
  get #privileged(): boolean {
    return this.#bridgeUid === 0;
  }

  /** Process ids of a session's programs (tests check they are gone after stop). */
  pids(sessionId: string): number[] {
    return (this.#desktops.get(sessionId)?.programs ?? []).flatMap((p) => (p.child.pid === undefined ? [] : [p.child.pid]));
  }

  async #start(payload: StartPayload): Promise<void> {
    const [xvfb, x11vnc] = await Promise.all([findExecutable("Xvfb", this.#path), findExecutable("x11vnc", this.#path)]);
    if (!xvfb || !x11vnc) throw new BridgeError("LOCAL_DESKTOP_UNAVAILABLE", MISSING_PACKAGES);
    if (!this.#privileged && !this.#settings.sameUser) throw new BridgeError("LOCAL_DESKTOP_NEEDS_ROOT", NEEDS_ROOT);

    // Everything spawned and made so far, so a failure half-way leaves no orphans.
    const placement: Placement = { programs: [] };
    const spawned = placement.programs;
    this.#launching.set(payload.sessionId, placement);
    const track: Track = async (program) => {
      spawned.push(program);
      await this.#persist();
      return () => {
        const i = spawned.indexOf(program);
        if (i >= 0) spawned.splice(i, 1);
      };
    };
    let display: number | undefined;
    try {
      const xserver = await this.#startXServer(xvfb, payload, placement, track);
      const seat = xserver.seat;
      display = seat.display;
      await this.#paintRoot(seat);
      const vncPassword = randomPassword();
      const vnc = await this.#startVnc(x11vnc, seat, vncPassword, track);
      // Only now the user's programs: the VNC password file is gone before any of them runs.
      const helpers = await this.#startHelpers(seat);
      for (const helper of helpers) await track(helper);
      const desktop: LocalDesktop = {
        ...placement,
        programs: spawned,
        sessionId: payload.sessionId,
        display,
        vncPort: vnc.port,
        vncPassword,
        state: "running",
        stopping: false,
      };
      this.#desktops.set(payload.sessionId, desktop);
      this.#launching.delete(payload.sessionId);
      await this.#persist();
      // Helpers (xterm, xclock) may exit on their own; only the X and VNC servers matter.
      for (const p of [xserver.program, vnc.program]) p.exited.then(({ code, signal }) => this.#onProgramExit(desktop, p, code, signal));
      this.#log.info("local desktop running", {
        sessionId: payload.sessionId,
        display,
        vncPort: vnc.port,
        uid: seat.account?.uid ?? this.#bridgeUid,
      });
    } catch (e: unknown) {
      await Promise.all(spawned.map((p) => killGroup(p, 500)));
      await this.#release(placement);
      if (display !== undefined) this.#displaysInUse.delete(display);
      this.#launching.delete(payload.sessionId);
      await this.#persist();
      if (e instanceof BridgeError) throw e;
      throw new BridgeError(
        "DESKTOP_START_FAILED",
        `local desktop for session ${payload.sessionId} did not start: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /**
   * A display's account, private home and X cookie. The home is made by the bridge and handed
   * to the account (0700), so nobody else can read the cookie in it.
   */
  async #prepareSeat(display: number, placement: Placement): Promise<Seat> {
    const account = this.#privileged ? { uid: this.#settings.uidBase + display, gid: this.#settings.uidBase + display } : undefined;
    placement.account = account;
    // Whatever the uid still runs from an earlier desktop (a crashed bridge) must not see this one.
    if (account) await killAccount(account);
    const home = await mkdtemp(join(this.#homeRoot, HOME_PREFIX));
    placement.home = home;
    await this.#persist();
    const xauthority = join(home, ".Xauthority");
    await writeFile(xauthority, xauthorityFile(display), { mode: 0o600 });
    if (account) {
      await chown(xauthority, account.uid, account.gid);
      await chown(home, account.uid, account.gid);
      // Xvfb running as the account puts its socket here; as root it would make the folder itself.
      await ensureX11SocketDir();
    }
    await chmod(home, 0o700);
    return { display, account, home, xauthority, env: sessionEnvironment(display, home, xauthority) };
  }

  /** Ends what a desktop's account still runs and removes its files (its home, its leftovers in /tmp). */
  async #release(placement: Placement): Promise<void> {
    if (placement.account) {
      await killAccount(placement.account);
      await removeFilesOwnedBy(placement.account.uid);
    }
    if (placement.home) await rm(placement.home, { recursive: true, force: true });
  }

  /** Homes are only ever removed when they look like one this driver made (the state file is input). */
  #isOwnHome(path: string): boolean {
    return dirname(path) === this.#homeRoot && basename(path).startsWith(HOME_PREFIX);
  }

  /**
   * Starts Xvfb on the first free display of the range; `-displayfd` tells when it accepts clients.
   * `-noreset`: by default the server resets when its last client leaves, which would wipe the
   * root colour xsetroot just painted.
   */
  async #startXServer(
    xvfb: string,
    payload: StartPayload,
    placement: Placement,
    track: Track,
  ): Promise<{ seat: Seat; program: SpawnedProgram }> {
    const { displayFirst, displayLast } = this.#settings;
    let lastError: unknown;
    for (let display = displayFirst, attempts = 0; display <= displayLast && attempts < 5; display++) {
      // Another X server (ours, or someone else's) may hold it: skip displays with a lock or socket.
      if (this.#displaysInUse.has(display)) continue;
      this.#displaysInUse.add(display); // reserved before the await: concurrent starts pick different ones
      if (await displayInUse(display)) {
        this.#displaysInUse.delete(display);
        continue;
      }
      attempts++;
      let untrack: (() => void) | undefined;
      let program: SpawnedProgram | undefined;
      try {
        const seat = await this.#prepareSeat(display, placement);
        program = spawnGroup(
          xvfb,
          [
            `:${display}`,
            "-auth",
            seat.xauthority,
            "-screen",
            "0",
            `${payload.width}x${payload.height}x24`,
            "-nolisten",
            "tcp",
            "-noreset",
            "-displayfd",
            "1",
          ],
          seat.env,
          { account: seat.account, cwd: seat.home },
        );
        untrack = await track(program);
        await waitForLine(program, /^(\d+)$/, this.#readyTimeoutMs);
        return { seat, program };
      } catch (e: unknown) {
        lastError = e;
        if (program) await killGroup(program, 500);
        untrack?.();
        await this.#release(placement);
        placement.account = undefined;
        placement.home = undefined;
        this.#displaysInUse.delete(display);
      }
    }
    if (lastError)
      throw new BridgeError("DESKTOP_START_FAILED", `Xvfb did not start: ${(lastError as Error).message}`, { cause: lastError });
    throw new BridgeError("LOCAL_DISPLAYS_EXHAUSTED", `no free X display in ${displayFirst}-${displayLast}`);
  }

  /** Something to look at: a root colour (before x11vnc, so its first frame has it)… */
  async #paintRoot(seat: Seat): Promise<void> {
    const xsetroot = await findExecutable("xsetroot", this.#path);
    if (!xsetroot) return;
    const p = spawnGroup(xsetroot, ["-solid", this.#background], seat.env, { account: seat.account, cwd: seat.home });
    const done = await Promise.race([p.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2_000))]);
    if (!done) await killGroup(p, 200);
  }

  /** …and a terminal or clock when those are installed. */
  async #startHelpers(seat: Seat): Promise<SpawnedProgram[]> {
    const as = { account: seat.account, cwd: seat.home };
    for (const [name, args] of [
      ["xterm", ["-geometry", "100x30+40+40"]],
      ["xclock", ["-geometry", "200x200+40+40"]],
    ] as const) {
      const file = await findExecutable(name, this.#path);
      if (file) return [spawnGroup(file, args, seat.env, as)];
    }
    return [];
  }

  /**
   * x11vnc on a free loopback port, requiring `password` (VNC authentication). It reads the
   * password from a file in the desktop's home and deletes it right away (`rm:`); the bridge
   * deletes it too once x11vnc listens, before any of the user's programs starts.
   */
  async #startVnc(x11vnc: string, seat: Seat, password: string, track: Track): Promise<{ port: number; program: SpawnedProgram }> {
    let lastError: unknown;
    const passwordFile = join(seat.home, ".vnc-password");
    // The free port can be taken between probing and binding; a second try covers that race.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freeLocalPort();
      await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
      if (seat.account) await chown(passwordFile, seat.account.uid, seat.account.gid);
      const program = spawnGroup(
        x11vnc,
        [
          "-display",
          `:${seat.display}`,
          "-auth",
          seat.xauthority,
          "-rfbport",
          String(port),
          "-localhost",
          "-forever",
          "-shared",
          "-passwdfile",
          `rm:${passwordFile}`,
          "-noxdamage",
        ],
        seat.env,
        { account: seat.account, cwd: seat.home },
      );
      const untrack = await track(program);
      try {
        // x11vnc prints PORT=<n> on stdout once it listens.
        await waitForLine(program, new RegExp(`^PORT=${port}$`), this.#readyTimeoutMs);
        await rm(passwordFile, { force: true });
        return { port, program };
      } catch (e: unknown) {
        lastError = e;
        await killGroup(program, 500);
        untrack();
      }
    }
    await rm(passwordFile, { force: true });
    throw new BridgeError("DESKTOP_START_FAILED", `x11vnc did not start: ${(lastError as Error).message}`, { cause: lastError });
  }

  #onProgramExit(desktop: LocalDesktop, program: SpawnedProgram, code: number | null, signal: NodeJS.Signals | null): void {
    if (desktop.stopping || desktop.state !== "running") return;
    desktop.state = "failed";
    desktop.detail = `${program.child.spawnfile} exited (${signal ?? code})`.slice(0, 500);
    this.#log.warn("local desktop died", { sessionId: desktop.sessionId, detail: desktop.detail });
    // Take the rest down too: a VNC server without its X server (or vice versa) is useless.
    for (const p of desktop.programs) signalGroup(p.child.pid, "SIGTERM");
    for (const listener of this.#listeners) listener({ sessionId: desktop.sessionId, state: "failed", detail: desktop.detail });
  }

  #persist(): Promise<void> {
    const placements: [string, Placement][] = [
      ...[...this.#desktops.values()].map((d): [string, Placement] => [d.sessionId, d]),
      ...this.#launching,
    ];
    const desktops = placements.map(([sessionId, p]) => ({
      sessionId,
      pids: p.programs.flatMap((program) => (program.child.pid ? [program.child.pid] : [])),
      ...(p.account && { uid: p.account.uid }),
      ...(p.home && { home: p.home }),
    }));
    return this.#writer?.write({ version: 1, desktops }) ?? Promise.resolve();
  }

  #killAllNow(): void {
    for (const placement of [...this.#desktops.values(), ...this.#launching.values()]) {
      for (const p of placement.programs) signalGroup(p.child.pid, "SIGKILL");
      try {
        if (placement.account) killAccountSync(placement.account);
        if (placement.home) rmSync(placement.home, { recursive: true, force: true });
      } catch {
        // best effort on the way out; the next bridge's cleanupOrphans tries again
      }
    }
  }
}

/**
 * All a desktop's programs get: never the bridge's environment (its token, database URL, keys).
 * LANG is kept when it names a locale; TERM is what xterm is.
 */
export function sessionEnvironment(display: number, home: string, xauthority: string): NodeJS.ProcessEnv {
  const lang = process.env.LANG && /^[A-Za-z0-9_.@-]{1,64}$/.test(process.env.LANG) ? process.env.LANG : "C.UTF-8";
  return { DISPLAY: `:${display}`, HOME: home, PATH: SESSION_PATH, LANG: lang, TERM: "xterm", XAUTHORITY: xauthority };
}

/** 8 characters: all VNC authentication uses of a password. */
function randomPassword(): string {
  return Array.from({ length: 8 }, () => PASSWORD_CHARS[randomInt(PASSWORD_CHARS.length)]).join("");
}

/**
 * /tmp/.X11-unix, root-owned and sticky like a system creates it: an X server that is not root
 * will not create it (it then listens on the abstract socket only, which `displayInUse` cannot see).
 */
async function ensureX11SocketDir(): Promise<void> {
  const dir = "/tmp/.X11-unix";
  try {
    if ((await stat(dir)).isDirectory()) return;
  } catch {
    // missing: made below
  }
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o1777);
}
