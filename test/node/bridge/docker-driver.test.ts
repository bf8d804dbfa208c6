/**
 * The docker driver through the real `dockerode` against the Docker Engine API stand-in on a unix
 * socket: the container it creates, image pulls, and what hibernate / wake / stop do.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DockerDriver } from "../../../node-bridge/drivers/docker.ts";
import { silentLogger } from "../../../node-bridge/log.ts";
import { type DockerEngineStandIn, startDockerEngineStandIn } from "../../stand-ins/docker-engine.ts";
import { startPayload } from "./fixtures.ts";

const BRIDGE_ID = "0b8f2f5e-3c1d-4a9b-8e7f-6d5c4b3a2910";
const IMAGE = "ghcr.io/atrium/desktop-xfce:1.4";

describe("docker driver", () => {
  let dir: string;
  let engine: DockerEngineStandIn;
  let driver: DockerDriver;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "atrium-docker-"));
    engine = await startDockerEngineStandIn(join(dir, "docker.sock"), { unpullableImages: ["ghcr.io/example/missing:1"] });
    driver = new DockerDriver({
      settings: { socketPath: engine.socketPath, apiVersion: "v1.44", vncHost: "127.0.0.1" },
      bridgeId: BRIDGE_ID,
      log: silentLogger,
    });
  });
  afterEach(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("start pulls a missing image, then creates and starts a labelled, limited container publishing VNC on 127.0.0.1 only", async () => {
    const payload = startPayload({
      template: { image: IMAGE, cpu: 1.5, memoryMb: 2048, runtimeClass: "runsc", env: { TZ: "Europe/Paris" } },
    });
    await driver.start(payload);

    expect(engine.images()).toContain(IMAGE);
    const c = engine.container(`atrium-session-${payload.sessionId}`)!;
    expect(c.State.Running).toBe(true);
    expect(c.Config.Image).toBe(IMAGE);
    expect(c.Config.Labels).toMatchObject({ "atrium.session": payload.sessionId, "atrium.bridge": BRIDGE_ID });
    expect(c.Config.Env).toEqual(
      expect.arrayContaining(["TZ=Europe/Paris", `ATRIUM_SESSION_ID=${payload.sessionId}`, "ATRIUM_SCREEN_WIDTH=1280"]),
    );
    expect(c.Config.ExposedPorts).toEqual({ "5900/tcp": {} });
    expect(c.HostConfig).toMatchObject({
      PortBindings: { "5900/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
      Memory: 2048 * 1024 * 1024,
      NanoCpus: 1_500_000_000,
      Runtime: "runsc",
      RestartPolicy: { Name: "unless-stopped" },
    });
    // Every call went through the configured version prefix; create failed once (no image), then pulled.
    expect(engine.requests.every((r) => r.version === "v1.44")).toBe(true);
    const calls = engine.requests.map((r) => `${r.method} ${r.path}`);
    expect(calls.filter((c) => c.startsWith("POST"))).toEqual([
      "POST /containers/create",
      "POST /images/create",
      "POST /containers/create",
      `POST /containers/atrium-session-${payload.sessionId}/start`,
    ]);
    expect(engine.requests.find((r) => r.path === "/images/create")?.query).toMatchObject({
      fromImage: "ghcr.io/atrium/desktop-xfce",
      tag: "1.4",
    });

    const endpoint = await driver.vncEndpoint(payload.sessionId);
    expect(endpoint.host).toBe("127.0.0.1");
    expect(await readGreeting(endpoint.port)).toBe("RFB 003.008\n");
    expect(await driver.list()).toEqual([{ sessionId: payload.sessionId, state: "running" }]);
  });

  it("hibernate stops the container, wake starts the same one again, stop removes it and its home volume", async () => {
    const payload = startPayload({ template: { image: IMAGE, persistentHome: true } });
    await driver.start(payload);
    const id = engine.container(`atrium-session-${payload.sessionId}`)!.Id;
    expect(engine.volumes().map((v) => v.Name)).toEqual([`atrium-home-${payload.sessionId}`]);
    expect(engine.container(id)!.HostConfig.Mounts).toEqual([
      { Type: "volume", Source: `atrium-home-${payload.sessionId}`, Target: "/home/user" },
    ]);

    await driver.hibernate(payload.sessionId);
    expect(engine.container(id)!.State.Status).toBe("exited");
    expect(await driver.list()).toMatchObject([{ sessionId: payload.sessionId, state: "hibernated" }]);
    await driver.hibernate(payload.sessionId); // already stopped: 304 is success

    await driver.wake(payload);
    expect(engine.containers()).toHaveLength(1);
    expect(engine.container(id)!.State.Running).toBe(true);

    await driver.stop(payload.sessionId);
    expect(engine.containers()).toEqual([]);
    expect(engine.volumes()).toEqual([]);
    const remove = engine.requests.find((r) => r.method === "DELETE" && r.path.startsWith("/containers/"));
    expect(remove?.query).toMatchObject({ force: "true", v: "true" });
    await driver.stop(payload.sessionId); // gone already: still fine
  });

  it("lists only this bridge's containers, filtering by label on the engine", async () => {
    const other = new DockerDriver({
      settings: { socketPath: engine.socketPath, apiVersion: undefined, vncHost: "127.0.0.1" },
      bridgeId: randomUUID(),
      log: silentLogger,
    });
    const mine = startPayload({ template: { image: IMAGE } });
    await driver.start(mine);
    await other.start(startPayload({ template: { image: IMAGE } }));
    expect(await driver.list()).toEqual([{ sessionId: mine.sessionId, state: "running" }]);
    const list = engine.requests.find((r) => r.path === "/containers/json");
    expect(JSON.parse(list!.query.filters!)).toEqual({ label: ["atrium.session", `atrium.bridge=${BRIDGE_ID}`] });
    // Without a configured version the driver uses unversioned paths (the engine's own version).
    expect(engine.requests.some((r) => r.version === undefined)).toBe(true);
  });

  it("a start whose image cannot be pulled fails with IMAGE_PULL_FAILED and the engine's reason; unknown sessions fail with SESSION_NOT_FOUND", async () => {
    await expect(driver.start(startPayload({ template: { image: "ghcr.io/example/missing:1" } }))).rejects.toMatchObject({
      code: "IMAGE_PULL_FAILED",
      message: expect.stringContaining("pull access denied"),
    });
    await expect(driver.hibernate(randomUUID())).rejects.toMatchObject({ code: "SESSION_NOT_FOUND" });
    await expect(driver.vncEndpoint(randomUUID())).rejects.toMatchObject({ code: "SESSION_NOT_FOUND" });
  });
});

function readGreeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("data", (d) => {
      resolve(d.toString());
      socket.destroy();
    });
    socket.once("error", reject);
  });
}
