/**
 * The bridge's configuration, read once from the environment and validated with zod at start-up.
 * Every problem is reported at once, by variable name, without echoing values (one of them is the
 * bridge token). `redactConfig` is the only shape of the configuration that may be logged.
 */
import { isIP } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { PLATFORMS, type Platform } from "../durable-objects/bridge/protocol.ts";
import { LOG_LEVELS, type LogLevel } from "./log.ts";

export interface KubernetesSettings {
  /** Namespace the session pods, policies and claims live in (the bridge's Role is scoped to it). */
  namespace: string;
  /** StorageClass of persistent homes; the cluster default when unset. */
  storageClass: string | undefined;
  /** Size requested for a persistent home, a Kubernetes quantity. */
  homeSize: string;
  /** Labels of the bridge's own pod: the only peer a session's NetworkPolicy admits on the VNC port. */
  bridgePodLabels: Record<string, string>;
  /** How long `start`/`wake` wait for the pod to be Running with an IP (image pulls included). */
  podStartTimeoutMs: number;
  /** CIDRs denied to session egress on top of the private, link-local and CGNAT ranges. */
  egressExcept: string[];
}

export interface DockerSettings {
  socketPath: string;
  /** Engine API version prefix ("v1.44"); unset = unversioned paths, i.e. the engine's own version. */
  apiVersion: string | undefined;
  /** Where published VNC ports are reachable from the bridge (ports are bound to 127.0.0.1). */
  vncHost: string;
}

export interface LocalSettings {
  /** X display numbers the local driver may use, inclusive. */
  displayFirst: number;
  displayLast: number;
  /**
   * A bridge running as root runs each desktop's programs as uid and gid `uidBase + display`:
   * a user of their own, so the shell a desktop gives cannot read the bridge's files, another
   * desktop's files or X cookie, or signal their processes.
   */
  uidBase: number;
  /**
   * Opt-in for a bridge that is not root (a single-person laptop): desktops then run as the
   * bridge's own user (still with a scrubbed environment). Without it such a bridge refuses to
   * start desktops, since their shell would have the bridge user's rights.
   */
  sameUser: boolean;
}

export interface BridgeConfig {
  atriumUrl: string;
  /** ws(s)://…/api/v1/bridges/connect derived from `atriumUrl` */
  controlUrl: string;
  bridgeId: string;
  token: string;
  platform: Platform;
  region: string;
  capacity: number;
  stateDir: string;
  logLevel: LogLevel;
  drainTimeoutMs: number;
  kubernetes: KubernetesSettings;
  docker: DockerSettings;
  local: LocalSettings;
}

/** Thrown by `loadConfig`; `message` lists every problem, one per line. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`Invalid node-bridge configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.problems = problems;
  }
}

const REQUIRED = "is required";
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const K8S_QUANTITY = /^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** `required()` turns zod's "expected string, received undefined" into "is required". */
const missingOr = (message: string) => (issue: { input?: unknown }) => (issue.input === undefined ? REQUIRED : message);

const int = (min: number, max: number, fallback: number) =>
  z.coerce
    .number({ error: `must be a whole number from ${min} to ${max}` })
    .int(`must be a whole number from ${min} to ${max}`)
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`)
    .default(fallback);

const EnvSchema = z.object({
  ATRIUM_URL: z.url({ protocol: /^https?$/, error: missingOr("must be the http(s) base URL of the Atrium control plane") }),
  BRIDGE_ID: z.uuid({ error: missingOr("must be the bridge's UUID (shown when the bridge was registered)") }),
  BRIDGE_TOKEN: z
    .string({ error: missingOr("must be a string") })
    .min(16, "is too short to be a bridge token")
    .max(1000, "is too long to be a bridge token")
    .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces"),
  BRIDGE_PLATFORM: z.enum(PLATFORMS, { error: missingOr(`must be one of ${PLATFORMS.join(", ")}`) }),
  BRIDGE_REGION: z.string().min(1).max(64, "must be at most 64 characters").default("default"),
  BRIDGE_CAPACITY: int(0, 10_000, 10),
  BRIDGE_STATE_DIR: z.string().min(1).optional(),
  BRIDGE_LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` }).default("info"),
  BRIDGE_DRAIN_TIMEOUT_MS: int(0, 600_000, 30_000),
  BRIDGE_ALLOW_INSECURE_HTTP: z.enum(["true", "false", "1", "0"], { error: "must be true or false" }).optional(),
  KUBERNETES_NAMESPACE: z.string().max(63).regex(K8S_NAME, "must be a Kubernetes namespace name").default("atrium-desktops"),
  KUBERNETES_STORAGE_CLASS: z.string().max(253).regex(K8S_NAME, "must be a StorageClass name").optional(),
  KUBERNETES_HOME_SIZE: z.string().regex(K8S_QUANTITY, "must be a Kubernetes quantity such as 10Gi").default("10Gi"),
  KUBERNETES_BRIDGE_LABELS: z.string().default("app.kubernetes.io/name=atrium-bridge").transform(parseLabels),
  KUBERNETES_POD_START_TIMEOUT_MS: int(1_000, 3_600_000, 180_000),
  KUBERNETES_EGRESS_EXCEPT: z.string().default("").transform(parseCidrs),
  DOCKER_SOCKET: z.string().min(1).default("/var/run/docker.sock"),
  DOCKER_API_VERSION: z
    .string()
    .regex(/^v?1\.\d+$/, "must be an Engine API version such as v1.44")
    .optional(),
  DOCKER_VNC_HOST: z.string().min(1).default("127.0.0.1"),
  LOCAL_DISPLAY_RANGE: z
    .string()
    .regex(/^\d{1,5}-\d{1,5}$/, "must be a range of X display numbers such as 100-199")
    .default("100-199")
    .transform(parseDisplayRange),
  // Below 2^31 (some tools still keep uids in a signed int), far above login and system users
  // and the usual /etc/subuid ranges.
  LOCAL_DESKTOP_UID_BASE: int(1_000, 2_000_000_000, 2_000_000_000),
  LOCAL_DESKTOP_SAME_USER: z.enum(["true", "false", "1", "0"], { error: "must be true or false" }).optional(),
});

