/**
 * The desktop data-plane protocol (DESIGN §5, "Desktop data"): the session states, the JSON
 * control frames on the viewer's socket and on the bridge's sockets, and the relay's limits.
 * Runtime-neutral: shared by the Worker, the DesktopSession DO, the site and node-bridge.
 *
 * Sockets of one session (all through the session's DesktopSession Durable Object):
 * - **viewer** `GET /api/v1/desktops/{id}/ws?ticket=…` (browser). Binary frames are raw RFB bytes
 *   both ways; text frames are JSON control frames (`ViewerServerFrame` down, `ViewerClientFrame`
 *   up) and may arrive at any time, so a viewer hands only binary frames to its RFB client. The
 *   RFB stream starts after `{type:"ready"}`.
 * - **primary** `GET /api/v1/desktops/{id}/bridge-data?conn=primary` (bridge, `Authorization:
 *   Bearer <dataToken>` from the start/wake command). Opened when the desktop is up; carries only
 *   JSON text frames: `{type:"open", connId}` asks the bridge to open a data socket for a new
 *   viewer, `{type:"close", connId}` cancels one; the bridge may answer `{type:"open_failed"}`.
 * - **data** the same URL with `conn=<connId>` and the same token: one per viewer, each relayed to
 *   a fresh TCP connection to the VNC server. Binary frames are RFB bytes; the hub sends the text
 *   frames `{type:"pause"}` / `{type:"resume"}` when the viewer cannot keep up.
 *
 * Flow control: a viewer acknowledges the RFB bytes it has consumed with `{type:"ack", bytes}`
 * (bytes since its previous ack) at least every ACK_EVERY_BYTES. The hub pauses the viewer's data
 * socket while more than PAUSE_ABOVE_BYTES are unacknowledged and resumes it below
 * RESUME_BELOW_BYTES. Acks, not the socket's `bufferedAmount`: workerd's WebSocket has none (it
 * reads as undefined), and its `send()` never blocks, so without them a stalled viewer makes the
 * DO buffer whatever the desktop sends.
 */
import { z } from "zod";

export const DESKTOP_STATES = [
  "requested",
  "starting",
  "running",
  "hibernating",
  "hibernated",
  "waking",
  "stopping",
  "stopped",
  "failed",
] as const;
export type DesktopState = (typeof DESKTOP_STATES)[number];

/** A session in one of these is over; nothing moves it any more. */
export const TERMINAL_STATES = ["stopped", "failed"] as const satisfies readonly DesktopState[];
/** States that hold (or are about to hold) compute on a bridge: they count toward the deployment's max and the bridge's capacity. */
export const ACTIVE_STATES = [
  "requested",
  "starting",
  "running",
  "hibernating",
  "waking",
  "stopping",
] as const satisfies readonly DesktopState[];
/** Every state but the terminal ones: they count toward the per-user session limit. */
export const LIVE_STATES = [...ACTIVE_STATES, "hibernated"] as const satisfies readonly DesktopState[];

export function isTerminal(state: DesktopState): boolean {
  return (TERMINAL_STATES as readonly DesktopState[]).includes(state);
}

/** Header through which the Worker tells a BridgeHub which bridge authenticated (only the Worker reaches a DO). */
export const BRIDGE_ID_HEADER = "X-Atrium-Bridge";
/** Header through which the Worker tells a DesktopSession who opens a viewer socket, when signed in. */
export const VIEWER_USER_HEADER = "X-Atrium-Viewer";

/** The `conn` of the bridge's control socket for a session. */
export const PRIMARY_CONN = "primary";

/** A viewer ticket lives this long and works once. */
export const TICKET_TTL_MS = 60_000;

/** A viewer acknowledges consumed RFB bytes at least this often. */
export const ACK_EVERY_BYTES = 256 * 1024;

/**
 * Backpressure: pause the bridge's data socket when the viewer has this much unacknowledged…
 * (a window large enough that a viewer who keeps up is never held back: a few MiB are always in
 * flight between the DO and a fast viewer; small enough that a stalled viewer costs the DO at most
 * this plus what was already on its way from the bridge)
 */
export const PAUSE_ABOVE_BYTES = 16 * 1024 * 1024;
/** …and resume it once the viewer is down to this (half: the bridge refills before the viewer runs dry). */
export const RESUME_BELOW_BYTES = 8 * 1024 * 1024;

/** Server → viewer (text frames). */
export type ViewerServerFrame =
  | { type: "state"; state: DesktopState; detail: string | null }
  /** the data socket is paired: RFB bytes follow as binary frames */
  | { type: "ready" }
  /** whether this viewer's input reaches the desktop; view-only viewers can never take control */
  | { type: "role"; control: boolean; viewOnly: boolean }
  | { type: "pong" }
  | { type: "error"; code: DesktopSocketErrorCode; message: string };

export type DesktopSocketErrorCode =
  | "BAD_FRAME"
  | "FORBIDDEN"
  | "DESKTOP_STOPPED"
  | "DESKTOP_UNREACHABLE"
  | "WAKE_FAILED"
  | "RFB_UNSUPPORTED"
  /** the viewer's user lost access (deactivated, logged out, no longer a teammate); the socket closes with 1008 */
  | "ACCESS_REVOKED";

/** Viewer → server (text frames). */
export const ViewerClientFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ping") }),
  /** a viewer who may control (the owner, e.g. in a second tab) takes control */
  z.object({ type: z.literal("take_control") }),
  /** RFB bytes consumed since the previous ack (flow control, see the top of this file) */
  z.object({
    type: z.literal("ack"),
    bytes: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31),
  }),
]);
export type ViewerClientFrame = z.infer<typeof ViewerClientFrameSchema>;

/** Hub → bridge on the primary socket. */
export type PrimaryHubFrame = { type: "open"; connId: string } | { type: "close"; connId: string };

/** Bridge → hub on the primary socket. */
export const PrimaryBridgeFrameSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ping") }),
  /** the bridge could not reach the VNC server for that viewer */
  z.object({ type: z.literal("open_failed"), connId: z.string().min(1).max(100), message: z.string().max(500).default("") }),
]);
export type PrimaryBridgeFrame = z.infer<typeof PrimaryBridgeFrameSchema>;

/** Hub → bridge on a data socket (text frames; everything else on it is RFB bytes). */
export type DataHubFrame = { type: "pause" } | { type: "resume" };

/**
 * What the relay does about one viewer after sending it bytes or receiving its ack: pause the
 * bridge above the high-water mark of unacknowledged bytes, resume below the low one, else nothing.
 */
export function backpressure(unacknowledged: number, paused: boolean): "pause" | "resume" | null {
  if (!paused && unacknowledged > PAUSE_ABOVE_BYTES) return "pause";
  if (paused && unacknowledged < RESUME_BELOW_BYTES) return "resume";
  return null;
}
