/**
 * Bridge faults end to end: npm start's stack (Worker, DOs, Postgres) with a real node-bridge child
 * process on the `local` driver (real Xvfb + x11vnc). A user starts desktops; the bridge is killed
 * with SIGKILL while it has acked start commands it has not finished, commands are issued while it
 * is gone, and it is started again. Through the API every session must end where its desktop
 * really is, every command must finish exactly once, and the machine must be left with exactly
 * the desktops that run — no Xvfb or x11vnc from the dead process.
 *
 * To land the SIGKILL between a start's ack and its completion every time, x11vnc is reached
 * through a launcher that waits as many seconds as its `delay` file says before it execs the real
 * x11vnc — a desktop that is slow to come up, as a pod pulling its image is.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiClient, registerUser, signInFirstAdmin } from "../helpers/api-client.ts";
import {
  type BridgeProcess,
  desktopProcesses,
  killDesktopProcesses,
  requirePrograms,
  startBridgeProcess,
} from "../helpers/local-desktops.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const [x11vnc] = await requirePrograms("x11vnc", "Xvfb");

const DISPLAYS = { first: 240, last: 259 };
const SETTLED = new Set(["running", "stopped", "failed", "hibernated"]);

interface Session {
  id: string;
  state: string;
  stateDetail: string | null;
}

let stack: Stack;
let admin: ApiClient;
let user: ApiClient;
let bridgeId: string;
let bridgeToken: string;
let templateId: string;
const tmp = mkdtempSync(join(tmpdir(), "atrium-bridge-faults-"));
const stateDir = join(tmp, "state");
const launchers = join(tmp, "bin");
const bridges: BridgeProcess[] = [];

function setLaunchDelay(seconds: number): void {
  writeFileSync(join(launchers, "delay"), String(seconds));
}

function runBridge(): BridgeProcess {
  const bridge = startBridgeProcess({
    atriumUrl: stack.url,
    bridgeId,
    token: bridgeToken,
    stateDir,
    displays: DISPLAYS,
    pathPrefix: launchers,
  });
  bridges.push(bridge);
  return bridge;
}

async function bridgeStatus(): Promise<string | undefined> {
  const { bridges: list } = await admin.ok<{ bridges: { id: string; status: string }[] }>("GET", "/api/v1/admin/bridges");
  return list.find((b) => b.id === bridgeId)?.status;
}

async function session(id: string): Promise<Session> {
  return (await user.ok<{ session: Session }>("GET", `/api/v1/desktops/${id}`)).session;
}

async function startDesktop(): Promise<string> {
  const res = await user.request<{ session: Session }>("POST", "/api/v1/desktops", { templateId });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.session.id;
}

async function waitForState(id: string, states: string[], timeout = 60_000): Promise<Session> {
  await expect.poll(async () => (await session(id)).state, { timeout, interval: 100 }).toSatisfy((s: string) => states.includes(s));
  return session(id);
}

/** The local driver's own table of the desktops it runs (its state file), session id → pids. */
function driverTable(): Map<string, number[]> {
  const saved = JSON.parse(readFileSync(join(stateDir, "local-desktops.json"), "utf8")) as {
    desktops: { sessionId: string; pids: number[] }[];
  };
  return new Map(saved.desktops.map((d) => [d.sessionId, d.pids]));
}

/** What runs on the test's displays, as counts per program. */
function programsRunning(): { Xvfb: number; x11vnc: number } {
  const procs = desktopProcesses(DISPLAYS);
  return { Xvfb: procs.filter((p) => p.program === "Xvfb").length, x11vnc: procs.filter((p) => p.program === "x11vnc").length };
}

/** Log records of both bridge processes for `msg` and `commandId`. */
function logged(msg: string, commandId?: string): Record<string, unknown>[] {
  return bridges.flatMap((b) => b.lines.filter((l) => l.msg === msg && (commandId === undefined || l.commandId === commandId)));
}

/** The start command of a session, from the bridge's log of the commands it was sent. */
function startCommandOf(sessionId: string): string {
  const record = logged("running command").find((l) => l.sessionId === sessionId && l.action === "start_session");
  expect(record, `no start_session was run for ${sessionId}`).toBeDefined();
  return String(record?.commandId);
}

