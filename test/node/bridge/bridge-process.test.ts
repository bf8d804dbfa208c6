/**
 * The real entry point, `node node-bridge/main.ts`, as a child process with the local driver
 * against the in-test hub: hello, a start_session that brings up a real Xvfb + x11vnc desktop
 * and opens the session's primary socket, two viewers that each get their own RFB handshake from
 * x11vnc on their own data socket, heartbeats reporting the session, and SIGTERM draining with
 * 1001 (control, primary and data sockets) and taking the desktop down. Needs xvfb + x11vnc (CI installs them).
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

  it("starts a desktop on command, relays a fresh RFB stream per viewer, and on SIGTERM drains, closes with 1001 and removes the desktop", async () => {
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

    const primary = await hub.primaryOf(sessionId, 10_000);
    expect(primary.headers.authorization).toBe(`Bearer ${DATA_TOKEN}`);
    // Two viewers: each gets its own x11vnc connection, so each starts with the server's greeting.
    const a = await hub.openViewer(sessionId, 10_000);
    const b = await hub.openViewer(sessionId, 10_000);
    expect(a.connId).not.toBe(b.connId);
    for (const viewer of [a, b]) await expect.poll(() => viewer.bytes().toString(), { timeout: 5_000 }).toMatch(/^RFB 003\.00\d\n$/);
    // Bytes flow the other way too: answering the greeting gets x11vnc's security types (1 = None).
    a.ws.send(Buffer.from("RFB 003.008\n"));
    const securityTypes = () => {
      const reply = a.bytes().subarray(12);
      const count = reply[0] ?? 0;
      return count > 0 && reply.length >= 1 + count ? [...reply.subarray(1, 1 + count)] : [];
    };
    await expect.poll(securityTypes, { timeout: 5_000 }).toContain(1);
    expect(b.bytes().length).toBe(12);
    await control.waitFor("heartbeat", (f) => f.sessions.some((s) => s.sessionId === sessionId && s.state === "running"));

    const socketOf = (n: number) => `/tmp/.X11-unix/X${n}`;
    const display = [...Array(10).keys()].map((i) => 160 + i).find((n) => existsSync(socketOf(n)));
    expect(display).toBeDefined();

    child.kill("SIGTERM");
    await control.waitFor("draining");
    expect(await control.closed).toEqual({ code: 1001, reason: "bridge shutting down" });
    expect((await primary.closed).code).toBe(1001);
    expect((await a.closed).code).toBe(1001);
    expect((await b.closed).code).toBe(1001);
    expect(await exited).toBe(0);
    // Xvfb removes its socket when it is terminated: the desktop is gone with the bridge.
    expect(existsSync(socketOf(display!))).toBe(false);
    expect(output).not.toContain(TOKEN);
    expect(output).not.toContain(DATA_TOKEN);
    expect(control.invalid).toEqual([]);
    expect(primary.invalid).toEqual([]);
  });
});
