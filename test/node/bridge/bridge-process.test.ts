/**
 * The real entry point, `node node-bridge/main.ts`, as a child process with the local driver
 * against the in-test hub: hello, a start_session that brings up a real Xvfb + x11vnc desktop
 * whose RFB bytes arrive on the hub's data socket, heartbeats reporting it, and SIGTERM draining
 * with 1001 and taking the desktop down. Needs xvfb + x11vnc (CI installs them).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CommandFrame } from "../../../durable-objects/bridge/protocol.ts";
import { findExecutable } from "../../../node-bridge/drivers/local-processes.ts";
import { startFakeHub } from "./fake-hub.ts";
import { startPayload } from "./fixtures.ts";

// A real desktop is part of what these tests prove: without the Debian packages they fail, never skip.
if (!((await findExecutable("Xvfb")) && (await findExecutable("x11vnc")))) {
  throw new Error("Xvfb and x11vnc are required: apt-get install -y xvfb x11vnc (.ci/run installs them)");
}
const root = resolve(import.meta.dirname, "../../..");
const BRIDGE_ID = "5e4d3c2b-1a09-4f8e-9d7c-6b5a49382716";
const TOKEN = "bridge-token-for-the-process-test-0001";
const DATA_TOKEN = "data-token-for-the-process-test-0001";

describe("node-bridge process (local driver)", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("starts a desktop on command, relays its RFB stream, and on SIGTERM drains, closes with 1001 and removes the desktop", async () => {
    const hub = await startFakeHub({
      bridgeToken: TOKEN,
      dataToken: DATA_TOKEN,
      welcome: { bridgeId: BRIDGE_ID, heartbeatIntervalMs: 200 },
    });
    const stateDir = mkdtempSync(join(tmpdir(), "atrium-bridge-proc-"));
    cleanups.push(
      () => hub.close(),
      () => rmSync(stateDir, { recursive: true, force: true }),
    );
    const child: ChildProcess = spawn(process.execPath, ["node-bridge/main.ts"], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: stateDir,
        ATRIUM_URL: hub.baseUrl,
        BRIDGE_ID,
        BRIDGE_TOKEN: TOKEN,
        BRIDGE_PLATFORM: "local",
        BRIDGE_REGION: "test",
        BRIDGE_STATE_DIR: stateDir,
        BRIDGE_LOG_LEVEL: "debug",
        LOCAL_DISPLAY_RANGE: "160-169",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    cleanups.push(async () => {
      // On failure: SIGTERM first so the bridge can take its desktop down, SIGKILL as a last resort.
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    });

    const control = await hub.nextControl(0, 10_000);
    expect(await control.waitFor("hello")).toMatchObject({ bridgeId: BRIDGE_ID, platform: "local", region: "test", sessions: [] });

    const sessionId = randomUUID();
    const start: CommandFrame = {
      type: "command",
      id: "cmd-start-1",
      action: "start_session",
      payload: startPayload({ sessionId, dataUrl: hub.dataUrl(sessionId), dataToken: DATA_TOKEN, width: 800, height: 600 }),
    };
    control.send(start);
    await control.waitFor("ack", (f) => f.id === start.id);
    expect(await control.waitFor("complete", (f) => f.id === start.id, 10_000)).toMatchObject({ result: { sessionId, state: "running" } });

    const data = await hub.nextData(0, 10_000);
    expect(data.headers.authorization).toBe(`Bearer ${DATA_TOKEN}`);
    await expect.poll(() => data.bytes().toString(), { timeout: 5_000 }).toMatch(/^RFB 003\.00\d\n$/);
    await control.waitFor("heartbeat", (f) => f.sessions.some((s) => s.sessionId === sessionId && s.state === "running"));

    const socketOf = (n: number) => `/tmp/.X11-unix/X${n}`;
    const display = [...Array(10).keys()].map((i) => 160 + i).find((n) => existsSync(socketOf(n)));
    expect(display).toBeDefined();

    child.kill("SIGTERM");
    await control.waitFor("draining");
    expect(await control.closed).toEqual({ code: 1001, reason: "bridge shutting down" });
    expect((await data.closed).code).toBe(1001);
    expect(await exited).toBe(0);
    // Xvfb removes its socket when it is terminated: the desktop is gone with the bridge.
    expect(existsSync(socketOf(display!))).toBe(false);
    expect(output).not.toContain(TOKEN);
    expect(output).not.toContain(DATA_TOKEN);
    expect(control.invalid).toEqual([]);
  });
});
