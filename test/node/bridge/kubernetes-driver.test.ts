/**
 * The kubernetes driver through the real `@kubernetes/client-node` against the Kubernetes API
 * stand-in: the objects it creates (pod, fence, home) and what hibernate / wake / stop do to them.
 */
import { randomUUID } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { KubernetesSettings } from "../../../node-bridge/config.ts";
import { KubernetesDriver } from "../../../node-bridge/drivers/kubernetes.ts";
import { silentLogger } from "../../../node-bridge/log.ts";
import { type KubernetesApiStandIn, startKubernetesApiStandIn } from "../../stand-ins/kubernetes-api.ts";
import { startPayload } from "./fixtures.ts";

const NS = "atrium-desktops";
const BRIDGE_ID = "6f1c0c3e-8f7a-4c55-9a59-3f2e6b1d2c11";
const settings: KubernetesSettings = {
  namespace: NS,
  storageClass: "fast-ssd",
  homeSize: "5Gi",
  bridgePodLabels: { "app.kubernetes.io/name": "atrium-bridge" },
  podStartTimeoutMs: 5_000,
  egressExcept: ["100.100.0.0/16"],
};

function kubeConfigFor(server: string, token = "stand-in-service-account-token"): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "stand-in", server, skipTLSVerify: true }],
    users: [{ name: "atrium-bridge", token }],
    contexts: [{ name: "stand-in", cluster: "stand-in", user: "atrium-bridge", namespace: NS }],
    currentContext: "stand-in",
  });
  return kc;
}

