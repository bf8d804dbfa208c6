/**
 * A local stand-in of the Docker Engine API, the subset node-bridge's docker driver uses, served
 * over a unix socket so the real `dockerode` (docker-modem) talks to it as to dockerd: `/_ping`,
 * `/version`, containers create / start / stop / inspect / list (with `label` filters) / remove,
 * image pulls (`POST /images/create`, a JSON progress stream) and named volumes — with or without
 * a version prefix such as `/v1.47/`, answering in the engine's shapes and status codes (201, 204,
 * 304 "already started", 404 "No such container", 409 conflicts). A started container's published
 * 5900/tcp is a real TCP listener on 127.0.0.1 that greets like an RFB server, so relays can dial
 * it. Every request is recorded.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { readBody, sendJson } from "./http.ts";

export interface RecordedDockerRequest {
  method: string;
  /** Path without the version prefix. */
  path: string;
  /** The version prefix, e.g. "v1.47", when the client sent one. */
  version: string | undefined;
  query: Record<string, string>;
  body: unknown;
}

export interface DockerEngineStandInOptions {
  /** Images present before any pull ("repo:tag"). */
  images?: readonly string[];
  /** Images whose pull is refused like a missing repository. */
  unpullableImages?: readonly string[];
}

/** Engine objects are free-form JSON, as on the real daemon. */
export type DockerObject = Record<string, any>;

export interface DockerEngineStandIn {
  socketPath: string;
  requests: RecordedDockerRequest[];
  containers(): DockerObject[];
  container(nameOrId: string): DockerObject | undefined;
  volumes(): DockerObject[];
  images(): string[];
  close(): Promise<void>;
}

const API_VERSION = "1.47";

