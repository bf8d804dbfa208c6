/**
 * The contract every desktop driver (kubernetes, docker, local) fulfils. The session manager
 * calls it for the four command actions and the relays ask it where a session's VNC server
 * listens. Drivers are idempotent by themselves too (starting a session that exists, stopping one
 * that is gone, both succeed): the command memory prevents re-runs, but a bridge that lost its
 * state dir must still converge instead of failing.
 */
import type { Platform, ReportedSession, StartPayload } from "../../durable-objects/bridge/protocol.ts";
import type { VncAuth } from "../rfb-handshake.ts";

export interface VncEndpoint {
  host: string;
  port: number;
  /**
   * The RFB security the VNC server asks for. Unset or `none`: viewers handshake with the server
   * themselves. `vnc`: the bridge logs in with the password and offers its viewers None
   * (rfb-handshake.ts), so the password never leaves the bridge.
   */
  auth?: VncAuth;
}

/** Called when a session changes state without a command (its desktop exited, …). */
export type SessionStateListener = (session: ReportedSession) => void;

export interface DesktopDriver {
  readonly platform: Platform;
  /** false → `hibernate` fails with HIBERNATE_UNSUPPORTED and the hub should stop the session instead. */
  readonly canHibernate: boolean;
  /** Every session this bridge runs or keeps hibernated, read from the platform (not from memory). */
  list(): Promise<ReportedSession[]>;
  /** Creates and starts the desktop; resolves once its VNC server can be reached. */
  start(payload: StartPayload): Promise<void>;
  /** Removes the desktop and everything it owns (policy, home volume, processes). */
  stop(sessionId: string): Promise<void>;
  /** Releases the desktop's compute but keeps what `wake` needs to resume it (its home). */
  hibernate(sessionId: string): Promise<void>;
  /** Brings a hibernated desktop back (or starts it if it is gone); resolves once reachable. */
  wake(payload: StartPayload): Promise<void>;
  /** Where the session's VNC server listens, as seen from the bridge. */
  vncEndpoint(sessionId: string): Promise<VncEndpoint>;
  /** Subscribes to state changes the driver notices on its own (optional). */
  onSessionState?(listener: SessionStateListener): void;
  /** Releases what the driver holds when the bridge exits (the local driver kills its desktops). */
  close?(): Promise<void>;
}

/** Poll `check` every `intervalMs` until it returns a value or `timeoutMs` passes (then `onTimeout`). */
export async function pollUntil<T>(
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; onTimeout: () => Error },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw options.onTimeout();
    await new Promise((r) => setTimeout(r, Math.min(options.intervalMs ?? 500, Math.max(0, deadline - Date.now()))));
  }
}

/** Kubernetes object names and Docker container names of a session's resources. */
export function sessionResourceName(sessionId: string): string {
  return `atrium-session-${sessionId}`;
}

export function homeVolumeName(sessionId: string): string {
  return `atrium-home-${sessionId}`;
}

/** Environment every session desktop gets on top of its template's. */
export function sessionEnv(payload: StartPayload): Record<string, string> {
  return {
    ...payload.template.env,
    ATRIUM_SESSION_ID: payload.sessionId,
    ATRIUM_SCREEN_WIDTH: String(payload.width),
    ATRIUM_SCREEN_HEIGHT: String(payload.height),
    ATRIUM_VNC_PORT: String(VNC_PORT),
  };
}

/** The port desktop images serve RFB on (inside the pod / container). */
export const VNC_PORT = 5900;
