/**
 * The bridge's own Kubernetes manifests: the Role grants exactly the (resource, verb) pairs the
 * kubernetes driver really uses — measured from its requests to the API stand-in over a full
 * session lifecycle — and the Deployment's environment is a valid bridge configuration whose pod
 * labels are the ones session NetworkPolicies admit.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { KubeConfig, loadAllYaml } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../node-bridge/config.ts";
import { KubernetesDriver } from "../../../node-bridge/drivers/kubernetes.ts";
import { silentLogger } from "../../../node-bridge/log.ts";
import { startKubernetesApiStandIn } from "../../stand-ins/kubernetes-api.ts";
import { startPayload } from "./fixtures.ts";

const dir = resolve(import.meta.dirname, "../../../node-bridge/k8s");
const docs: any[] = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
  .flatMap((f) => loadAllYaml(readFileSync(join(dir, f), "utf8")));
const find = (kind: string) => docs.find((d) => d.kind === kind);

describe("node-bridge Kubernetes manifests", () => {
  it("the Role allows exactly what the driver does over a start, hibernate, wake, list and stop", async () => {
    const api = await startKubernetesApiStandIn();
    try {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromOptions({
        clusters: [{ name: "c", server: api.url, skipTLSVerify: true }],
        users: [{ name: "u", token: "t" }],
        contexts: [{ name: "x", cluster: "c", user: "u" }],
        currentContext: "x",
      });
      const settings = loadConfig({
        ATRIUM_URL: "https://a.example",
        BRIDGE_ID: crypto.randomUUID(),
        BRIDGE_TOKEN: "t".repeat(20),
        BRIDGE_PLATFORM: "kubernetes",
      }).kubernetes;
      const driver = new KubernetesDriver({
        kubeConfig,
        settings: { ...settings, podStartTimeoutMs: 5_000 },
        bridgeId: crypto.randomUUID(),
        log: silentLogger,
        pollIntervalMs: 20,
      });
      const payload = startPayload({ template: { persistentHome: true } });
      await driver.start(payload);
      await driver.list();
      await driver.vncEndpoint(payload.sessionId);
      await driver.hibernate(payload.sessionId);
      await driver.wake(payload);
      await driver.stop(payload.sessionId);

      const used = new Set(
        api.requests.map((r) => {
          const parts = r.path.split("/");
          const named =
            parts.at(-2) !== "namespaces" && !["pods", "persistentvolumeclaims", "networkpolicies"].includes(parts.at(-1) ?? "");
          const resource = named ? parts.at(-2) : parts.at(-1);
          const verb = { GET: named ? "get" : "list", POST: "create", DELETE: "delete" }[r.method];
          return `${resource}:${verb}`;
        }),
      );
      const role = find("Role");
      const granted = new Set(
        role.rules.flatMap((rule: { resources: string[]; verbs: string[] }) =>
          rule.resources.flatMap((res) => rule.verbs.map((v) => `${res}:${v}`)),
        ),
      );
      expect([...granted].sort()).toEqual([...used].sort());
      expect(role.metadata.namespace).toBe(find("Namespace").metadata.name);
    } finally {
      await api.close();
    }
  });

  it("the Deployment's environment is a valid configuration and its pod carries the labels session policies admit", () => {
    const deployment = find("Deployment");
    const pod = deployment.spec.template;
    const container = pod.spec.containers[0];
    const env: Record<string, string> = { BRIDGE_TOKEN: "from-the-secret-0123456789" };
    for (const e of container.env) if (e.value !== undefined) env[e.name] = e.value;
    env.KUBERNETES_NAMESPACE = deployment.metadata.namespace; // fieldRef metadata.namespace
    const config = loadConfig(env);
    expect(config.platform).toBe("kubernetes");
    for (const [k, v] of Object.entries(config.kubernetes.bridgePodLabels)) expect(pod.metadata.labels[k]).toBe(v);
    expect(container.env.find((e: { name: string }) => e.name === "BRIDGE_TOKEN").valueFrom.secretKeyRef).toEqual({
      name: find("Secret").metadata.name,
      key: "BRIDGE_TOKEN",
    });
    expect(pod.spec.serviceAccountName).toBe(find("ServiceAccount").metadata.name);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    // The drain must fit in the grace period.
    expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(config.drainTimeoutMs);
  });
});
