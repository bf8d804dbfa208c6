/**
 * A local stand-in of the Kubernetes API server, the subset node-bridge's kubernetes driver uses,
 * good enough for the real `@kubernetes/client-node` to talk to it over plain HTTP: core/v1 pods
 * and persistentvolumeclaims and networking.k8s.io/v1 networkpolicies — create, get, list (with
 * equality- and set-based `labelSelector`s) and delete — answering with realistic object shapes
 * (uid, resourceVersion, creationTimestamp, status) and `Status` errors (NotFound, AlreadyExists,
 * BadRequest, Unauthorized). Pods go Pending → Running with a podIP shortly after creation and
 * linger terminating (deletionTimestamp) for a moment after a delete; claims stay terminating
 * while a pod still mounts them (the pvc-protection finalizer). Every request and object is
 * recorded for assertions.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readBody, sendJson } from "./http.ts";

export type KubeResource = "pods" | "persistentvolumeclaims" | "networkpolicies";

export interface RecordedKubeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
}

export interface KubernetesApiStandInOptions {
  /** Pending → Running after this long (ms). */
  podStartDelayMs?: number;
  /** A deleted pod stays terminating this long (ms). */
  podDeleteDelayMs?: number;
  /** Images whose pull fails: their pods stay Pending with ImagePullBackOff. */
  unpullableImages?: readonly string[];
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  token?: string;
}

export interface KubernetesApiStandIn {
  url: string;
  requests: RecordedKubeRequest[];
  /** Current objects of one resource (terminating ones included). */
  objects(resource: KubeResource, namespace?: string): KubeObject[];
  get(resource: KubeResource, namespace: string, name: string): KubeObject | undefined;
  /** Test hook: overwrite a pod's status (e.g. make it Failed). */
  setPodStatus(namespace: string, name: string, status: Record<string, unknown>): void;
  close(): Promise<void>;
}

/** Objects are free-form JSON, as on the real server. */
export type KubeObject = Record<string, any>;

const KINDS: Record<KubeResource, { kind: string; apiVersion: string; group: string }> = {
  pods: { kind: "Pod", apiVersion: "v1", group: "" },
  persistentvolumeclaims: { kind: "PersistentVolumeClaim", apiVersion: "v1", group: "" },
  networkpolicies: { kind: "NetworkPolicy", apiVersion: "networking.k8s.io/v1", group: "networking.k8s.io" },
};

