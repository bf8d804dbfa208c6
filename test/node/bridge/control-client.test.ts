/**
 * The control client against an in-test hub: hello, heartbeats, ack-then-answer, idempotency by
 * command id (in memory and across a restart), redelivery after a dropped connection, invalid
 * frames, dead-peer detection and the graceful drain.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CommandFrame, ReportedSession } from "../../../durable-objects/bridge/protocol.ts";
import { CommandMemory } from "../../../node-bridge/command-memory.ts";
import { ControlClient, type ControlClientOptions } from "../../../node-bridge/control-client.ts";
import { BridgeError } from "../../../node-bridge/errors.ts";
import { silentLogger } from "../../../node-bridge/log.ts";
import { type FakeHub, startFakeHub } from "./fake-hub.ts";
import { startPayload } from "./fixtures.ts";

const TOKEN = "bridge-token-abcdefghijklmnop";
const BRIDGE_ID = "3d6f1e2a-9b8c-4d7e-8f6a-5b4c3d2e1f0a";

function startCommand(id = randomUUID()): CommandFrame {
  return { type: "command", id, action: "start_session", payload: startPayload() };
}

/** A runCommand that records calls and finishes when the test says so (or at once). */
function scriptedRunner(options: { delayMs?: number; fail?: BridgeError } = {}) {
  const calls: CommandFrame[] = [];
  const run = async (command: CommandFrame) => {
    calls.push(command);
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    if (options.fail) throw options.fail;
    return { sessionId: command.payload.sessionId, state: "running" };
  };
  return { calls, run };
}

