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
 */
import { z } from "zod";
import type { ReportedSession, StartPayload } from "../../durable-objects/bridge/protocol.ts";
import type { LocalSettings } from "../config.ts";
import { BridgeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { DesktopDriver, SessionStateListener, VncEndpoint } from "./driver.ts";
import { JsonFileWriter, readJsonFile } from "../json-file.ts";
import {
  displayInUse,
  findExecutable,
  freeLocalPort,
  killGroup,
  processAlive,
  processName,
  type SpawnedProgram,
  signalGroup,
  spawnGroup,
  waitForLine,
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
}

const OWNED_PROGRAMS = new Set(["Xvfb", "x11vnc", "xterm", "xclock", "xsetroot"]);
const StateFileSchema = z.object({
  version: z.literal(1),
  desktops: z.array(z.object({ sessionId: z.string(), pids: z.array(z.number().int().positive()) })),
});

interface LocalDesktop {
  sessionId: string;
  display: number;
  vncPort: number;
  programs: SpawnedProgram[];
  state: ReportedSession["state"];
  detail?: string;
  stopping: boolean;
}

/** Records a just-spawned program of a starting desktop; the returned function forgets it again. */
type Track = (program: SpawnedProgram) => Promise<() => void>;

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
  readonly #launching = new Map<string, SpawnedProgram[]>();
  readonly #displaysInUse = new Set<number>();
  readonly #listeners: SessionStateListener[] = [];
  readonly #onExit = () => this.#killAllNow();
  readonly #stateFile: string | undefined;
  readonly #writer: JsonFileWriter | undefined;

  constructor(options: LocalDriverOptions) {
    this.#settings = options.settings;
    this.#log = options.log;
    this.#path = options.path ?? process.env.PATH ?? "";
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 10_000;
    this.#background = options.background ?? "#2f4f6f";
    this.#stateFile = options.stateFile;
    this.#writer = options.stateFile ? new JsonFileWriter(options.stateFile) : undefined;
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
    this.#desktops.delete(sessionId);
    this.#displaysInUse.delete(desktop.display);
    await this.#persist();
    this.#log.info("local desktop stopped", { sessionId, display: desktop.display });
  }

  async vncEndpoint(sessionId: string): Promise<VncEndpoint> {
    await this.#starting.get(sessionId);
    const desktop = this.#desktops.get(sessionId);
    if (desktop?.state !== "running") throw new BridgeError("SESSION_NOT_FOUND", `no running local desktop for session ${sessionId}`);
    return { host: "127.0.0.1", port: desktop.vncPort };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#desktops.keys()].map((id) => this.stop(id)));
    process.off("exit", this.#onExit);
  }

  /** Process ids of a session's programs (tests check they are gone after stop). */
  pids(sessionId: string): number[] {
    return (this.#desktops.get(sessionId)?.programs ?? []).flatMap((p) => (p.child.pid === undefined ? [] : [p.child.pid]));
  }

  async #start(payload: StartPayload): Promise<void> {
    const [xvfb, x11vnc] = await Promise.all([findExecutable("Xvfb", this.#path), findExecutable("x11vnc", this.#path)]);
    if (!xvfb || !x11vnc) throw new BridgeError("LOCAL_DESKTOP_UNAVAILABLE", MISSING_PACKAGES);

    // Everything spawned so far, so a failure half-way leaves no orphans.
    const spawned: SpawnedProgram[] = [];
    this.#launching.set(payload.sessionId, spawned);
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
      const xserver = await this.#startXServer(xvfb, payload, track);
      display = xserver.display;
      const env = { ...process.env, DISPLAY: `:${display}` };
      const helpers = await this.#decorate(env);
      for (const helper of helpers) await track(helper);
      const vnc = await this.#startVnc(x11vnc, display, env, track);
      const desktop: LocalDesktop = {
        sessionId: payload.sessionId,
        display,
        vncPort: vnc.port,
        programs: spawned,
        state: "running",
        stopping: false,
      };
      this.#desktops.set(payload.sessionId, desktop);
      this.#launching.delete(payload.sessionId);
      await this.#persist();
      // Helpers (xterm, xclock) may exit on their own; only the X and VNC servers matter.
      for (const p of [xserver.program, vnc.program]) p.exited.then(({ code, signal }) => this.#onProgramExit(desktop, p, code, signal));
      this.#log.info("local desktop running", { sessionId: payload.sessionId, display, vncPort: vnc.port });
    } catch (e: unknown) {
      await Promise.all(spawned.map((p) => killGroup(p, 500)));
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
   * Starts Xvfb on the first free display of the range; `-displayfd` tells when it accepts clients.
   * `-noreset`: by default the server resets when its last client leaves, which would wipe the
   * root colour xsetroot just painted.
   */
  async #startXServer(xvfb: string, payload: StartPayload, track: Track): Promise<{ display: number; program: SpawnedProgram }> {
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
      const program = spawnGroup(
        xvfb,
        [`:${display}`, "-screen", "0", `${payload.width}x${payload.height}x24`, "-nolisten", "tcp", "-noreset", "-displayfd", "1"],
        process.env,
      );
      const untrack = await track(program);
      try {
        await waitForLine(program, /^(\d+)$/, this.#readyTimeoutMs);
        return { display, program };
      } catch (e: unknown) {
        lastError = e;
        await killGroup(program, 500);
        untrack();
        this.#displaysInUse.delete(display);
      }
    }
    if (lastError)
      throw new BridgeError("DESKTOP_START_FAILED", `Xvfb did not start: ${(lastError as Error).message}`, { cause: lastError });
    throw new BridgeError("LOCAL_DISPLAYS_EXHAUSTED", `no free X display in ${displayFirst}-${displayLast}`);
  }

  /** Something to look at: a root colour, and a terminal or clock when those are installed. */
  async #decorate(env: NodeJS.ProcessEnv): Promise<SpawnedProgram[]> {
    const xsetroot = await findExecutable("xsetroot", this.#path);
    if (xsetroot) {
      const p = spawnGroup(xsetroot, ["-solid", this.#background], env);
      const done = await Promise.race([p.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 2_000))]);
      if (!done) await killGroup(p, 200);
    }
    for (const [name, args] of [
      ["xterm", ["-geometry", "100x30+40+40"]],
      ["xclock", ["-geometry", "200x200+40+40"]],
    ] as const) {
      const file = await findExecutable(name, this.#path);
      if (file) return [spawnGroup(file, args, env)];
    }
    return [];
  }

  async #startVnc(
    x11vnc: string,
    display: number,
    env: NodeJS.ProcessEnv,
    track: Track,
  ): Promise<{ port: number; program: SpawnedProgram }> {
    let lastError: unknown;
    // The free port can be taken between probing and binding; a second try covers that race.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freeLocalPort();
      const program = spawnGroup(
        x11vnc,
        ["-display", `:${display}`, "-rfbport", String(port), "-localhost", "-forever", "-shared", "-nopw", "-noxdamage"],
        env,
      );
      const untrack = await track(program);
      try {
        // x11vnc prints PORT=<n> on stdout once it listens.
        await waitForLine(program, new RegExp(`^PORT=${port}$`), this.#readyTimeoutMs);
        return { port, program };
      } catch (e: unknown) {
        lastError = e;
        await killGroup(program, 500);
        untrack();
      }
    }
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
    const programs: [string, SpawnedProgram[]][] = [
      ...[...this.#desktops.values()].map((d): [string, SpawnedProgram[]] => [d.sessionId, d.programs]),
      ...this.#launching,
    ];
    const desktops = programs.map(([sessionId, list]) => ({
      sessionId,
      pids: list.flatMap((p) => (p.child.pid ? [p.child.pid] : [])),
    }));
    return this.#writer?.write({ version: 1, desktops }) ?? Promise.resolve();
  }

  #killAllNow(): void {
    for (const desktop of this.#desktops.values()) for (const p of desktop.programs) signalGroup(p.child.pid, "SIGKILL");
    for (const list of this.#launching.values()) for (const p of list) signalGroup(p.child.pid, "SIGKILL");
  }
}
