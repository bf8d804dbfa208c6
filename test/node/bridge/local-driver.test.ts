/**
 * The local driver with real Xvfb + x11vnc processes: a raw TCP client gets an RFB greeting and
 * real (non-blank) pixels, stop kills the process groups, and the failure modes have stable codes.
 * A desktop is a shell on the bridge's machine, so: its programs run as a uid of their own with
 * none of the bridge's environment, x11vnc wants a password only the bridge knows, and the
 * bridge's relay logs in for viewers (RFB 3.8 and 3.3) who see security type None.
 * Needs the Debian packages xvfb, x11vnc and xterm (CI installs them).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AddressInfo, connect, createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { ReportedSession } from "../../../durable-objects/bridge/protocol.ts";
import { DataRelay } from "../../../node-bridge/data-relay.ts";
import { LocalDriver, type LocalDriverOptions } from "../../../node-bridge/drivers/local.ts";
import { findExecutable } from "../../../node-bridge/drivers/local-processes.ts";
import { silentLogger } from "../../../node-bridge/log.ts";
import { type DataConnection, startFakeHub } from "./fake-hub.ts";
import { startPayload } from "./fixtures.ts";
import { grabRfbFrame, rfbSecurityTypes } from "./rfb-client.ts";

// A real desktop is part of what these tests prove: without the Debian packages they fail, never skip.
if (!((await findExecutable("Xvfb")) && (await findExecutable("x11vnc")) && (await findExecutable("xterm")))) {
  throw new Error("Xvfb, x11vnc and xterm are required: apt-get install -y xvfb x11vnc xterm (.ci/run installs them)");
}
if (process.getuid?.() !== 0) throw new Error("these tests run as root (as CI does): desktops must run as users of their own");
const hasXsetroot = Boolean(await findExecutable("xsetroot"));
const settings = { displayFirst: 180, displayLast: 199, uidBase: 2_000_000_000, sameUser: false };

/** Running (a zombie is not: an orphaned grandchild waits for an init that may never reap it). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Real and effective uid and gid of a process, from /proc. */
function idsOf(pid: number): { uid: number; euid: number; gid: number; groups: string } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => (new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(status)?.[1] ?? "").trim().split(/\s+/);
  const [uid, euid] = field("Uid").map(Number);
  const [gid] = field("Gid").map(Number);
  return { uid: uid ?? -1, euid: euid ?? -1, gid: gid ?? -1, groups: field("Groups").join(" ") };
}

function environOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").filter(Boolean);
  return Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

/** A process and all its descendants (the shell xterm runs, …). */
function withDescendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // exited
  }
  return [pid, ...children.flatMap(withDescendants)];
}

const programName = (pid: number) => readlinkSync(`/proc/${pid}/exe`).split("/").pop();

