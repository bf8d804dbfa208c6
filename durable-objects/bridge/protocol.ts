/**
 * The bridge control protocol (DESIGN §5) between a cluster's node-bridge and its BridgeHub
 * Durable Object: JSON frames with a `type`, validated with zod on both sides. Runtime-neutral,
 * shared by the Worker, the DOs and node-bridge.
 *
 * The bridge dials `GET /api/v1/bridges/connect` with `Authorization: Bearer <bridge token>`,
 * sends `hello`, then `heartbeat` every ~10 s (offline after 3 missed). Commands carry an `id`
 * that is an idempotency key: the bridge answers `ack {id}` then `complete {id, result}` or
 * `failed {id, error}`; a command it already finished is answered again from its memory, never
 * run twice. Un-acked commands are sent again after a reconnect; the `sessions` the bridge
 * reports in `hello` / `heartbeat` reconcile the desktop sessions' states after any outage.
 */
import { z } from "zod";

export const PLATFORMS = ["kubernetes", "docker", "local"] as const;
export type Platform = (typeof PLATFORMS)[number];

export const COMMAND_ACTIONS = ["start_session", "stop_session", "hibernate_session", "wake_session"] as const;
export type CommandAction = (typeof COMMAND_ACTIONS)[number];

/** What the bridge knows of one session it runs. */
export const BRIDGE_SESSION_STATES = ["starting", "running", "hibernated", "stopped", "failed"] as const;
export const ReportedSessionSchema = z.object({
  sessionId: z.string().uuid(),
  state: z.enum(BRIDGE_SESSION_STATES),
  detail: z.string().max(500).optional(),
});
export type ReportedSession = z.infer<typeof ReportedSessionSchema>;

export const TemplateSpecSchema = z.object({
  templateId: z.string(),
  name: z.string().min(1).max(100),
  kind: z.enum(["container", "vm"]),
  /** container image reference, or the image catalog id for a VM */
  image: z.string().min(1).max(500),
  cpu: z.number().positive().max(64),
  memoryMb: z.number().int().min(128).max(262_144),
  runtimeClass: z.string().max(100).nullable(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(4000)),
  persistentHome: z.boolean(),
});
export type TemplateSpec = z.infer<typeof TemplateSpecSchema>;

export const StartPayloadSchema = z.object({
  sessionId: z.string().uuid(),
  template: TemplateSpecSchema,
  /** where the bridge opens the session's data socket (raw RFB bytes) */
  dataUrl: z.string().url(),
  /** per-session token for that socket (Authorization: Bearer) */
  dataToken: z.string().min(20).max(200),
  /** short-lived signed link to download a VM image, when the template is a VM */
  imageUrl: z.string().url().nullable(),
  width: z.number().int().min(320).max(7680).default(1280),
  height: z.number().int().min(240).max(4320).default(800),
});
export type StartPayload = z.infer<typeof StartPayloadSchema>;

export const SessionPayloadSchema = z.object({ sessionId: z.string().uuid() });

export const CommandFrameSchema = z.discriminatedUnion("action", [
  z.object({ type: z.literal("command"), id: z.string().min(1).max(100), action: z.literal("start_session"), payload: StartPayloadSchema }),
  z.object({ type: z.literal("command"), id: z.string().min(1).max(100), action: z.literal("wake_session"), payload: StartPayloadSchema }),
  z.object({
    type: z.literal("command"),
    id: z.string().min(1).max(100),
    action: z.literal("stop_session"),
    payload: SessionPayloadSchema,
  }),
  z.object({
    type: z.literal("command"),
    id: z.string().min(1).max(100),
    action: z.literal("hibernate_session"),
    payload: SessionPayloadSchema,
  }),
]);
export type CommandFrame = z.infer<typeof CommandFrameSchema>;

/** Hub → bridge. */
export const HubFrameSchema = z.union([
  z.object({ type: z.literal("welcome"), bridgeId: z.string(), heartbeatIntervalMs: z.number().int().positive() }),
  CommandFrameSchema,
  z.object({ type: z.literal("error"), code: z.string(), message: z.string() }),
]);
export type HubFrame = z.infer<typeof HubFrameSchema>;

/** Bridge → hub. */
export const BridgeFrameSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("hello"),
    bridgeId: z.string().uuid(),
    platform: z.enum(PLATFORMS),
    region: z.string().min(1).max(64),
    version: z.string().min(1).max(64),
    capacity: z.number().int().min(0).max(10_000),
    sessions: z.array(ReportedSessionSchema).max(10_000),
  }),
  z.object({ type: z.literal("heartbeat"), sessions: z.array(ReportedSessionSchema).max(10_000) }),
  z.object({ type: z.literal("ack"), id: z.string().min(1).max(100) }),
  z.object({ type: z.literal("complete"), id: z.string().min(1).max(100), result: z.record(z.string(), z.unknown()).default({}) }),
  z.object({
    type: z.literal("failed"),
    id: z.string().min(1).max(100),
    error: z.object({ code: z.string().max(100), message: z.string().max(2000) }),
  }),
  /** something changed on the bridge's side without a command (the desktop exited, …) */
  z.object({ type: z.literal("session_state"), session: ReportedSessionSchema }),
  /** the bridge is shutting down gracefully: send it no new work */
  z.object({ type: z.literal("draining") }),
]);
export type BridgeFrame = z.infer<typeof BridgeFrameSchema>;

export const HEARTBEAT_INTERVAL_MS = 10_000;
export const MISSED_HEARTBEATS_OFFLINE = 3;
