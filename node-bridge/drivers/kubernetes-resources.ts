/**
 * The Kubernetes objects of one desktop session, as pure builders (no API calls) so their
 * security-relevant shape is easy to read and to test: the Pod running the template's image, the
 * NetworkPolicy that fences it in, and the optional PersistentVolumeClaim holding its home.
 */
import type { V1NetworkPolicy, V1NetworkPolicyPeer, V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import type { StartPayload } from "../../durable-objects/bridge/protocol.ts";
import type { KubernetesSettings } from "../config.ts";
import { homeVolumeName, sessionEnv, sessionResourceName, VNC_PORT } from "./driver.ts";

export const SESSION_LABEL = "atrium.dev/session";
export const BRIDGE_LABEL = "atrium.dev/bridge";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
const MANAGED_BY = "atrium-bridge";
/** Where a persistent home is mounted; desktop images run their user out of it. */
export const HOME_MOUNT_PATH = "/home/user";
/** Group that owns a fresh persistent home, so the image's non-root user (uid/gid 1000 by convention) can write it. */
export const HOME_FS_GROUP = 1000;

/**
 * Never reachable from a session: private ranges (the cluster's pods, services and nodes live
 * there), link-local (169.254.169.254 is every cloud's metadata service, which hands out node
 * credentials) and the shared CGNAT range some cluster networks use.
 */
export const EGRESS_DENIED_CIDRS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10"] as const;

export interface SessionResourceContext {
  settings: KubernetesSettings;
  bridgeId: string;
}

export function sessionLabels(sessionId: string, bridgeId: string): Record<string, string> {
  return { [SESSION_LABEL]: sessionId, [BRIDGE_LABEL]: bridgeId, [MANAGED_BY_LABEL]: MANAGED_BY };
}

/** Label selector matching every session object this bridge created. */
export function bridgeSelector(bridgeId: string): string {
  return `${SESSION_LABEL},${BRIDGE_LABEL}=${bridgeId}`;
}

export function buildSessionPod(payload: StartPayload, ctx: SessionResourceContext): V1Pod {
  const { sessionId, template } = payload;
  const name = sessionResourceName(sessionId);
  // requests = limits: the desktop gets the Guaranteed QoS class, so a busy node evicts it last
  // and a user never sees their desktop slow down because a neighbour bursts.
  const resources = { cpu: `${Math.max(1, Math.round(template.cpu * 1000))}m`, memory: `${template.memoryMb}Mi` };
  const pod: V1Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: ctx.settings.namespace,
      labels: sessionLabels(sessionId, ctx.bridgeId),
      annotations: { "atrium.dev/template": template.templateId },
    },
    spec: {
      restartPolicy: "Always",
      // The desktop runs user code: it gets no Kubernetes API credentials and no service env vars
      // that would map out the cluster.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 10,
      containers: [
        {
          name: "desktop",
          image: template.image,
          env: Object.entries(sessionEnv(payload)).map(([k, v]) => ({ name: k, value: v })),
          ports: [{ name: "vnc", containerPort: VNC_PORT, protocol: "TCP" }],
          resources: { requests: resources, limits: resources },
        },
      ],
    },
  };
  const spec = pod.spec!;
  if (template.runtimeClass) spec.runtimeClassName = template.runtimeClass;
  if (template.persistentHome) {
    spec.securityContext = { fsGroup: HOME_FS_GROUP };
    spec.volumes = [{ name: "home", persistentVolumeClaim: { claimName: homeVolumeName(sessionId) } }];
    spec.containers[0]!.volumeMounts = [{ name: "home", mountPath: HOME_MOUNT_PATH }];
  }
  return pod;
}

/**
 * Ingress: only the bridge's own pod, only on the VNC port. Egress: the internet (everything but
 * EGRESS_DENIED_CIDRS and the configured extras) plus DNS to the cluster's resolver. IPv6 egress
 * is not allowed at all (no ::/0 block), which is the safe default for dual-stack clusters.
 */
export function buildSessionNetworkPolicy(sessionId: string, ctx: SessionResourceContext): V1NetworkPolicy {
  const dns: V1NetworkPolicyPeer = {
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
    podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
  };
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: sessionResourceName(sessionId),
      namespace: ctx.settings.namespace,
      labels: sessionLabels(sessionId, ctx.bridgeId),
    },
    spec: {
      podSelector: { matchLabels: { [SESSION_LABEL]: sessionId } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          // The generated client names this field `_from` (`from` is reserved in its codegen) and
          // serialises it as `from`; a literal `from` key would be silently dropped.
          _from: [{ podSelector: { matchLabels: { ...ctx.settings.bridgePodLabels } } }],
          ports: [{ protocol: "TCP", port: VNC_PORT }],
        },
      ],
      egress: [
        {
          to: [
            {
              ipBlock: {
                cidr: "0.0.0.0/0",
                except: [...EGRESS_DENIED_CIDRS, ...ctx.settings.egressExcept.filter((c) => !c.includes(":"))],
              },
            },
          ],
        },
        {
          to: [dns],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
      ],
    },
  };
}

export function buildHomeClaim(sessionId: string, ctx: SessionResourceContext): V1PersistentVolumeClaim {
  const claim: V1PersistentVolumeClaim = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: homeVolumeName(sessionId),
      namespace: ctx.settings.namespace,
      labels: sessionLabels(sessionId, ctx.bridgeId),
    },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: ctx.settings.homeSize } },
    },
  };
  if (ctx.settings.storageClass) claim.spec!.storageClassName = ctx.settings.storageClass;
  return claim;
}