describe("kubernetes driver", () => {
  let api: KubernetesApiStandIn;
  let driver: KubernetesDriver;

  beforeEach(async () => {
    api = await startKubernetesApiStandIn({ token: "stand-in-service-account-token", unpullableImages: ["ghcr.io/example/missing:1"] });
    driver = new KubernetesDriver({
      kubeConfig: kubeConfigFor(api.url),
      settings,
      bridgeId: BRIDGE_ID,
      log: silentLogger,
      pollIntervalMs: 20,
      deleteTimeoutMs: 2_000,
    });
  });
  afterEach(async () => {
    await api.close();
  });

  it("start creates a fenced pod with the template's image, resources, runtime class, env and labels, and resolves once it runs", async () => {
    const payload = startPayload({
      template: { runtimeClass: "gvisor", persistentHome: false, cpu: 1.5, memoryMb: 3072, env: { LANG: "en_GB.UTF-8" } },
    });
    await driver.start(payload);

    const name = `atrium-session-${payload.sessionId}`;
    const pod = api.get("pods", NS, name)!;
    expect(pod.metadata.labels).toEqual({
      "atrium.dev/session": payload.sessionId,
      "atrium.dev/bridge": BRIDGE_ID,
      "app.kubernetes.io/managed-by": "atrium-bridge",
    });
    expect(pod.spec.runtimeClassName).toBe("gvisor");
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    expect(pod.spec.enableServiceLinks).toBe(false);
    expect(pod.spec.volumes).toBeUndefined();
    const [container] = pod.spec.containers;
    expect(container.image).toBe(payload.template.image);
    expect(container.resources).toEqual({ requests: { cpu: "1500m", memory: "3072Mi" }, limits: { cpu: "1500m", memory: "3072Mi" } });
    expect(container.ports).toEqual([{ name: "vnc", containerPort: 5900, protocol: "TCP" }]);
    expect(container.env).toEqual(
      expect.arrayContaining([
        { name: "LANG", value: "en_GB.UTF-8" },
        { name: "ATRIUM_SESSION_ID", value: payload.sessionId },
        { name: "ATRIUM_SCREEN_WIDTH", value: "1280" },
        { name: "ATRIUM_SCREEN_HEIGHT", value: "800" },
      ]),
    );
    expect(pod.status.qosClass).toBe("Guaranteed");
    expect(api.objects("persistentvolumeclaims")).toEqual([]);

    // The policy is created before the pod, so the desktop never runs unfenced.
    const creates = api.requests.filter((r) => r.method === "POST").map((r) => r.path.split("/").at(-1));
    expect(creates).toEqual(["networkpolicies", "pods"]);

    expect(await driver.vncEndpoint(payload.sessionId)).toEqual({ host: pod.status.podIP, port: 5900 });
    expect(await driver.list()).toEqual([{ sessionId: payload.sessionId, state: "running" }]);
  });

  it("the network policy admits only the bridge's pod on the VNC port and lets the desktop reach only the internet and DNS", async () => {
    const payload = startPayload();
    await driver.start(payload);
    const policy = api.get("networkpolicies", NS, `atrium-session-${payload.sessionId}`)!;
    expect(policy.spec.podSelector).toEqual({ matchLabels: { "atrium.dev/session": payload.sessionId } });
    expect(policy.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(policy.spec.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "atrium-bridge" } } }], ports: [{ protocol: "TCP", port: 5900 }] },
    ]);
    expect(policy.spec.egress).toHaveLength(2);
    const [internet, dns] = policy.spec.egress;
    expect(internet.ports).toBeUndefined();
    expect(internet.to).toEqual([
      {
        ipBlock: {
          cidr: "0.0.0.0/0",
          except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "100.64.0.0/10", "100.100.0.0/16"],
        },
      },
    ]);
    expect(dns.to).toEqual([
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
        podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
      },
    ]);
    expect(dns.ports).toEqual([
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ]);
  });

  it("a persistent home is a claim mounted at /home/user that survives hibernate and is mounted again on wake", async () => {
    const payload = startPayload({ template: { persistentHome: true } });
    const name = `atrium-session-${payload.sessionId}`;
    const claimName = `atrium-home-${payload.sessionId}`;
    await driver.start(payload);

    const claim = api.get("persistentvolumeclaims", NS, claimName)!;
    expect(claim.spec).toMatchObject({
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "5Gi" } },
      storageClassName: "fast-ssd",
    });
    expect(claim.metadata.labels["atrium.dev/session"]).toBe(payload.sessionId);
    const pod = api.get("pods", NS, name)!;
    expect(pod.spec.volumes).toEqual([{ name: "home", persistentVolumeClaim: { claimName } }]);
    expect(pod.spec.containers[0].volumeMounts).toEqual([{ name: "home", mountPath: "/home/user" }]);
    expect(pod.spec.securityContext).toEqual({ fsGroup: 1000 });
    const firstUid = pod.metadata.uid;

    await driver.hibernate(payload.sessionId);
    expect(api.get("pods", NS, name)).toBeUndefined();
    expect(api.get("persistentvolumeclaims", NS, claimName)?.metadata.uid).toBe(claim.metadata.uid);
    expect(api.get("networkpolicies", NS, name)).toBeDefined();
    expect(await driver.list()).toEqual([{ sessionId: payload.sessionId, state: "hibernated" }]);

    await driver.wake(payload);
    const woken = api.get("pods", NS, name)!;
    expect(woken.metadata.uid).not.toBe(firstUid);
    expect(woken.spec.volumes).toEqual([{ name: "home", persistentVolumeClaim: { claimName } }]);
    expect(api.get("persistentvolumeclaims", NS, claimName)?.metadata.uid).toBe(claim.metadata.uid);
    expect(await driver.list()).toEqual([{ sessionId: payload.sessionId, state: "running" }]);
  });

  it("stop deletes the pod, then the claim and the policy; stopping again is a no-op", async () => {
    const payload = startPayload({ template: { persistentHome: true } });
    await driver.start(payload);
    await driver.stop(payload.sessionId);
    expect(api.objects("pods")).toEqual([]);
    expect(api.objects("persistentvolumeclaims")).toEqual([]);
    expect(api.objects("networkpolicies")).toEqual([]);
    const deletes = api.requests.filter((r) => r.method === "DELETE").map((r) => r.path.split("/").at(-2));
    expect(deletes).toEqual(["pods", "persistentvolumeclaims", "networkpolicies"]);
    await driver.stop(payload.sessionId);
    expect(await driver.list()).toEqual([]);
  });

  it("starting a session that already runs (a bridge that lost its memory) converges without duplicates", async () => {
    const payload = startPayload();
    await driver.start(payload);
    await driver.start(payload);
    expect(api.objects("pods")).toHaveLength(1);
    expect(api.objects("networkpolicies")).toHaveLength(1);
  });

  it("lists only this bridge's sessions, by label", async () => {
    const other = new KubernetesDriver({
      kubeConfig: kubeConfigFor(api.url),
      settings,
      bridgeId: randomUUID(),
      log: silentLogger,
      pollIntervalMs: 20,
    });
    const mine = startPayload();
    await driver.start(mine);
    await other.start(startPayload());
    expect(await driver.list()).toEqual([{ sessionId: mine.sessionId, state: "running" }]);
    const list = api.requests.find((r) => r.method === "GET" && r.path.endsWith("/pods") && r.query.labelSelector);
    expect(list?.query.labelSelector).toBe(`atrium.dev/session,atrium.dev/bridge=${BRIDGE_ID}`);
  });

  it("a pod that cannot pull its image fails the start quickly with POD_FAILED, and list reports it failed", async () => {
    const payload = startPayload({ template: { image: "ghcr.io/example/missing:1" } });
    await expect(driver.start(payload)).rejects.toMatchObject({ code: "POD_FAILED", message: expect.stringContaining("ImagePullBackOff") });
    expect(await driver.list()).toEqual([{ sessionId: payload.sessionId, state: "failed", detail: "ImagePullBackOff" }]);
  });

  it("hibernating a session the cluster does not know fails with SESSION_NOT_FOUND; VM templates are refused", async () => {
    await expect(driver.hibernate(randomUUID())).rejects.toMatchObject({ code: "SESSION_NOT_FOUND" });
    await expect(driver.start(startPayload({ template: { kind: "vm" } }))).rejects.toMatchObject({ code: "TEMPLATE_UNSUPPORTED" });
  });

  it("the stand-in refuses a client without the service account token", async () => {
    const anonymous = new KubernetesDriver({
      kubeConfig: kubeConfigFor(api.url, "wrong-token"),
      settings,
      bridgeId: BRIDGE_ID,
      log: silentLogger,
    });
    await expect(anonymous.list()).rejects.toMatchObject({ code: 401 });
  });
});
