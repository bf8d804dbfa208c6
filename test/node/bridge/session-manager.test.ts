/**
 * Commands → driver calls → data relays, with the real docker driver against the Docker Engine
 * stand-in (whose containers publish a VNC-like port) and the in-test hub's primary and data
 * sockets.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CommandFrame, StartPayload } from "../../../durable-objects/bridge/protocol.ts";
import { DockerDriver } from "../../../node-bridge/drivers/docker.ts";
import { LocalDriver } from "../../../node-bridge/drivers/local.ts";
import { silentLogger } from "../../../node-bridge/log.ts";
import { SessionManager } from "../../../node-bridge/session-manager.ts";
import { type DockerEngineStandIn, startDockerEngineStandIn } from "../../stand-ins/docker-engine.ts";
import { type FakeHub, startFakeHub } from "./fake-hub.ts";
import { startPayload } from "./fixtures.ts";

const IMAGE = "ghcr.io/atrium/desktop-xfce:1.4";
const DATA_TOKEN = "per-session-data-token-0123456789";
const GREETING = "RFB 003.008\n";

describe("session manager", () => {
  let dir: string;
  let hub: FakeHub;
  let engine: DockerEngineStandIn;
  let driver: DockerDriver;
  const managers: SessionManager[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "atrium-sessions-"));
    hub = await startFakeHub({ bridgeToken: "unused-bridge-token-000000", dataToken: DATA_TOKEN });
    engine = await startDockerEngineStandIn(join(dir, "docker.sock"), { images: [IMAGE] });
    driver = new DockerDriver({
      settings: { socketPath: engine.socketPath, apiVersion: undefined, vncHost: "127.0.0.1" },
      bridgeId: randomUUID(),
      log: silentLogger,
    });
  });
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.closeRelays()));
    await hub.close();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const newManager = () => {
    const m = new SessionManager({
      driver,
      log: silentLogger,
      relayFile: join(dir, "relays.json"),
      relayOptions: { backoff: { initialMs: 20, maxMs: 100 } },
    });
    managers.push(m);
    return m;
  };
  const payloadFor = (): StartPayload => {
    const sessionId = randomUUID();
    return startPayload({
      sessionId,
      dataUrl: hub.dataUrl(sessionId),
      dataToken: DATA_TOKEN,
      template: { image: IMAGE, persistentHome: true },
    });
  };
  const command = (action: CommandFrame["action"], payload: StartPayload): CommandFrame =>
    action === "start_session" || action === "wake_session"
      ? { type: "command", id: randomUUID(), action, payload }
      : { type: "command", id: randomUUID(), action, payload: { sessionId: payload.sessionId } };

  it("start opens the session's primary socket with its token and viewers get the desktop's RFB greeting; hibernate closes every socket, wake reopens the primary, stop ends it", async () => {
    const manager = newManager();
    const payload = payloadFor();
    expect(await manager.run(command("start_session", payload))).toEqual({ sessionId: payload.sessionId, state: "running" });
    const primary = await hub.nextPrimary(0);
    expect(primary.sessionId).toBe(payload.sessionId);
    expect(primary.headers.authorization).toBe(`Bearer ${DATA_TOKEN}`);
    const viewer = await hub.openViewer(payload.sessionId);
    await expect.poll(() => viewer.bytes().toString()).toBe(GREETING);

    expect(await manager.run(command("hibernate_session", payload))).toEqual({ sessionId: payload.sessionId, state: "hibernated" });
    expect(await primary.closed).toEqual({ code: 1000, reason: "session hibernating" });
    expect(await viewer.closed).toEqual({ code: 1000, reason: "session hibernating" });
    expect(engine.container(`atrium-session-${payload.sessionId}`)?.State.Status).toBe("exited");
    expect(manager.relay(payload.sessionId)).toBeUndefined();

    await manager.run(command("wake_session", payload));
    const woken = await hub.nextPrimary(1);
    expect(woken.sessionId).toBe(payload.sessionId);
    const again = await hub.openViewer(payload.sessionId);
    await expect.poll(() => again.bytes().toString()).toBe(GREETING);

    expect(await manager.run(command("stop_session", payload))).toEqual({ sessionId: payload.sessionId, state: "stopped" });
    expect(await woken.closed).toEqual({ code: 1000, reason: "session stopped" });
    expect(await again.closed).toEqual({ code: 1000, reason: "session stopped" });
    expect(engine.containers()).toEqual([]);
    expect(JSON.parse(readFileSync(join(dir, "relays.json"), "utf8")).sessions).toEqual({});
  });

  it("a restarted bridge re-opens the primary sockets of desktops that are still running, and only those", async () => {
    const before = newManager();
    const [kept, stopped] = [payloadFor(), payloadFor()];
    await before.run(command("start_session", kept));
    await before.run(command("start_session", stopped));
    await hub.nextPrimary(1);
    await before.closeRelays();
    // While the bridge was down, one desktop went away.
    await driver.stop(stopped.sessionId);

    const after = newManager();
    await after.restore();
    const reopened = await hub.nextPrimary(2);
    expect(reopened.sessionId).toBe(kept.sessionId);
    expect(reopened.headers.authorization).toBe(`Bearer ${DATA_TOKEN}`);
    const viewer = await hub.openViewer(kept.sessionId);
    await expect.poll(() => viewer.bytes().toString()).toBe(GREETING);
    expect(after.relay(stopped.sessionId)).toBeUndefined();
    expect(Object.keys(JSON.parse(readFileSync(join(dir, "relays.json"), "utf8")).sessions)).toEqual([kept.sessionId]);
    expect(hub.primaries).toHaveLength(3);
  });

  it("runs commands for one session in order: a stop sent during the start waits for it", async () => {
    const manager = newManager();
    const payload = payloadFor();
    const started = manager.run(command("start_session", payload));
    const stopped = manager.run(command("stop_session", payload));
    await Promise.all([started, stopped]);
    const calls = engine.requests.map((r) => `${r.method} ${r.path.replace(payload.sessionId, "ID")}`);
    expect(calls.indexOf("POST /containers/atrium-session-ID/start")).toBeLessThan(calls.indexOf("DELETE /containers/atrium-session-ID"));
    expect(engine.containers()).toEqual([]);
  });

  it("refuses to hibernate on a driver that cannot, leaving the relay alone", async () => {
    const manager = new SessionManager({
      driver: new LocalDriver({
        settings: { displayFirst: 1, displayLast: 1, uidBase: 2_000_000_000, sameUser: false },
        log: silentLogger,
      }),
      log: silentLogger,
    });
    await expect(manager.run(command("hibernate_session", payloadFor()))).rejects.toMatchObject({ code: "HIBERNATE_UNSUPPORTED" });
  });
});