describe("control client", () => {
  let hub: FakeHub;
  let stateDir: string;
  const clients: ControlClient[] = [];
  const sessions: ReportedSession[] = [{ sessionId: randomUUID(), state: "running" }];

  beforeEach(async () => {
    hub = await startFakeHub({ bridgeToken: TOKEN, welcome: { bridgeId: BRIDGE_ID, heartbeatIntervalMs: 100 } });
    stateDir = mkdtempSync(join(tmpdir(), "atrium-bridge-state-"));
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.shutdown()));
    await hub.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function newClient(runCommand: ControlClientOptions["runCommand"], extra: Partial<ControlClientOptions> = {}) {
    const memory = await CommandMemory.open(join(stateDir, "commands.json"), { log: silentLogger });
    const client = new ControlClient({
      url: hub.controlUrl,
      token: TOKEN,
      identity: { bridgeId: BRIDGE_ID, platform: "docker", region: "eu-west", version: "0.1.0", capacity: 8 },
      listSessions: async () => sessions,
      runCommand,
      memory,
      log: silentLogger,
      backoff: { initialMs: 20, maxMs: 200 },
      drainTimeoutMs: 2_000,
      ...extra,
    });
    clients.push(client);
    client.start();
    return client;
  }

  it("says hello with its identity and the driver's sessions, authenticated by bearer token, then heartbeats at the welcome's interval", async () => {
    await newClient(scriptedRunner().run);
    const conn = await hub.nextControl(0);
    expect(conn.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const hello = await conn.waitFor("hello");
    expect(hello).toEqual({
      type: "hello",
      bridgeId: BRIDGE_ID,
      platform: "docker",
      region: "eu-west",
      version: "0.1.0",
      capacity: 8,
      sessions,
    });
    expect(conn.frames[0]?.type).toBe("hello");
    await conn.waitFor("heartbeat");
    await expect.poll(() => conn.ofType("heartbeat").length, { timeout: 2_000 }).toBeGreaterThanOrEqual(3);
    expect(conn.ofType("heartbeat")[0]).toEqual({ type: "heartbeat", sessions });
    expect(conn.invalid).toEqual([]);
  });

  it("acks a command at once and then completes it with the driver's result; a failing command is failed with its code", async () => {
    const ok = scriptedRunner({ delayMs: 100 });
    await newClient(async (c) =>
      c.action === "stop_session" ? Promise.reject(new BridgeError("SESSION_NOT_FOUND", "no such session")) : ok.run(c),
    );
    const conn = await hub.nextControl(0);
    await conn.waitFor("hello");

    const command = startCommand();
    conn.send(command);
    await conn.waitFor("ack", (f) => f.id === command.id);
    expect(conn.ofType("complete")).toEqual([]); // acked before the 100 ms of work are done
    expect(await conn.waitFor("complete", (f) => f.id === command.id)).toEqual({
      type: "complete",
      id: command.id,
      result: { sessionId: command.payload.sessionId, state: "running" },
    });

    const stop: CommandFrame = { type: "command", id: "cmd-stop-1", action: "stop_session", payload: { sessionId: randomUUID() } };
    conn.send(stop);
    expect(await conn.waitFor("failed", (f) => f.id === stop.id)).toEqual({
      type: "failed",
      id: stop.id,
      error: { code: "SESSION_NOT_FOUND", message: "no such session" },
    });
    const forStop = conn.frames.filter((f) => "id" in f && f.id === stop.id).map((f) => f.type);
    expect(forStop).toEqual(["ack", "failed"]);
  });

  it("answers a repeated command id from memory without running it again — also after a restart with the same state dir", async () => {
    const runner = scriptedRunner();
    const first = await newClient(runner.run);
    const conn = await hub.nextControl(0);
    await conn.waitFor("hello");
    const command = startCommand();
    conn.send(command);
    const original = await conn.waitFor("complete", (f) => f.id === command.id);

    conn.send(command);
    await expect.poll(() => conn.ofType("complete").filter((f) => f.id === command.id).length).toBe(2);
    expect(conn.ofType("complete").filter((f) => f.id === command.id)).toEqual([original, original]);
    expect(runner.calls).toHaveLength(1);

    // A new bridge process with the same state dir remembers it too.
    await first.shutdown();
    const restarted = scriptedRunner();
    await newClient(restarted.run);
    const conn2 = await hub.nextControl(1);
    await conn2.waitFor("hello");
    conn2.send(command);
    expect(await conn2.waitFor("complete", (f) => f.id === command.id)).toEqual(original);
    expect(restarted.calls).toHaveLength(0);
  });

  it("a command redelivered while still running is only acked again, and completes once", async () => {
    const runner = scriptedRunner({ delayMs: 300 });
    await newClient(runner.run);
    const conn = await hub.nextControl(0);
    await conn.waitFor("hello");
    const command = startCommand();
    conn.send(command);
    await conn.waitFor("ack");
    conn.send(command);
    await expect.poll(() => conn.ofType("ack").length).toBe(2);
    await conn.waitFor("complete");
    await new Promise((r) => setTimeout(r, 100));
    expect(conn.ofType("complete")).toHaveLength(1);
    expect(runner.calls).toHaveLength(1);
  });

  it("reconnects after the hub drops it, delivers the answer it finished meanwhile after the new hello, and runs the resent command only once", async () => {
    const runner = scriptedRunner({ delayMs: 200 });
    const client = await newClient(runner.run);
    const conn = await hub.nextControl(0);
    await conn.waitFor("hello");
    const command = startCommand();
    conn.send(command);
    await conn.waitFor("ack");
    conn.ws.terminate(); // the hub goes away mid-command
    hub.refuseNext(2); // and refuses the first two re-dials

    const conn2 = await hub.nextControl(1);
    const hello = await conn2.waitFor("hello");
    expect(hello.sessions).toEqual(sessions);
    expect(hub.refused).toBe(2);
    // The result that could not be sent on the dead socket arrives after the new hello.
    await conn2.waitFor("complete", (f) => f.id === command.id);
    expect(conn2.frames.findIndex((f) => f.type === "complete")).toBeGreaterThan(conn2.frames.findIndex((f) => f.type === "hello"));
    // The hub did not see the ack, so it redelivers: answered from memory.
    conn2.send(command);
    await expect.poll(() => conn2.ofType("complete").length).toBe(2);
    expect(runner.calls).toHaveLength(1);
    expect(client.connected).toBe(true);
  });

  it("logs and ignores frames that are not valid hub frames, but fails a malformed command whose id it can read", async () => {
    const runner = scriptedRunner();
    await newClient(runner.run);
    const conn = await hub.nextControl(0);
    await conn.waitFor("hello");
    conn.send("{not json");
    conn.send({ type: "surprise" });
    conn.send({ type: "welcome", bridgeId: BRIDGE_ID, heartbeatIntervalMs: -5 });
    conn.send({ type: "command", id: "cmd-bad", action: "reboot_session", payload: {} });
    conn.send({ type: "command", id: "cmd-bad-payload", action: "start_session", payload: { sessionId: "not-a-uuid" } });

    const bad = await conn.waitFor("failed", (f) => f.id === "cmd-bad");
    expect(bad.error.code).toBe("INVALID_COMMAND");
    expect((await conn.waitFor("failed", (f) => f.id === "cmd-bad-payload")).error.code).toBe("INVALID_COMMAND");
    // Still alive and well.
    const good = startCommand();
    conn.send(good);
    await conn.waitFor("complete", (f) => f.id === good.id);
    expect(runner.calls.map((c) => c.id)).toEqual([good.id]);
    expect(hub.control).toHaveLength(1);
  });

  it("terminates a hub that stops answering pings and dials again", async () => {
    await newClient(scriptedRunner().run, { pingIntervalMs: 100 });
    const conn = await hub.nextControl(0);
    await conn.waitFor("hello");
    // A frozen peer: the hub's end stops reading, so no pong ever comes back.
    (conn.ws as unknown as { _socket: Socket })._socket.pause();
    const conn2 = await hub.nextControl(1, 3_000);
    await conn2.waitFor("hello");
  });

  it("shutdown sends draining, takes no new command, waits for the running one to complete and closes with 1001", async () => {
    const runner = scriptedRunner({ delayMs: 400 });
    const client = await newClient(runner.run);
    const conn = await hub.nextControl(0);
    await conn.waitFor("hello");
    const running = startCommand();
    conn.send(running);
    await conn.waitFor("ack");

    const stopped = client.shutdown();
    await conn.waitFor("draining");
    const late = startCommand();
    conn.send(late);
    await stopped;
    expect(await conn.closed).toEqual({ code: 1001, reason: "bridge shutting down" });
    expect(conn.ofType("complete").map((f) => f.id)).toEqual([running.id]);
    expect(conn.ofType("ack").map((f) => f.id)).toEqual([running.id]); // the late one was not acked: the hub keeps it pending
    expect(runner.calls.map((c) => c.id)).toEqual([running.id]);
    await new Promise((r) => setTimeout(r, 100));
    expect(hub.control).toHaveLength(1); // and it does not reconnect
  });
});