/**
 * Reads and validates the configuration.
 * @throws ConfigError listing every problem (never the values).
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): BridgeConfig {
  // An empty variable (`FOO=` in an env file) means "unset", so defaults apply.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ""));
  const parsed = EnvSchema.safeParse(cleaned);
  const problems: string[] = parsed.success ? [] : parsed.error.issues.map((i) => `${String(i.path[0] ?? "environment")} ${i.message}`);
  if (!parsed.success) throw new ConfigError(problems);
  const e = parsed.data;

  const url = new URL(e.ATRIUM_URL);
  const insecureAllowed = e.BRIDGE_ALLOW_INSECURE_HTTP === "true" || e.BRIDGE_ALLOW_INSECURE_HTTP === "1";
  if (url.protocol === "http:" && !isLoopback(url.hostname) && !insecureAllowed) {
    problems.push(
      "ATRIUM_URL uses plain http to a non-loopback host, which would send the bridge token in clear text (use https, or set BRIDGE_ALLOW_INSECURE_HTTP=true)",
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    atriumUrl: url.toString(),
    controlUrl: controlUrlFor(url),
    bridgeId: e.BRIDGE_ID,
    token: e.BRIDGE_TOKEN,
    platform: e.BRIDGE_PLATFORM,
    region: e.BRIDGE_REGION,
    capacity: e.BRIDGE_CAPACITY,
    stateDir: e.BRIDGE_STATE_DIR ?? join(homedir(), ".local", "state", "atrium-bridge", e.BRIDGE_ID),
    logLevel: e.BRIDGE_LOG_LEVEL,
    drainTimeoutMs: e.BRIDGE_DRAIN_TIMEOUT_MS,
    kubernetes: {
      namespace: e.KUBERNETES_NAMESPACE,
      storageClass: e.KUBERNETES_STORAGE_CLASS,
      homeSize: e.KUBERNETES_HOME_SIZE,
      bridgePodLabels: e.KUBERNETES_BRIDGE_LABELS,
      podStartTimeoutMs: e.KUBERNETES_POD_START_TIMEOUT_MS,
      egressExcept: e.KUBERNETES_EGRESS_EXCEPT,
    },
    docker: {
      socketPath: e.DOCKER_SOCKET,
      apiVersion: e.DOCKER_API_VERSION ? `v${e.DOCKER_API_VERSION.replace(/^v/, "")}` : undefined,
      vncHost: e.DOCKER_VNC_HOST,
    },
    local: {
      ...e.LOCAL_DISPLAY_RANGE,
      uidBase: e.LOCAL_DESKTOP_UID_BASE,
      sameUser: e.LOCAL_DESKTOP_SAME_USER === "true" || e.LOCAL_DESKTOP_SAME_USER === "1",
    },
  };
}

/** The configuration as it may be logged: the token is replaced by its length. */
export function redactConfig(config: BridgeConfig): Record<string, unknown> {
  const { token, ...rest } = config;
  return { ...rest, token: `<redacted, ${token.length} chars>` };
}

/** `https://host/base` → `wss://host/base/api/v1/bridges/connect` (a path prefix is kept). */
export function controlUrlFor(atriumUrl: URL): string {
  const base = new URL(atriumUrl.toString());
  if (!base.pathname.endsWith("/")) base.pathname += "/";
  const url = new URL("api/v1/bridges/connect", base);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  url.hash = "";
  return url.toString();
}

function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "");
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

type Ctx = z.RefinementCtx;

function parseLabels(text: string, ctx: Ctx): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [key = "", value = "", ...extra] = pair.split("=");
    if (extra.length > 0 || !LABEL_KEY.test(key) || value.length > 63 || !LABEL_VALUE.test(value)) {
      ctx.addIssue({ code: "custom", message: "must be comma-separated key=value Kubernetes labels" });
      return {};
    }
    labels[key] = value;
  }
  if (Object.keys(labels).length === 0) ctx.addIssue({ code: "custom", message: "must name at least one label of the bridge's pod" });
  return labels;
}

function parseCidrs(text: string, ctx: Ctx): string[] {
  const cidrs = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const cidr of cidrs) {
    const [address = "", bits = "", ...extra] = cidr.split("/");
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    if (extra.length > 0 || family === 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > max) {
      ctx.addIssue({ code: "custom", message: "must be comma-separated CIDRs such as 100.64.0.0/10" });
      return [];
    }
  }
  return cidrs;
}

function parseDisplayRange(text: string, ctx: Ctx): Pick<LocalSettings, "displayFirst" | "displayLast"> {
  const [displayFirst = 0, displayLast = 0] = text.split("-").map(Number);
  if (displayFirst > displayLast) ctx.addIssue({ code: "custom", message: "must go from a lower to a higher display number" });
  return { displayFirst, displayLast };
}
