/**
 * The local driver with real Xvfb + x11vnc processes: a raw TCP client gets an RFB greeting and
 * real (non-blank) pixels, stop kills the process groups, and the failure modes have stable codes.
 * Needs the Debian packages xvfb and x11vnc (CI installs them; elsewhere the suite is skipped).
 */
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { ReportedSession } from "../../../durable-objects/bridge/protocol.ts";
import { LocalDriver } from "../../../node-bridge/drivers/local.ts";
import { findExecutable } from "../../../node-bridge/drivers/local-processes.ts";
import { silentLogger } from "../../../node-bridge/log.ts";
import { startPayload } from "./fixtures.ts";
import { grabRfbFrame } from "./rfb-client.ts";

// A real desktop is part of what these tests prove: without the Debian packages they fail, never skip.
if (!((await findExecutable("Xvfb")) && (await findExecutable("x11vnc")))) {
  throw new Error("Xvfb and x11vnc are required: apt-get install -y xvfb x11vnc (.ci/run installs them)");
}
const hasXsetroot = Boolean(await findExecutable("xsetroot"));
const settings = { displayFirst: 180, displayLast: 199 };

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readGreeting(port: number): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  const [data] = (await once(socket, "data")) as [Buffer];
  socket.destroy();
  return data.toString();
}

describe("local driver (Xvfb + x11vnc)", () => {
  const drivers: LocalDriver[] = [];
  const newDriver = (path?: string) => {
    const d = new LocalDriver({ settings, log: silentLogger, ...(path !== undefined ? { path } : {}) });
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

    const frame = await grabRfbFrame(endpoint.host, endpoint.port, 16);
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
