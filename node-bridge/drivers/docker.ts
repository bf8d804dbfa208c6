/**
 * Desktops as Docker containers, through `dockerode` on the engine's unix socket. One container per
 * session, named after it and labelled `atrium.session=<id>` / `atrium.bridge=<bridge id>`, its
 * VNC port published on a random port of 127.0.0.1 only (so nothing but the bridge's host can
 * dial it). Hibernate stops the container (its writable layer and home volume stay), wake starts
 * it again, stop removes it and its home volume.
 *
 * Docker has no NetworkPolicy: a container on the default bridge network can reach the host's
 * LAN. Operators who need the kubernetes driver's egress fence run desktops on an isolated
 * network or with a `runtimeClass` (mapped to a Docker runtime such as gVisor's runsc).
 */
import Docker from "dockerode";
import type { ReportedSession, StartPayload } from "../../durable-objects/bridge/protocol.ts";
import type { DockerSettings } from "../config.ts";
import { BridgeError, errorMessage, httpStatusOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type DesktopDriver, homeVolumeName, sessionEnv, sessionResourceName, type VncEndpoint, VNC_PORT } from "./driver.ts";

export const DOCKER_SESSION_LABEL = "atrium.session";
export const DOCKER_BRIDGE_LABEL = "atrium.bridge";
const VNC_PORT_KEY = `${VNC_PORT}/tcp`;

export interface DockerDriverOptions {
  settings: DockerSettings;
  bridgeId: string;
  log: Logger;
}

export class DockerDriver implements DesktopDriver {
  readonly platform = "docker" as const;
  readonly canHibernate = true;
  readonly #docker: Docker;
  readonly #settings: DockerSettings;
  readonly #bridgeId: string;
  readonly #log: Logger;

