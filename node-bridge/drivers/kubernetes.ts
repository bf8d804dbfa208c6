/**
 * Desktops as Kubernetes Pods, through `@kubernetes/client-node`. Per session: a NetworkPolicy
 * (created first, so the pod never runs unfenced, and deleted last), an optional
 * PersistentVolumeClaim for the home, and the Pod. Hibernate deletes only the Pod; wake creates
 * it again against the same claim. Everything is found again by label, so a restarted bridge
 * reports exactly what the cluster runs.
 */
import { CoreV1Api, type KubeConfig, NetworkingV1Api, type V1Pod } from "@kubernetes/client-node";
import type { ReportedSession, StartPayload } from "../../durable-objects/bridge/protocol.ts";
import type { KubernetesSettings } from "../config.ts";
import { BridgeError, httpStatusOf } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type DesktopDriver, homeVolumeName, pollUntil, sessionResourceName, type VncEndpoint, VNC_PORT } from "./driver.ts";
import {
  bridgeSelector,
  buildHomeClaim,
  buildSessionNetworkPolicy,
  buildSessionPod,
  SESSION_LABEL,
  type SessionResourceContext,
} from "./kubernetes-resources.ts";

export interface KubernetesDriverOptions {
  /** Built by the caller: `loadFromDefault()` in production (in-cluster or ~/.kube/config), in code for tests. */
  kubeConfig: KubeConfig;
  settings: KubernetesSettings;
  bridgeId: string;
  log: Logger;
  /** How often to re-read a pod while waiting for it (ms). */
  pollIntervalMs?: number;
  /** How long hibernate/stop wait for a deleted pod to be gone (ms). */
  deleteTimeoutMs?: number;
}

/** Waiting reasons after which a pod will not start without someone fixing the template. */
const HOPELESS_WAITING = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  "CreateContainerConfigError",
  "CreateContainerError",
]);

export class KubernetesDriver implements DesktopDriver {
  readonly platform = "kubernetes" as const;
  readonly canHibernate = true;
  readonly #core: CoreV1Api;
  readonly #net: NetworkingV1Api;
  readonly #ctx: SessionResourceContext;
  readonly #ns: string;
  readonly #log: Logger;
  readonly #pollMs: number;
  readonly #deleteTimeoutMs: number;

  constructor(options: KubernetesDriverOptions) {
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#net = options.kubeConfig.makeApiClient(NetworkingV1Api);
    this.#ctx = { settings: options.settings, bridgeId: options.bridgeId };
    this.#ns = options.settings.namespace;
    this.#log = options.log;
    this.#pollMs = options.pollIntervalMs ?? 1000;
    this.#deleteTimeoutMs = options.deleteTimeoutMs ?? 60_000;
  }