/** Plays the viewer's browser: a local TCP port whose bytes go through the hub's data socket of one viewer. */
async function viewerPort(data: DataConnection): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.write(data.bytes());
    data.ws.on("message", (d: Buffer, isBinary: boolean) => {
      if (isBinary) socket.write(d);
    });
    socket.on("data", (d) => data.ws.send(d, { binary: true }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

async function readGreeting(port: number): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  const [data] = (await once(socket, "data")) as [Buffer];
  socket.destroy();
  return data.toString();
}

describe("local driver (Xvfb + x11vnc)", () => {
  const drivers: LocalDriver[] = [];
  const newDriver = (path?: string, extra: Partial<LocalDriverOptions> = {}) => {
    const d = new LocalDriver({ settings, log: silentLogger, ...(path !== undefined ? { path } : {}), ...extra });
    drivers.push(d);
    return d;
  };
  afterEach(async () => {
    await Promise.all(drivers.splice(0).map((d) => d.close()));
  });

  it("start runs a real desktop whose VNC port greets with RFB 003.00x and serves the coloured root window; stop kills its processes", async () => {
    const driver = newDriver();
    const payload = startPayload({ width: 1024, height: 768 });
    await driver.start(payload);
    expect(await driver.list()).toEqual([{ sessionId: payload.sessionId, state: "running" }]);

    const endpoint = await driver.vncEndpoint(payload.sessionId);
    expect(endpoint.host).toBe("127.0.0.1");
    expect(await readGreeting(endpoint.port)).toMatch(/^RFB 003\.00\d\n$/);

    expect(endpoint.auth).toEqual({ type: "vnc", password: expect.stringMatching(/^[A-Za-z0-9]{8}$/) });
    const password = endpoint.auth?.type === "vnc" ? endpoint.auth.password : "";
    const frame = await grabRfbFrame(endpoint.host, endpoint.port, 16, { password });
    expect([frame.width, frame.height]).toEqual([1024, 768]);
    expect(frame.bitsPerPixel).toBe(32);
    const pixels = Array.from({ length: frame.pixels.length / 4 }, (_, i) => frame.pixels.readUInt32LE(i * 4) & 0xffffff);
    if (hasXsetroot) {
      // Most of the corner is the root colour #2f4f6f, as 32-bit little-endian true colour
      // (blue, green, red, pad) — x11vnc may paint the cursor over a few pixels.
      expect(pixels.filter((p) => p === 0x2f4f6f).length).toBeGreaterThan(pixels.length / 2);
    } else {
      // Without x11-xserver-utils the root keeps X's default black-and-white weave: still not blank.
      expect(new Set(pixels).size).toBeGreaterThan(1);
    }

    const pids = driver.pids(payload.sessionId);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    expect(pids.every(isAlive)).toBe(true);
    await driver.stop(payload.sessionId);
    expect(pids.some(isAlive)).toBe(false);
    expect(await driver.list()).toEqual([]);
    await expect(driver.vncEndpoint(payload.sessionId)).rejects.toMatchObject({ code: "SESSION_NOT_FOUND" });
  });

  it("two sessions get separate displays and ports; a desktop whose X server dies is reported failed", async () => {
    const driver = newDriver();
    const changes: ReportedSession[] = [];
    driver.onSessionState((s) => changes.push(s));
    const [a, b] = [startPayload(), startPayload()];
    await Promise.all([driver.start(a), driver.start(b)]);
    const [ea, eb] = await Promise.all([driver.vncEndpoint(a.sessionId), driver.vncEndpoint(b.sessionId)]);
    expect(ea.port).not.toBe(eb.port);

    const [xvfbPid] = driver.pids(a.sessionId);
    process.kill(xvfbPid!, "SIGTERM"); // not via the driver: the desktop "crashes"
    await expect
      .poll(() => changes, { timeout: 5_000 })
      .toEqual([{ sessionId: a.sessionId, state: "failed", detail: expect.stringMatching(/(Xvfb|x11vnc) exited/) }]);
    expect(await driver.list()).toEqual(
      expect.arrayContaining([
        { sessionId: a.sessionId, state: "failed", detail: expect.any(String) },
        { sessionId: b.sessionId, state: "running" },
      ]),
    );
    await driver.stop(a.sessionId);
    expect(await readGreeting(eb.port)).toMatch(/^RFB/);
  });

  it("a bridge restarted after being killed ends the desktops its predecessor left running", async () => {
    const dir = mkdtempSync(join(tmpdir(), "atrium-local-"));
    try {
      const stateFile = join(dir, "local-desktops.json");
      const crashed = new LocalDriver({ settings, log: silentLogger, stateFile });
      drivers.push(crashed);
      const payload = startPayload();
      await crashed.start(payload);
      const pids = crashed.pids(payload.sessionId);
      expect(pids.every(isAlive)).toBe(true);

      const successor = newDriver();
      await new LocalDriver({ settings, log: silentLogger, stateFile }).cleanupOrphans();
      await expect.poll(() => pids.some(isAlive), { timeout: 3_000 }).toBe(false);
      expect(await successor.list()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs every program of a desktop (xterm's shell included) as a uid of its own, with none of the bridge's environment, in a private home", async () => {
    const fakeToken = `brg_${randomUUID()}`;
    process.env.BRIDGE_TOKEN = fakeToken;
    process.env.ATRIUM_TEST_SECRET = "do-not-leak";
    try {
      const driver = newDriver();
      const [a, b] = [startPayload(), startPayload()];
      await Promise.all([driver.start(a), driver.start(b)]);
      // xterm's child is the shell the viewer types into: wait until it runs.
      await expect.poll(() => driver.pids(a.sessionId).flatMap(withDescendants).length, { timeout: 5_000 }).toBeGreaterThan(3);
      /** Each live process of a session (helpers such as xsetroot come and go): its name, ids and environment. */
      const processesOf = (sessionId: string) =>
        driver
          .pids(sessionId)
          .flatMap(withDescendants)
          .flatMap((pid) => {
            try {
              return [{ pid, name: programName(pid), ids: idsOf(pid), env: environOf(pid) }];
            } catch {
              return []; // exited meanwhile
            }
          });
      const uidOf = (sessionId: string) => {
        const processes = processesOf(sessionId);
        const uids = new Set(processes.map((p) => p.ids.uid));
        expect(uids.size).toBe(1);
        return { processes, pids: processes.map((p) => p.pid), uid: [...uids][0] as number };
      };
      const da = uidOf(a.sessionId);
      const db = uidOf(b.sessionId);
      expect(da.uid).not.toBe(0);
      expect(db.uid).not.toBe(0);
      // One user per desktop: one desktop's shell cannot read the other's home or X cookie.
      expect(da.uid).not.toBe(db.uid);
      expect(da.processes.map((p) => p.name)).toEqual(expect.arrayContaining(["Xvfb", "x11vnc", "xterm"]));

      const allowed = ["DISPLAY", "HOME", "LANG", "PATH", "TERM", "XAUTHORITY"];
      for (const { name, ids, env } of da.processes) {
        expect(ids).toEqual({ uid: da.uid, euid: da.uid, gid: da.uid, groups: "" });
        // Exactly a desktop's variables; xterm adds its own for the shell it runs (WINDOWID, …).
        if (name === "Xvfb" || name === "x11vnc" || name === "xterm") {
          expect(Object.keys(env).sort()).toEqual(allowed);
          expect(env.DISPLAY).toMatch(/^:\d+$/);
        }
        expect(env.BRIDGE_TOKEN).toBeUndefined();
        expect(env.ATRIUM_TEST_SECRET).toBeUndefined();
        expect(Object.values(env).join("\n")).not.toContain(fakeToken);
      }
      const { HOME: home = "", XAUTHORITY: xauthority = "" } = da.processes[0]?.env ?? {};
      const st = statSync(home);
      expect([st.uid, st.mode & 0o777]).toEqual([da.uid, 0o700]);
      expect(statSync(xauthority).uid).toBe(da.uid);

      // A process that left the desktop's process group (setsid, double fork) still ends at stop.
      const escaped = spawn("sleep", ["600"], { uid: da.uid, gid: da.uid, detached: true, stdio: "ignore", cwd: "/" });
      await once(escaped, "spawn");
      await driver.stop(a.sessionId);
      await expect.poll(() => escaped.signalCode, { timeout: 3_000 }).toBe("SIGKILL");
      expect(da.pids.some(isAlive)).toBe(false);
      expect(() => statSync(home)).toThrow();
      // The other desktop runs on (its lasting programs: helpers such as xsetroot exit by themselves).
      const lasting = db.processes.filter((p) => p.name !== undefined && ["Xvfb", "x11vnc", "xterm"].includes(p.name));
      expect(lasting.map((p) => p.name)).toEqual(expect.arrayContaining(["Xvfb", "x11vnc", "xterm"]));
      expect(lasting.every((p) => isAlive(p.pid))).toBe(true);
    } finally {
      delete process.env.BRIDGE_TOKEN;
      delete process.env.ATRIUM_TEST_SECRET;
    }
  });

  it("x11vnc requires VNC authentication: a raw client is offered type 2 only, and a wrong password is refused", async () => {
    const driver = newDriver();
    const payload = startPayload({ width: 640, height: 480 });
    await driver.start(payload);
    const endpoint = await driver.vncEndpoint(payload.sessionId);
    expect(await rfbSecurityTypes(endpoint.host, endpoint.port)).toEqual([2]);
    await expect(grabRfbFrame(endpoint.host, endpoint.port, 4)).rejects.toThrow(/no security type 1/);
    await expect(grabRfbFrame(endpoint.host, endpoint.port, 4, { password: "wrong123" })).rejects.toThrow(/security handshake failed/);
    await expect(grabRfbFrame(endpoint.host, endpoint.port, 4, { version: "3.3" })).rejects.toThrow(/security type 2/);
  });

  it("a viewer through the bridge's relay is offered None and gets the desktop's pixels, with RFB 3.8 and with RFB 3.3", async () => {
    const dataToken = "data-token-0123456789abcdef";
    const hub = await startFakeHub({ bridgeToken: "unused-bridge-token-000000", dataToken });
    const driver = newDriver();
    const sessionId = randomUUID();
    await driver.start(startPayload({ sessionId, width: 800, height: 600 }));
    // The desktop's own port wants the password the viewer never gets…
    const endpoint = await driver.vncEndpoint(sessionId);
    expect(await rfbSecurityTypes(endpoint.host, endpoint.port)).toEqual([2]);
    const relay = new DataRelay({
      sessionId,
      dataUrl: hub.dataUrl(sessionId),
      dataToken,
      vncEndpoint: () => driver.vncEndpoint(sessionId),
      log: silentLogger,
    });
    relay.start();
    try {
      for (const version of ["3.8", "3.3"] as const) {
        // …while through the bridge it is offered None and gets pixels.
        const viewer = await hub.openViewer(sessionId, 10_000);
        const browser = await viewerPort(viewer);
        try {
          if (version === "3.8") expect(await rfbSecurityTypes("127.0.0.1", browser.port)).toEqual([1]);
          const second = version === "3.8" ? await viewerPort(await hub.openViewer(sessionId, 10_000)) : browser;
          const frame = await grabRfbFrame("127.0.0.1", second.port, 8, { version });
          expect([frame.width, frame.height]).toEqual([800, 600]);
          expect(frame.pixels.length).toBe(8 * 8 * (frame.bitsPerPixel / 8));
          if (second !== browser) await second.close();
        } finally {
          await browser.close();
        }
      }
      expect(relay.stats()).toMatchObject({ openFailures: 0 });
    } finally {
      await relay.close();
      await hub.close();
    }
  });

  it("a bridge that is not root refuses desktops (LOCAL_DESKTOP_NEEDS_ROOT) unless LOCAL_DESKTOP_SAME_USER; then they run with a scrubbed environment", async () => {
    await expect(newDriver(undefined, { bridgeUid: 1000 }).start(startPayload())).rejects.toMatchObject({
      code: "LOCAL_DESKTOP_NEEDS_ROOT",
      message: expect.stringContaining("LOCAL_DESKTOP_SAME_USER=true"),
    });
    process.env.BRIDGE_TOKEN = "brg_same_user_token_0123456789";
    try {
      const driver = newDriver(undefined, { bridgeUid: 1000, settings: { ...settings, sameUser: true } });
      const payload = startPayload();
      await driver.start(payload);
      const pids = driver.pids(payload.sessionId).flatMap(withDescendants);
      expect(pids.length).toBeGreaterThanOrEqual(3);
      for (const pid of pids) expect(environOf(pid).BRIDGE_TOKEN).toBeUndefined();
      const endpoint = await driver.vncEndpoint(payload.sessionId);
      expect(await rfbSecurityTypes(endpoint.host, endpoint.port)).toEqual([2]);
    } finally {
      delete process.env.BRIDGE_TOKEN;
    }
  });

  it("cannot hibernate (HIBERNATE_UNSUPPORTED) and names the missing packages when Xvfb/x11vnc are absent", async () => {
    const driver = newDriver();
    expect(driver.canHibernate).toBe(false);
    await expect(driver.hibernate(startPayload().sessionId)).rejects.toMatchObject({ code: "HIBERNATE_UNSUPPORTED" });
    const bare = newDriver("/nonexistent");
    await expect(bare.start(startPayload())).rejects.toMatchObject({
      code: "LOCAL_DESKTOP_UNAVAILABLE",
      message: expect.stringMatching(/xvfb.*x11vnc/),
    });
  });
});