  constructor(options: DockerDriverOptions) {
    this.#settings = options.settings;
    this.#bridgeId = options.bridgeId;
    this.#log = options.log;
    this.#docker = new Docker({
      socketPath: options.settings.socketPath,
      ...(options.settings.apiVersion ? { version: options.settings.apiVersion } : {}),
    });
  }

  async list(): Promise<ReportedSession[]> {
    const containers = await this.#docker.listContainers({
      all: true,
      filters: { label: [DOCKER_SESSION_LABEL, `${DOCKER_BRIDGE_LABEL}=${this.#bridgeId}`] },
    });
    return containers.flatMap((c): ReportedSession[] => {
      const sessionId = c.Labels[DOCKER_SESSION_LABEL];
      if (!sessionId) return [];
      switch (c.State) {
        case "running":
          return [{ sessionId, state: "running" }];
        case "created":
        case "restarting":
          return [{ sessionId, state: "starting" }];
        // A stopped container is what hibernate leaves behind; wake starts it again.
        case "exited":
        case "paused":
          return [{ sessionId, state: "hibernated", detail: c.Status.slice(0, 500) }];
        default:
          return [{ sessionId, state: "failed", detail: c.Status.slice(0, 500) }];
      }
    });
  }

  async start(payload: StartPayload): Promise<void> {
    if (payload.template.kind !== "container") {
      throw new BridgeError(
        "TEMPLATE_UNSUPPORTED",
        `the docker driver runs container templates; "${payload.template.name}" is a ${payload.template.kind}`,
      );
    }
    const name = sessionResourceName(payload.sessionId);
    if (!(await this.#inspect(name))) await this.#create(payload);
    await this.#startContainer(name);
    this.#log.info("session container running", { sessionId: payload.sessionId, container: name });
  }

  /** Starts the stopped container; if it vanished (pruned), a fresh one is created from the payload. */
  wake(payload: StartPayload): Promise<void> {
    return this.start(payload);
  }

  async hibernate(sessionId: string): Promise<void> {
    try {
      await this.#docker.getContainer(sessionResourceName(sessionId)).stop({ t: 10 });
    } catch (e: unknown) {
      const status = httpStatusOf(e);
      if (status === 404) throw new BridgeError("SESSION_NOT_FOUND", `no container for session ${sessionId}`, { cause: e });
      if (status !== 304) throw e; // 304: already stopped
    }
  }

  async stop(sessionId: string): Promise<void> {
    await ignoring(404, () => this.#docker.getContainer(sessionResourceName(sessionId)).remove({ force: true, v: true }));
    await ignoring(404, () => this.#docker.getVolume(homeVolumeName(sessionId)).remove());
  }

  async vncEndpoint(sessionId: string): Promise<VncEndpoint> {
    const info = await this.#inspect(sessionResourceName(sessionId));
    if (!info?.State.Running) throw new BridgeError("SESSION_NOT_FOUND", `session ${sessionId} has no running container`);
    const hostPort = info.NetworkSettings.Ports[VNC_PORT_KEY]?.[0]?.HostPort;
    if (!hostPort) throw new BridgeError("DESKTOP_START_FAILED", `container of session ${sessionId} does not publish ${VNC_PORT_KEY}`);
    return { host: this.#settings.vncHost, port: Number(hostPort) };
  }

  async #create(payload: StartPayload): Promise<void> {
    const { sessionId, template } = payload;
    const labels = { [DOCKER_SESSION_LABEL]: sessionId, [DOCKER_BRIDGE_LABEL]: this.#bridgeId, "atrium.template": template.templateId };
    const mounts: Docker.MountSettings[] = [];
    if (template.persistentHome) {
      await this.#docker.createVolume({ Name: homeVolumeName(sessionId), Labels: labels });
      mounts.push({ Type: "volume", Source: homeVolumeName(sessionId), Target: "/home/user" });
    }
    const spec: Docker.ContainerCreateOptions = {
      name: sessionResourceName(sessionId),
      Image: template.image,
      Env: Object.entries(sessionEnv(payload)).map(([k, v]) => `${k}=${v}`),
      Labels: labels,
      ExposedPorts: { [VNC_PORT_KEY]: {} },
      HostConfig: {
        // Empty HostPort: the engine picks a free one; 127.0.0.1: never on the host's public interfaces.
        PortBindings: { [VNC_PORT_KEY]: [{ HostIp: "127.0.0.1", HostPort: "" }] },
        Memory: template.memoryMb * 1024 * 1024,
        NanoCpus: Math.round(template.cpu * 1e9),
        // Survives a daemon restart while running; stays stopped once hibernated.
        RestartPolicy: { Name: "unless-stopped" },
        SecurityOpt: ["no-new-privileges"],
        ...(template.runtimeClass ? { Runtime: template.runtimeClass } : {}),
        ...(mounts.length > 0 ? { Mounts: mounts } : {}),
      },
    };
    try {
      await this.#docker.createContainer(spec);
    } catch (e: unknown) {
      if (httpStatusOf(e) === 409) return; // created meanwhile by an earlier attempt
      if (httpStatusOf(e) !== 404) throw e;
      // 404 on create = the image is not on this host yet.
      await this.#pull(template.image);
      await this.#docker.createContainer(spec);
    }
  }

  async #pull(image: string): Promise<void> {
    this.#log.info("pulling image", { image });
    const failed = (detail: string, cause?: unknown) =>
      new BridgeError("IMAGE_PULL_FAILED", `pulling ${image} failed: ${detail}`, { cause });
    let stream: NodeJS.ReadableStream;
    try {
      stream = await this.#docker.pull(image);
    } catch (e: unknown) {
      throw failed(errorMessage(e), e);
    }
    // The engine answers 200 and reports a failure mid-stream as a line with `error`.
    await new Promise<void>((resolve, reject) => {
      this.#docker.modem.followProgress(stream, (err: Error | null, output: { error?: string }[]) => {
        const streamed = output?.find((o) => o.error)?.error;
        if (err || streamed) reject(failed(err ? errorMessage(err) : String(streamed), err));
        else resolve();
      });
    });
  }

  async #startContainer(name: string): Promise<void> {
    await ignoring(304, () => this.#docker.getContainer(name).start());
    const info = await this.#inspect(name);
    if (!info?.State.Running)
      throw new BridgeError("DESKTOP_START_FAILED", `container ${name} is ${info?.State.Status ?? "gone"} after start`);
  }

  async #inspect(name: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.#docker.getContainer(name).inspect();
    } catch (e: unknown) {
      if (httpStatusOf(e) === 404) return undefined;
      throw e;
    }
  }
}

async function ignoring(status: number, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (e: unknown) {
    if (httpStatusOf(e) !== status) throw e;
  }
}