  async list(): Promise<ReportedSession[]> {
    const labelSelector = bridgeSelector(this.#ctx.bridgeId);
    const [pods, policies] = await Promise.all([
      this.#core.listNamespacedPod({ namespace: this.#ns, labelSelector }),
      this.#net.listNamespacedNetworkPolicy({ namespace: this.#ns, labelSelector }),
    ]);
    const sessions = new Map<string, ReportedSession>();
    // Every session has a policy from start to stop; one without a live pod is hibernated.
    for (const policy of policies.items) {
      const id = policy.metadata?.labels?.[SESSION_LABEL];
      if (id) sessions.set(id, { sessionId: id, state: "hibernated" });
    }
    for (const pod of pods.items) {
      const id = pod.metadata?.labels?.[SESSION_LABEL];
      if (!id || pod.metadata?.deletionTimestamp) continue;
      sessions.set(id, reportPod(id, pod));
    }
    return [...sessions.values()];
  }

  async start(payload: StartPayload): Promise<void> {
    if (payload.template.kind !== "container") {
      throw new BridgeError(
        "TEMPLATE_UNSUPPORTED",
        `the kubernetes driver runs container templates; "${payload.template.name}" is a ${payload.template.kind}`,
      );
    }
    await this.#createIfAbsent(() =>
      this.#net.createNamespacedNetworkPolicy({ namespace: this.#ns, body: buildSessionNetworkPolicy(payload.sessionId, this.#ctx) }),
    );
    if (payload.template.persistentHome) {
      await this.#createIfAbsent(() =>
        this.#core.createNamespacedPersistentVolumeClaim({ namespace: this.#ns, body: buildHomeClaim(payload.sessionId, this.#ctx) }),
      );
    }
    const name = sessionResourceName(payload.sessionId);
    const existing = await this.#readPod(name);
    // A pod still terminating from a hibernate would make the create fail with AlreadyExists.
    if (existing?.metadata?.deletionTimestamp) await this.#waitPodGone(name);
    if (!existing || existing.metadata?.deletionTimestamp) {
      await this.#createIfAbsent(() => this.#core.createNamespacedPod({ namespace: this.#ns, body: buildSessionPod(payload, this.#ctx) }));
    }
    await this.#waitRunning(payload.sessionId);
    this.#log.info("session pod running", { sessionId: payload.sessionId, pod: name });
  }

  /** The claim, if any, was kept by hibernate; creating the pod again mounts it. */
  wake(payload: StartPayload): Promise<void> {
    return this.start(payload);
  }

  async hibernate(sessionId: string): Promise<void> {
    const name = sessionResourceName(sessionId);
    const [pod, policy] = await Promise.all([this.#readPod(name), this.#readPolicy(name)]);
    if (!pod && !policy) throw new BridgeError("SESSION_NOT_FOUND", `no session ${sessionId} on this bridge`);
    await this.#deleteIgnoringMissing(() => this.#core.deleteNamespacedPod({ name, namespace: this.#ns }));
    // Hibernated means the claim is detached and the compute released; wake relies on the name being free.
    await this.#waitPodGone(name);
  }

  async stop(sessionId: string): Promise<void> {
    const name = sessionResourceName(sessionId);
    await this.#deleteIgnoringMissing(() => this.#core.deleteNamespacedPod({ name, namespace: this.#ns }));
    // The policy must outlive the pod: a terminating pod still runs for its grace period.
    await this.#waitPodGone(name);
    await this.#deleteIgnoringMissing(() =>
      this.#core.deleteNamespacedPersistentVolumeClaim({ name: homeVolumeName(sessionId), namespace: this.#ns }),
    );
    await this.#deleteIgnoringMissing(() => this.#net.deleteNamespacedNetworkPolicy({ name, namespace: this.#ns }));
  }

  async vncEndpoint(sessionId: string): Promise<VncEndpoint> {
    const host = await this.#waitRunning(sessionId);
    return { host, port: VNC_PORT };
  }

  /** Resolves with the pod IP once the pod is Running with one; fails fast when it cannot start. */
  #waitRunning(sessionId: string): Promise<string> {
    const name = sessionResourceName(sessionId);
    return pollUntil(
      async () => {
        const pod = await this.#readPod(name);
        if (!pod || pod.metadata?.deletionTimestamp) throw new BridgeError("SESSION_NOT_FOUND", `pod ${name} does not exist`);
        const phase = pod.status?.phase;
        if (phase === "Running" && pod.status?.podIP) return pod.status.podIP;
        if (phase === "Failed" || phase === "Succeeded")
          throw new BridgeError("POD_FAILED", `pod ${name} ended (${podDetail(pod) ?? phase})`);
        const waiting = waitingReason(pod);
        if (waiting && HOPELESS_WAITING.has(waiting.reason)) {
          throw new BridgeError(
            "POD_FAILED",
            `pod ${name} cannot start: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ""}`,
          );
        }
        return undefined;
      },
      {
        timeoutMs: this.#ctx.settings.podStartTimeoutMs,
        intervalMs: this.#pollMs,
        onTimeout: () =>
          new BridgeError("POD_START_TIMEOUT", `pod ${name} was not running with an IP after ${this.#ctx.settings.podStartTimeoutMs} ms`),
      },
    );
  }

  async #waitPodGone(name: string): Promise<void> {
    await pollUntil(async () => ((await this.#readPod(name)) ? undefined : true), {
      timeoutMs: this.#deleteTimeoutMs,
      intervalMs: this.#pollMs,
      onTimeout: () => new BridgeError("DELETE_TIMEOUT", `pod ${name} was still terminating after ${this.#deleteTimeoutMs} ms`),
    });
  }

  async #readPod(name: string): Promise<V1Pod | undefined> {
    try {
      return await this.#core.readNamespacedPod({ name, namespace: this.#ns });
    } catch (e: unknown) {
      if (httpStatusOf(e) === 404) return undefined;
      throw e;
    }
  }

  async #readPolicy(name: string): Promise<unknown> {
    try {
      return await this.#net.readNamespacedNetworkPolicy({ name, namespace: this.#ns });
    } catch (e: unknown) {
      if (httpStatusOf(e) === 404) return undefined;
      throw e;
    }
  }

  /** Create calls are idempotent: AlreadyExists means a previous attempt (or bridge) made it. */
  async #createIfAbsent(create: () => Promise<unknown>): Promise<void> {
    try {
      await create();
    } catch (e: unknown) {
      if (httpStatusOf(e) !== 409) throw e;
    }
  }

  async #deleteIgnoringMissing(remove: () => Promise<unknown>): Promise<void> {
    try {
      await remove();
    } catch (e: unknown) {
      if (httpStatusOf(e) !== 404) throw e;
    }
  }
}

function reportPod(sessionId: string, pod: V1Pod): ReportedSession {
  const phase = pod.status?.phase;
  const detail = podDetail(pod);
  const withDetail = (state: ReportedSession["state"]): ReportedSession =>
    detail ? { sessionId, state, detail: detail.slice(0, 500) } : { sessionId, state };
  if (phase === "Running" && pod.status?.podIP) return { sessionId, state: "running" };
  if (phase === "Failed" || phase === "Unknown") return withDetail("failed");
  if (phase === "Succeeded") return withDetail("stopped");
  const waiting = waitingReason(pod);
  if (waiting && HOPELESS_WAITING.has(waiting.reason)) return { sessionId, state: "failed", detail: waiting.reason };
  return { sessionId, state: "starting" };
}

function podDetail(pod: V1Pod): string | undefined {
  const parts = [pod.status?.reason, pod.status?.message].filter(Boolean);
  return parts.length > 0 ? parts.join(": ") : undefined;
}

function waitingReason(pod: V1Pod): { reason: string; message: string | undefined } | undefined {
  for (const status of pod.status?.containerStatuses ?? []) {
    const waiting = status.state?.waiting;
    if (waiting?.reason) return { reason: waiting.reason, message: waiting.message };
  }
  return undefined;
}