describe("bridge killed in the middle of commands", () => {
  beforeAll(async () => {
    const launcher = join(launchers, "x11vnc");
    mkdirSync(launchers, { recursive: true });
    // It re-execs itself as "x11vnc" so that, while it waits, it looks to the driver (and to
    // /proc) like the x11vnc it becomes.
    writeFileSync(
      launcher,
      [
        "#!/bin/bash",
        '[ -z "$ATRIUM_LAUNCHED" ] && ATRIUM_LAUNCHED=1 exec -a x11vnc /bin/bash "$0" "$@"',
        'sleep "$(cat "$(dirname "$0")/delay")"',
        `exec ${x11vnc} "$@"`,
        "",
      ].join("\n"),
    );
    chmodSync(launcher, 0o755);
    // A root bridge runs desktops as users of their own: they must reach the launcher and its delay.
    chmodSync(tmp, 0o755);
    chmodSync(launchers, 0o755);
    setLaunchDelay(0);

    stack = await startStack({ localBridge: false });
    admin = await signInFirstAdmin(stack.url, stack.adminPassword ?? "");
    const registered = await admin.ok<{ bridge: { id: string }; token: string }>("POST", "/api/v1/admin/bridges", {
      name: "fault-test",
      platform: "local",
      region: "test",
    });
    bridgeId = registered.bridge.id;
    bridgeToken = registered.token;
    const created = await admin.ok<{ template: { id: string } }>("POST", "/api/v1/admin/desktop-templates", {
      name: "Fault-test desktop",
      kind: "container",
      image: "atrium/local-desktop",
    });
    templateId = created.template.id;
    await admin.ok("PUT", "/api/v1/admin/desktop-settings", { maxConcurrentSessions: 50, perUserSessionLimit: 10, idleTimeoutMinutes: 0 });
    user = await registerUser(stack.url, `faults${Date.now().toString(36)}`);
  });

  afterAll(async () => {
    for (const b of bridges) await b.kill();
    killDesktopProcesses(DISPLAYS);
    await stack?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("sessions reconcile, no command is lost or run twice, and no desktop process is left behind", async () => {
    const first = runBridge();
    await expect.poll(bridgeStatus, { timeout: 20_000 }).toBe("online");

    // Two desktops run before anything goes wrong.
    const before = [await startDesktop(), await startDesktop()];
    for (const id of before) expect((await waitForState(id, [...SETTLED])).state).toBe("running");
    expect(programsRunning()).toEqual({ Xvfb: 2, x11vnc: 2 });

    // Two more: the bridge acks their starts (the sessions say "starting"), then dies mid-start.
    setLaunchDelay(4);
    const inFlight = [await startDesktop(), await startDesktop()];
    for (const id of inFlight) await waitForState(id, ["starting"], 10_000);
    await first.kill();
    for (const id of inFlight) expect((await session(id)).state).toBe("starting");

    // While it is gone: one running desktop is stopped and a new one is asked for.
    const [stoppedWhileDown, keptRunning] = before as [string, string];
    expect((await user.request("POST", `/api/v1/desktops/${stoppedWhileDown}/stop`)).status).toBe(202);
    const requestedWhileDown = await startDesktop();
    expect((await session(stoppedWhileDown)).state).toBe("stopping");
    expect((await session(requestedWhileDown)).state).toBe("requested");

    setLaunchDelay(0);
    runBridge();

    // Starts that were acked but never finished, and the one sent while down, run (once) and end running.
    for (const id of [...inFlight, requestedWhileDown]) {
      const s = await waitForState(id, [...SETTLED]);
      expect(s, JSON.stringify(s)).toMatchObject({ state: "running" });
    }
    // The stop issued while the bridge was down completes.
    expect((await waitForState(stoppedWhileDown, [...SETTLED])).state).toBe("stopped");
    // A local desktop ends with its bridge: the new process ended the old one's, and says so.
    const lost = await waitForState(keptRunning, ["stopped", "failed"]);
    expect(lost).toMatchObject({ state: "stopped", stateDetail: "The bridge no longer runs this desktop." });

    // Each running session has exactly one desktop, and nothing else runs on the test's displays.
    const running = [...inFlight, requestedWhileDown];
    await expect.poll(() => [...driverTable().keys()].sort(), { timeout: 10_000 }).toEqual([...running].sort());
    expect(programsRunning()).toEqual({ Xvfb: running.length, x11vnc: running.length });
    // …and the driver tracks every one of them, so a later restart can still clean them up.
    const tracked = new Set([...driverTable().values()].flat());
    expect(desktopProcesses(DISPLAYS).filter((p) => !tracked.has(p.pid))).toEqual([]);

    // Every start finished exactly once across both processes; the interrupted ones ran again
    // only because they had never finished.
    for (const id of [...before, ...running]) expect(logged("command complete", startCommandOf(id))).toHaveLength(1);
    for (const id of inFlight) expect(logged("running command", startCommandOf(id))).toHaveLength(2);
  });

  it("stops issued while the bridge is down complete when it returns and leave no Xvfb or x11vnc behind", async () => {
    const live = (await user.ok<{ sessions: Session[] }>("GET", "/api/v1/desktops?state=running")).sessions.map((s) => s.id);
    expect(live.length).toBeGreaterThan(0);
    await bridges.at(-1)?.kill();
    for (const id of live) expect((await user.request("POST", `/api/v1/desktops/${id}/stop`)).status).toBe(202);
    for (const id of live) expect((await session(id)).state).toBe("stopping");

    runBridge();
    for (const id of live) expect((await waitForState(id, [...SETTLED])).state).toBe("stopped");
    await expect.poll(() => driverTable().size, { timeout: 10_000 }).toBe(0);
    await expect.poll(() => desktopProcesses(DISPLAYS), { timeout: 10_000 }).toEqual([]);
    expect(await bridgeStatus()).toBe("online");
  });
});
