/**
 * The desktop session state machine, as a pure function: which event moves a session from which
 * state to which. The DesktopSession DO applies it and writes the result through to Postgres;
 * everything that is not listed here is refused, so a late or duplicated bridge result can never
 * move a session backwards.
 *
 *   requested → starting → running ⇄ (hibernating → hibernated → waking) → running
 *   any live state → stopping → stopped;   failures → failed (or back where the desktop still is)
 */
import type { Platform } from "../bridge/protocol.ts";
import { type DesktopState, isTerminal } from "./protocol.ts";

export type DesktopEvent =
  | { type: "start_acked" }
  | { type: "start_completed" }
  | { type: "start_failed" }
  | { type: "hibernate_requested" }
  | { type: "hibernate_completed" }
  | { type: "hibernate_failed" }
  | { type: "wake_requested" }
  | { type: "wake_completed" }
  | { type: "wake_failed" }
  | { type: "stop_requested" }
  | { type: "stop_completed" }
  | { type: "stop_failed" }
  /** the bridge's own report after an outage (no command in flight): it knows what really runs */
  | { type: "reconciled"; to: DesktopState }
  /** the bridge is gone for good (deregistered) */
  | { type: "abandoned" };

export type TransitionResult = { ok: true; state: DesktopState } | { ok: false; reason: string };

type Table = { [E in DesktopEvent["type"]]?: Partial<Record<DesktopState, DesktopState>> };

const LIVE_TO_STOPPING: Partial<Record<DesktopState, DesktopState>> = {
  requested: "stopping",
  starting: "stopping",
  running: "stopping",
  hibernating: "stopping",
  hibernated: "stopping",
  waking: "stopping",
};

const TABLE: Table = {
  // An ack repeated after a redelivery leaves `starting` as it is.
  start_acked: { requested: "starting", starting: "starting" },
  start_completed: { requested: "running", starting: "running" },
  start_failed: { requested: "failed", starting: "failed" },
  hibernate_requested: { running: "hibernating" },
  hibernate_completed: { hibernating: "hibernated" },
  // The desktop kept running when it could not be hibernated.
  hibernate_failed: { hibernating: "running" },
  wake_requested: { hibernated: "waking" },
  wake_completed: { waking: "running" },
  // Its saved state is still there: the user may try again (or stop it).
  wake_failed: { waking: "hibernated" },
  stop_requested: LIVE_TO_STOPPING,
  stop_completed: { stopping: "stopped" },
  stop_failed: { stopping: "failed" },
};

/** The next state for `event` in `state`, or why the event does not apply there. */
export function transition(state: DesktopState, event: DesktopEvent): TransitionResult {
  if (event.type === "reconciled") {
    if (isTerminal(state)) return { ok: false, reason: `The session is already ${state}.` };
    return { ok: true, state: event.to };
  }
  if (event.type === "abandoned") {
    if (isTerminal(state)) return { ok: false, reason: `The session is already ${state}.` };
    return { ok: true, state: "failed" };
  }
  const next = TABLE[event.type]?.[state];
  if (!next) return { ok: false, reason: `A session that is ${state} cannot take '${event.type}'.` };
  return { ok: true, state: next };
}

/** Docker and Kubernetes desktops can be checkpointed; `local` ones (plain processes) cannot. */
export function canHibernate(platform: Platform): boolean {
  return platform !== "local";
}

/** What idle reaping does to a session on `platform`. */
export function idleAction(platform: Platform): "hibernate" | "stop" {
  return canHibernate(platform) ? "hibernate" : "stop";
}

/** The events a bridge's answer to a command means, by the command's action. */
export function resultEvent(action: "start_session" | "stop_session" | "hibernate_session" | "wake_session", ok: boolean): DesktopEvent {
  const base = ({ start_session: "start", stop_session: "stop", hibernate_session: "hibernate", wake_session: "wake" } as const)[action];
  return { type: `${base}_${ok ? "completed" : "failed"}` } as DesktopEvent;
}
