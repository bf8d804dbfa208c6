/**
 * Reconciliation (pure): after any outage the bridge's own list of the sessions it runs is the
 * truth about the desktops. This compares it with Postgres and says which sessions change state
 * and which desktops the bridge runs that should not run any more. Sessions with a command in
 * flight are left alone: that command's answer settles them.
 */
import { type DesktopState, isTerminal } from "../desktop/protocol.ts";
import type { ReportedSession } from "./protocol.ts";

export interface KnownSession {
  id: string;
  state: DesktopState;
  /** the bridge Postgres places it on (null once its bridge was deregistered) */
  bridgeId: string | null;
}

export interface ReconcileInput {
  bridgeId: string;
  /** Postgres rows of the bridge's live sessions plus of every session the bridge reported */
  known: readonly KnownSession[];
  reported: readonly ReportedSession[];
  /** sessions with an outstanding command on this bridge */
  busy: ReadonlySet<string>;
}

export interface ReconcileUpdate {
  sessionId: string;
  to: DesktopState;
  detail: string;
}

export interface ReconcilePlan {
  updates: ReconcileUpdate[];
  /** desktops the bridge runs that are over (or unknown) in Postgres: stop them */
  orphans: string[];
}

const NOT_REPORTED = "The bridge no longer runs this desktop.";

function target(reported: ReportedSession, current: DesktopState): DesktopState {
  switch (reported.state) {
    case "running":
    case "hibernated":
    case "stopped":
    case "failed":
      return reported.state;
    case "starting":
      // Only news for a session that has not heard from the bridge yet.
      return current === "requested" ? "starting" : current;
  }
}

export function planReconcile(input: ReconcileInput): ReconcilePlan {
  const reportedById = new Map(input.reported.map((r) => [r.sessionId, r]));
  const knownById = new Map(input.known.map((k) => [k.id, k]));
  const updates: ReconcileUpdate[] = [];
  for (const s of input.known) {
    if (s.bridgeId !== input.bridgeId || isTerminal(s.state) || input.busy.has(s.id)) continue;
    const r = reportedById.get(s.id);
    const to = r ? target(r, s.state) : "stopped";
    if (to === s.state) continue;
    updates.push({ sessionId: s.id, to, detail: r ? (r.detail ?? `Reported ${r.state} by the bridge.`) : NOT_REPORTED });
  }
  const orphans: string[] = [];
  for (const r of input.reported) {
    if (r.state === "stopped" || r.state === "failed" || input.busy.has(r.sessionId)) continue;
    const s = knownById.get(r.sessionId);
    if (!s || isTerminal(s.state) || s.bridgeId !== input.bridgeId) orphans.push(r.sessionId);
  }
  return { updates, orphans };
}

/** A stable key of a report, to skip reconciling heartbeats that say nothing new. */
export function reportKey(reported: readonly ReportedSession[]): string {
  return reported
    .map((r) => `${r.sessionId}:${r.state}`)
    .sort()
    .join(",");
}
