/**
 * Configuration from the environment: defaults, derived URLs, and start-up errors that name every
 * wrong variable without echoing its value.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, redactConfig } from "../../../node-bridge/config.ts";

const BRIDGE_ID = "9a7b5c3d-1e2f-4a6b-8c0d-2e4f6a8b0c1d";
const TOKEN = "s3cret-bridge-token-0123456789";
const valid = { ATRIUM_URL: "https://atrium.example.org", BRIDGE_ID, BRIDGE_TOKEN: TOKEN, BRIDGE_PLATFORM: "kubernetes" };

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (e: unknown) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("bridge configuration", () => {
  it("fills defaults and derives the control URL (wss for https, a path prefix kept)", () => {
    const config = loadConfig({ ...valid, ATRIUM_URL: "https://atrium.example.org/lab/" });
    expect(config).toMatchObject({
      controlUrl: "wss://atrium.example.org/lab/api/v1/bridges/connect",
      bridgeId: BRIDGE_ID,
      platform: "kubernetes",
      region: "default",
      capacity: 10,
      logLevel: "info",
      drainTimeoutMs: 30_000,
      kubernetes: {
        namespace: "atrium-desktops",
        storageClass: undefined,
        homeSize: "10Gi",
        bridgePodLabels: { "app.kubernetes.io/name": "atrium-bridge" },
        egressExcept: [],
      },
      docker: { socketPath: "/var/run/docker.sock", apiVersion: undefined, vncHost: "127.0.0.1" },
      local: { displayFirst: 100, displayLast: 199, uidBase: 2_000_000_000, sameUser: false },
    });
    expect(loadConfig({ ...valid, ATRIUM_URL: "http://127.0.0.1:8787" }).controlUrl).toBe("ws://127.0.0.1:8787/api/v1/bridges/connect");
  });

  it("reads the driver options", () => {
    const config = loadConfig({
      ...valid,
      BRIDGE_REGION: "eu-west-1",
      BRIDGE_CAPACITY: "25",
      BRIDGE_STATE_DIR: "/var/lib/atrium-bridge",
      KUBERNETES_NAMESPACE: "desktops",
      KUBERNETES_STORAGE_CLASS: "fast-ssd",
      KUBERNETES_HOME_SIZE: "20Gi",
      KUBERNETES_BRIDGE_LABELS: "app=atrium-bridge, tier=control",
      KUBERNETES_EGRESS_EXCEPT: "100.100.0.0/16,203.0.113.0/24",
      DOCKER_API_VERSION: "1.44",
      LOCAL_DISPLAY_RANGE: "50-59",
      LOCAL_DESKTOP_UID_BASE: "300000",
      LOCAL_DESKTOP_SAME_USER: "true",
    });
    expect(config).toMatchObject({
      region: "eu-west-1",
      capacity: 25,
      stateDir: "/var/lib/atrium-bridge",
      kubernetes: {
        namespace: "desktops",
        storageClass: "fast-ssd",
        homeSize: "20Gi",
        bridgePodLabels: { app: "atrium-bridge", tier: "control" },
        egressExcept: ["100.100.0.0/16", "203.0.113.0/24"],
      },
      docker: { apiVersion: "v1.44" },
      local: { displayFirst: 50, displayLast: 59, uidBase: 300_000, sameUser: true },
    });
  });

  it("lists every missing required variable at once", () => {
    expect(problemsOf({})).toEqual([
      "ATRIUM_URL is required",
      "BRIDGE_ID is required",
      "BRIDGE_TOKEN is required",
      "BRIDGE_PLATFORM is required",
    ]);
    // Empty values count as unset.
    expect(problemsOf({ ...valid, BRIDGE_ID: "" })).toEqual(["BRIDGE_ID is required"]);
  });

  it("names each wrong variable with what it must be", () => {
    const problems = problemsOf({
      ATRIUM_URL: "ftp://atrium.example.org",
      BRIDGE_ID: "bridge-1",
      BRIDGE_TOKEN: TOKEN,
      BRIDGE_PLATFORM: "nomad",
      BRIDGE_CAPACITY: "lots",
      KUBERNETES_BRIDGE_LABELS: "not a label",
      KUBERNETES_EGRESS_EXCEPT: "10.0.0.0/99",
      LOCAL_DISPLAY_RANGE: "9-1",
    });
    expect(problems).toEqual([
      "ATRIUM_URL must be the http(s) base URL of the Atrium control plane",
      "BRIDGE_ID must be the bridge's UUID (shown when the bridge was registered)",
      "BRIDGE_PLATFORM must be one of kubernetes, docker, local",
      "BRIDGE_CAPACITY must be a whole number from 0 to 10000",
      "KUBERNETES_BRIDGE_LABELS must be comma-separated key=value Kubernetes labels",
      "KUBERNETES_EGRESS_EXCEPT must be comma-separated CIDRs such as 100.64.0.0/10",
      "LOCAL_DISPLAY_RANGE must go from a lower to a higher display number",
    ]);
  });

  it("never puts the token in an error or a log line", () => {
    const badToken = "has spaces but is otherwise a secret";
    let message = "";
    try {
      loadConfig({ ...valid, BRIDGE_TOKEN: badToken });
    } catch (e: unknown) {
      message = (e as Error).message;
    }
    expect(message).toContain("BRIDGE_TOKEN must be printable ASCII without spaces");
    expect(message).not.toContain(badToken);
    const logged = JSON.stringify(redactConfig(loadConfig(valid)));
    expect(logged).not.toContain(TOKEN);
    expect(logged).toContain(`<redacted, ${TOKEN.length} chars>`);
  });

  it("refuses to send the token over plain http to a non-loopback host unless explicitly allowed", () => {
    expect(problemsOf({ ...valid, ATRIUM_URL: "http://atrium.internal:8787" })).toEqual([
      expect.stringMatching(/^ATRIUM_URL uses plain http to a non-loopback host/),
    ]);
    expect(loadConfig({ ...valid, ATRIUM_URL: "http://atrium.internal:8787", BRIDGE_ALLOW_INSECURE_HTTP: "true" }).controlUrl).toBe(
      "ws://atrium.internal:8787/api/v1/bridges/connect",
    );
  });
});