const ROUTE =
  /^\/(?:api\/v1|apis\/networking\.k8s\.io\/v1)\/namespaces\/([a-z0-9-]+)\/(pods|persistentvolumeclaims|networkpolicies)(?:\/([a-z0-9.-]+))?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export async function startKubernetesApiStandIn(options: KubernetesApiStandInOptions = {}): Promise<KubernetesApiStandIn> {
  const store = new Map<string, KubeObject>();
  const requests: RecordedKubeRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let resourceVersion = 1000;
  let podCount = 0;
  const key = (r: KubeResource, ns: string, name: string) => `${r}/${ns}/${name}`;
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const bump = (obj: KubeObject) => {
    obj.metadata.resourceVersion = String(++resourceVersion);
  };

  const releaseClaims = (ns: string) => {
    for (const [k, claim] of store) {
      if (!k.startsWith(`persistentvolumeclaims/${ns}/`) || !claim.metadata.deletionTimestamp) continue;
      if (!claimInUse(ns, claim.metadata.name)) store.delete(k);
    }
  };
  const claimInUse = (ns: string, claimName: string) =>
    [...store.entries()].some(
      ([k, pod]) =>
        k.startsWith(`pods/${ns}/`) && (pod.spec?.volumes ?? []).some((v: KubeObject) => v.persistentVolumeClaim?.claimName === claimName),
    );

  const onCreate = (resource: KubeResource, ns: string, body: KubeObject): KubeObject => {
    const name: string = body.metadata.name;
    const obj: KubeObject = structuredClone(body);
    obj.metadata = { ...obj.metadata, namespace: ns, uid: randomUUID(), creationTimestamp: new Date().toISOString(), generation: 1 };
    bump(obj);
    if (resource === "pods") {
      const n = ++podCount;
      const images: string[] = (obj.spec?.containers ?? []).map((c: KubeObject) => c.image);
      obj.spec.nodeName = "stand-in-node";
      obj.status = { phase: "Pending", qosClass: qosClass(obj), conditions: [{ type: "PodScheduled", status: "True" }] };
      later(options.podStartDelayMs ?? 30, () => {
        const pod = store.get(key("pods", ns, name));
        if (!pod || pod.metadata.uid !== obj.metadata.uid || pod.metadata.deletionTimestamp || pod.status.phase !== "Pending") return;
        const unpullable = images.find((i) => options.unpullableImages?.includes(i));
        if (unpullable) {
          pod.status.containerStatuses = [
            {
              name: "desktop",
              image: unpullable,
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: "ImagePullBackOff", message: `Back-off pulling image "${unpullable}"` } },
            },
          ];
        } else {
          const now = new Date().toISOString();
          pod.status = {
            ...pod.status,
            phase: "Running",
            podIP: `10.244.0.${(n % 250) + 2}`,
            podIPs: [{ ip: `10.244.0.${(n % 250) + 2}` }],
            hostIP: "172.18.0.2",
            startTime: now,
            conditions: [
              { type: "PodScheduled", status: "True" },
              { type: "Initialized", status: "True" },
              { type: "ContainersReady", status: "True" },
              { type: "Ready", status: "True" },
            ],
            containerStatuses: (pod.spec.containers ?? []).map((c: KubeObject) => ({
              name: c.name,
              image: c.image,
              imageID: `docker.io/${c.image}@sha256:${"0".repeat(64)}`,
              ready: true,
              started: true,
              restartCount: 0,
              state: { running: { startedAt: now } },
            })),
          };
        }
        bump(pod);
      });
    } else if (resource === "persistentvolumeclaims") {
      obj.spec.storageClassName ??= "standard";
      obj.spec.volumeMode ??= "Filesystem";
      obj.spec.volumeName = `pvc-${obj.metadata.uid}`;
      obj.metadata.finalizers = ["kubernetes.io/pvc-protection"];
      obj.status = { phase: "Bound", accessModes: obj.spec.accessModes, capacity: { storage: obj.spec.resources?.requests?.storage } };
    }
    store.set(key(resource, ns, name), obj);
    return obj;
  };

  const onDelete = (resource: KubeResource, ns: string, obj: KubeObject): KubeObject => {
    const k = key(resource, ns, obj.metadata.name);
    if (resource === "pods") {
      if (!obj.metadata.deletionTimestamp) {
        obj.metadata.deletionTimestamp = new Date().toISOString();
        obj.metadata.deletionGracePeriodSeconds = obj.spec.terminationGracePeriodSeconds ?? 30;
        bump(obj);
        later(options.podDeleteDelayMs ?? 30, () => {
          if (store.get(k) === obj) store.delete(k);
          releaseClaims(ns);
        });
      }
      return obj;
    }
    if (resource === "persistentvolumeclaims") {
      obj.metadata.deletionTimestamp ??= new Date().toISOString();
      bump(obj);
      if (!claimInUse(ns, obj.metadata.name)) store.delete(k);
      return obj;
    }
    store.delete(k);
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: { name: obj.metadata.name, group: KINDS[resource].group, kind: resource, uid: obj.metadata.uid },
    };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://stand-in");
    const text = await readBody(req);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      return sendStatus(res, 400, "BadRequest", "request body is not JSON");
    }
    requests.push({ method: req.method ?? "GET", path: url.pathname, query: Object.fromEntries(url.searchParams), body });
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`)
      return sendStatus(res, 401, "Unauthorized", "Unauthorized");
    if (url.pathname === "/version")
      return sendJson(res, 200, { major: "1", minor: "33", gitVersion: "v1.33.0-atrium-stand-in", platform: "linux/amd64" });

    const match = ROUTE.exec(url.pathname);
    if (!match) return sendStatus(res, 404, "NotFound", "the server could not find the requested resource");
    const [, ns = "", resourceText = "", name] = match;
    const resource = resourceText as KubeResource;
    const apiGroup = url.pathname.startsWith("/apis/networking.k8s.io/") ? "networking.k8s.io" : "";
    if (KINDS[resource].group !== apiGroup) return sendStatus(res, 404, "NotFound", "the server could not find the requested resource");
    const { kind, apiVersion } = KINDS[resource];
    const notFound = () => sendStatus(res, 404, "NotFound", `${resource} "${name}" not found`, { name, kind: resource });

    if (!name && req.method === "GET") {
      const selector = parseSelector(url.searchParams.get("labelSelector") ?? "");
      if (!selector) return sendStatus(res, 400, "BadRequest", "unable to parse requirement: invalid label selector");
      const items = [...store.entries()]
        .filter(([k]) => k.startsWith(`${resource}/${ns}/`))
        .map(([, o]) => o)
        .filter((o) => selector(o.metadata.labels ?? {}));
      return sendJson(res, 200, { kind: `${kind}List`, apiVersion, metadata: { resourceVersion: String(resourceVersion) }, items });
    }
    if (!name && req.method === "POST") {
      const obj = body as KubeObject | undefined;
      if (!obj || typeof obj !== "object" || obj.kind !== kind || obj.apiVersion !== apiVersion) {
        return sendStatus(
          res,
          400,
          "BadRequest",
          `the API version in the data (${obj?.apiVersion}) or kind (${obj?.kind}) does not match the expected ${apiVersion} ${kind}`,
        );
      }
      const objName = obj.metadata?.name;
      if (typeof objName !== "string" || objName.length > 253 || !DNS_SUBDOMAIN.test(objName))
        return sendStatus(res, 422, "Invalid", `${kind} name is invalid`);
      if (obj.metadata.namespace && obj.metadata.namespace !== ns)
        return sendStatus(res, 400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
      if (store.has(key(resource, ns, objName)))
        return sendStatus(res, 409, "AlreadyExists", `${resource} "${objName}" already exists`, { name: objName, kind: resource });
      return sendJson(res, 201, onCreate(resource, ns, obj));
    }
    if (name && req.method === "GET") {
      const obj = store.get(key(resource, ns, name));
      return obj ? sendJson(res, 200, obj) : notFound();
    }
    if (name && req.method === "DELETE") {
      const obj = store.get(key(resource, ns, name));
      return obj ? sendJson(res, 200, onDelete(resource, ns, obj)) : notFound();
    }
    return sendStatus(res, 405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => sendStatus(res, 500, "InternalError", String(e)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    objects: (resource, namespace) =>
      [...store.entries()].filter(([k]) => k.startsWith(`${resource}/${namespace ? `${namespace}/` : ""}`)).map(([, o]) => o),
    get: (resource, namespace, name) => store.get(key(resource, namespace, name)),
    setPodStatus(namespace, name, status) {
      const pod = store.get(key("pods", namespace, name));
      if (!pod) throw new Error(`no pod ${namespace}/${name}`);
      pod.status = { ...pod.status, ...status };
      bump(pod);
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Parses a label selector into a predicate; undefined when it is malformed. */
export function parseSelector(text: string): ((labels: Record<string, string>) => boolean) | undefined {
  const requirements: ((l: Record<string, string>) => boolean)[] = [];
  // Split on commas outside parentheses (`k in (a,b)` holds commas of its own).
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  if (current.trim() || parts.length > 0) parts.push(current);
  for (const raw of parts) {
    const requirement = parseRequirement(raw.trim());
    if (!requirement) return undefined;
    requirements.push(requirement);
  }
  return (labels) => requirements.every((r) => r(labels));
}

type Labels = Record<string, string>;

function parseRequirement(part: string): ((l: Labels) => boolean) | undefined {
  const set = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
  if (set) {
    const [, k = "", op, list = ""] = set;
    const values = list.split(",").map((v) => v.trim());
    return op === "in" ? (l) => l[k] !== undefined && values.includes(l[k]) : (l) => l[k] === undefined || !values.includes(l[k]);
  }
  const equality = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(part);
  if (equality) {
    const [, k = "", op, v = ""] = equality;
    return op === "!=" ? (l) => l[k] !== v : (l) => l[k] === v;
  }
  const absent = /^!([\w./-]+)$/.exec(part);
  if (absent) return (l) => l[absent[1] ?? ""] === undefined;
  const present = /^([\w./-]+)$/.exec(part);
  if (present) return (l) => l[present[1] ?? ""] !== undefined;
  return undefined;
}

function qosClass(pod: KubeObject): string {
  const containers: KubeObject[] = pod.spec?.containers ?? [];
  const guaranteed = containers.every(
    (c) =>
      c.resources?.limits?.cpu &&
      c.resources?.limits?.memory &&
      c.resources.requests?.cpu === c.resources.limits.cpu &&
      c.resources.requests?.memory === c.resources.limits.memory,
  );
  if (guaranteed) return "Guaranteed";
  return containers.some((c) => c.resources?.requests || c.resources?.limits) ? "Burstable" : "BestEffort";
}

function sendStatus(res: ServerResponse, code: number, reason: string, message: string, details?: Record<string, unknown>): void {
  sendJson(res, code, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
}