export async function startDockerEngineStandIn(socketPath: string, options: DockerEngineStandInOptions = {}): Promise<DockerEngineStandIn> {
  const requests: RecordedDockerRequest[] = [];
  const images = new Set((options.images ?? []).map(normalizeImage));
  const containers = new Map<string, DockerObject>();
  const volumes = new Map<string, DockerObject>();
  const vncServers = new Map<string, { server: TcpServer; sockets: Set<Socket> }>();

  const find = (ref: string): DockerObject | undefined => {
    const byId = containers.get(ref);
    if (byId) return byId;
    for (const c of containers.values()) if (c.Name === `/${ref}` || (ref.length >= 12 && c.Id.startsWith(ref))) return c;
    return undefined;
  };

  const openVnc = async (c: DockerObject): Promise<number> => {
    const sockets = new Set<Socket>();
    const server = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
      socket.write("RFB 003.008\n");
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    vncServers.set(c.Id, { server, sockets });
    const address = server.address();
    return typeof address === "object" && address ? address.port : 0;
  };
  const closeVnc = (c: DockerObject) => {
    const vnc = vncServers.get(c.Id);
    if (!vnc) return;
    vncServers.delete(c.Id);
    for (const s of vnc.sockets) s.destroy();
    vnc.server.close();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://docker");
    const versioned = /^\/(v\d+\.\d+)(\/.*)$/.exec(url.pathname);
    const version = versioned?.[1];
    const path = versioned?.[2] ?? url.pathname;
    const text = await readBody(req);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return sendError(res, 400, "invalid JSON body");
    }
    const query = Object.fromEntries(url.searchParams);
    requests.push({ method: req.method ?? "GET", path, version, query, body });
    res.setHeader("Api-Version", API_VERSION);
    res.setHeader("Ostype", "linux");
    res.setHeader("Server", `Docker/27.5.1 (linux)`);
    const route = `${req.method} ${path}`;

    if (route === "GET /_ping" || route === "HEAD /_ping") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      return res.end(req.method === "HEAD" ? undefined : "OK");
    }
    if (route === "GET /version") {
      return sendJson(res, 200, {
        Version: "27.5.1",
        ApiVersion: API_VERSION,
        MinAPIVersion: "1.24",
        Os: "linux",
        Arch: "amd64",
        KernelVersion: "6.1.0",
      });
    }
    if (route === "POST /images/create") {
      const image = normalizeImage(`${query.fromImage ?? ""}:${query.tag ?? "latest"}`);
      if (options.unpullableImages?.map(normalizeImage).includes(image)) {
        return sendError(res, 404, `pull access denied for ${query.fromImage}, repository does not exist or may require 'docker login'`);
      }
      images.add(image);
      res.writeHead(200, { "content-type": "application/json" });
      const tag = image.slice(image.lastIndexOf(":") + 1);
      for (const line of [
        { status: `Pulling from ${query.fromImage}`, id: tag },
        { status: "Pulling fs layer", progressDetail: {}, id: "a1b2c3d4e5f6" },
        { status: "Pull complete", progressDetail: {}, id: "a1b2c3d4e5f6" },
        { status: `Digest: sha256:${"ab".repeat(32)}` },
        { status: `Status: Downloaded newer image for ${image}` },
      ]) {
        res.write(`${JSON.stringify(line)}\r\n`);
      }
      return res.end();
    }
    if (route === "GET /containers/json") {
      const matches = parseFilters(query.filters);
      if (!matches) return sendError(res, 400, "invalid filter");
      const all = query.all === "1" || query.all === "true";
      const list = [...containers.values()].filter((c) => (all || c.State.Running) && matches(c)).map(summarize);
      return sendJson(res, 200, list);
    }
    if (route === "POST /containers/create") {
      const spec = body as DockerObject | undefined;
      if (!spec || typeof spec.Image !== "string") return sendError(res, 400, "config cannot be empty in order to create a container");
      const name = query.name;
      if (name !== undefined && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name))
        return sendError(res, 400, `Invalid container name (${name})`);
      if (name !== undefined && find(name)) {
        return sendError(
          res,
          409,
          `Conflict. The container name "/${name}" is already in use by container "${find(name)?.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
      if (!images.has(normalizeImage(spec.Image))) return sendError(res, 404, `No such image: ${spec.Image}`);
      const id = randomBytes(32).toString("hex");
      const { HostConfig = {}, ...config } = spec;
      for (const m of HostConfig.Mounts ?? []) {
        if (m.Type === "volume" && m.Source && !volumes.has(m.Source)) volumes.set(m.Source, volumeObject(m.Source, {}));
      }
      const container: DockerObject = {
        Id: id,
        Name: `/${name ?? `stand_in_${id.slice(0, 6)}`}`,
        Created: new Date().toISOString(),
        Image: `sha256:${"cd".repeat(32)}`,
        Config: { Hostname: id.slice(0, 12), ...config, Labels: config.Labels ?? {}, Env: config.Env ?? [] },
        HostConfig,
        State: {
          Status: "created",
          Running: false,
          Paused: false,
          Restarting: false,
          OOMKilled: false,
          Dead: false,
          Pid: 0,
          ExitCode: 0,
          Error: "",
          StartedAt: "0001-01-01T00:00:00Z",
          FinishedAt: "0001-01-01T00:00:00Z",
        },
        NetworkSettings: { Ports: {}, IPAddress: "", Networks: { bridge: { IPAddress: "" } } },
        Mounts: (HostConfig.Mounts ?? []).map((m: DockerObject) => ({
          Type: m.Type,
          Name: m.Source,
          Destination: m.Target,
          RW: !m.ReadOnly,
        })),
      };
      containers.set(id, container);
      return sendJson(res, 201, { Id: id, Warnings: [] });
    }
    const m = /^\/containers\/([^/]+)(?:\/(json|start|stop))?$/.exec(path);
    if (m) {
      const [, ref = "", action] = m;
      const c = find(decodeURIComponent(ref));
      if (!c) return sendError(res, 404, `No such container: ${decodeURIComponent(ref)}`);
      if (req.method === "GET" && action === "json") return sendJson(res, 200, c);
      if (req.method === "POST" && action === "start") {
        if (c.State.Running) return sendEmpty(res, 304);
        const published: DockerObject = {};
        for (const [port, bindings] of Object.entries<DockerObject[]>(c.HostConfig.PortBindings ?? {})) {
          const hostPort = port === "5900/tcp" ? await openVnc(c) : 30000 + Math.floor(Math.random() * 10000);
          published[port] = bindings.map((b) => ({ HostIp: b.HostIp || "0.0.0.0", HostPort: b.HostPort || String(hostPort) }));
        }
        c.State = {
          ...c.State,
          Status: "running",
          Running: true,
          Pid: 4000 + containers.size,
          StartedAt: new Date().toISOString(),
          ExitCode: 0,
        };
        c.NetworkSettings = { Ports: published, IPAddress: "172.17.0.2", Networks: { bridge: { IPAddress: "172.17.0.2" } } };
        return sendEmpty(res, 204);
      }
      if (req.method === "POST" && action === "stop") {
        if (!c.State.Running) return sendEmpty(res, 304);
        closeVnc(c);
        c.State = { ...c.State, Status: "exited", Running: false, Pid: 0, ExitCode: 143, FinishedAt: new Date().toISOString() };
        c.NetworkSettings = { Ports: {}, IPAddress: "", Networks: { bridge: { IPAddress: "" } } };
        return sendEmpty(res, 204);
      }
      if (req.method === "DELETE" && !action) {
        const force = query.force === "1" || query.force === "true";
        if (c.State.Running && !force) {
          return sendError(
            res,
            409,
            `cannot remove container "${c.Name}": container is running: stop the container before removing or force remove`,
          );
        }
        closeVnc(c);
        containers.delete(c.Id);
        return sendEmpty(res, 204);
      }
    }
    if (route === "POST /volumes/create") {
      const spec = (body ?? {}) as DockerObject;
      const name = typeof spec.Name === "string" && spec.Name ? spec.Name : randomBytes(32).toString("hex");
      const existing = volumes.get(name);
      if (existing) return sendJson(res, 201, existing);
      const volume = volumeObject(name, spec.Labels ?? {});
      volumes.set(name, volume);
      return sendJson(res, 201, volume);
    }
    const v = /^\/volumes\/([^/]+)$/.exec(path);
    if (v && req.method === "DELETE") {
      const name = decodeURIComponent(v[1] ?? "");
      if (!volumes.has(name)) return sendError(res, 404, `get ${name}: no such volume`);
      const users = [...containers.values()].filter((c) => c.Mounts.some((mnt: DockerObject) => mnt.Name === name));
      if (users.length > 0) return sendError(res, 409, `remove ${name}: volume is in use - [${users.map((c) => c.Id).join(", ")}]`);
      volumes.delete(name);
      return sendEmpty(res, 204);
    }
    return sendError(res, 404, `page not found`);
  };

  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => sendError(res, 500, String(e)));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));

  return {
    socketPath,
    requests,
    containers: () => [...containers.values()],
    container: (ref) => find(ref),
    volumes: () => [...volumes.values()],
    images: () => [...images],
    close: async () => {
      for (const c of containers.values()) closeVnc(c);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** "ubuntu" → "ubuntu:latest"; a registry port ("host:5000/x") is not a tag. */
function normalizeImage(ref: string): string {
  const lastSlash = ref.lastIndexOf("/");
  return ref.slice(lastSlash + 1).includes(":") ? ref : `${ref}:latest`;
}

/** `filters` as docker-modem sends it: JSON of `{label: ["k", "k=v"]}` (or the legacy `{label: {"k=v": true}}`). */
function parseFilters(raw: string | undefined): ((c: DockerObject) => boolean) | undefined {
  if (!raw) return () => true;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const values = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === "object" && v ? Object.keys(v) : []);
  const f = parsed as Record<string, unknown>;
  const labels = values(f.label);
  const names = values(f.name);
  const statuses = values(f.status);
  return (c) =>
    labels.every((l) => {
      const eq = l.indexOf("=");
      return eq === -1 ? l in c.Config.Labels : c.Config.Labels[l.slice(0, eq)] === l.slice(eq + 1);
    }) &&
    (names.length === 0 || names.some((n) => c.Name.includes(n))) &&
    (statuses.length === 0 || statuses.includes(c.State.Status));
}

function summarize(c: DockerObject): DockerObject {
  const ports = Object.entries<DockerObject[]>(c.NetworkSettings.Ports ?? {}).flatMap(([p, bindings]) =>
    bindings.map((b) => ({ IP: b.HostIp, PrivatePort: Number(p.split("/")[0]), PublicPort: Number(b.HostPort), Type: p.split("/")[1] })),
  );
  return {
    Id: c.Id,
    Names: [c.Name],
    Image: c.Config.Image,
    ImageID: c.Image,
    Command: "/usr/local/bin/start-desktop",
    Created: Math.floor(Date.parse(c.Created) / 1000),
    State: c.State.Status,
    Status: c.State.Running
      ? "Up Less than a second"
      : c.State.Status === "created"
        ? "Created"
        : `Exited (${c.State.ExitCode}) Less than a second ago`,
    Ports: ports,
    Labels: c.Config.Labels,
    HostConfig: { NetworkMode: "bridge" },
    Mounts: c.Mounts,
  };
}

function volumeObject(name: string, labels: Record<string, string>): DockerObject {
  return {
    Name: name,
    Driver: "local",
    Mountpoint: `/var/lib/docker/volumes/${name}/_data`,
    Labels: labels,
    Scope: "local",
    Options: null,
    CreatedAt: new Date().toISOString(),
  };
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { message });
}
