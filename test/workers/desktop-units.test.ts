/**
 * The desktop control plane's pure modules: the session state machine, reconciliation with a
 * bridge's report, placement, the relay's backpressure rule and bridge command deadlines.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CommandTiming,
  commandDeadline,
  DEFAULT_COMMAND_TIMEOUTS,
  expired,
  nextDeadline,
  timeoutError,
} from "../../durable-objects/bridge/command-deadlines.ts";
import { planReconcile } from "../../durable-objects/bridge/reconcile.ts";
import { canHibernate, type DesktopEvent, idleAction, resultEvent, transition } from "../../durable-objects/desktop/desktop-state.ts";
import { chooseBridge } from "../../durable-objects/desktop/placement.ts";
import {
  backpressure,
  DESKTOP_STATES,
  type DesktopState,
  PAUSE_ABOVE_BYTES,
  RESUME_BELOW_BYTES,
} from "../../durable-objects/desktop/protocol.ts";

const step = (state: DesktopState, ...events: DesktopEvent["type"][]) =>
  events.reduce<DesktopState>((s, type) => {
    const r = transition(s, { type } as DesktopEvent);
    if (!r.ok) throw new Error(r.reason);
    return r.state;
  }, state);

const ALL_EVENTS: DesktopEvent[] = [
  "start_acked",
  "start_completed",
  "start_failed",
  "hibernate_requested",
  "hibernate_completed",
  "hibernate_failed",
  "wake_requested",
  "wake_completed",
  "wake_failed",
  "stop_requested",
  "stop_completed",
  "stop_failed",
  "abandoned",
].map((type) => ({ type }) as DesktopEvent);

describe("desktop session state machine", () => {
  it("walks the happy path requested → starting → running → hibernating → hibernated → waking → running → stopping → stopped", () => {
    expect(step("requested", "start_acked")).toBe("starting");
    expect(step("requested", "start_acked", "start_completed")).toBe("running");
    expect(step("running", "hibernate_requested")).toBe("hibernating");
    expect(step("running", "hibernate_requested", "hibernate_completed")).toBe("hibernated");
    expect(step("hibernated", "wake_requested", "wake_completed")).toBe("running");
    expect(step("running", "stop_requested", "stop_completed")).toBe("stopped");
  });

  it("a start that completes before its ack arrives still runs, and a repeated ack changes nothing", () => {
    expect(step("requested", "start_completed")).toBe("running");
    expect(step("starting", "start_acked")).toBe("starting");
  });

  it("failures land where the desktop really is", () => {
    expect(step("starting", "start_failed")).toBe("failed");
    expect(step("hibernating", "hibernate_failed")).toBe("running");
    expect(step("waking", "wake_failed")).toBe("hibernated");
    expect(step("stopping", "stop_failed")).toBe("failed");
  });

  it("every live state can be stopped", () => {
    for (const s of ["requested", "starting", "running", "hibernating", "hibernated", "waking"] as const)
      expect(step(s, "stop_requested")).toBe("stopping");
  });

  it("a late result of an earlier step never moves a session backwards", () => {
    expect(transition("hibernating", { type: "start_completed" }).ok).toBe(false);
    expect(transition("running", { type: "wake_completed" }).ok).toBe(false);
    expect(transition("stopping", { type: "hibernate_completed" }).ok).toBe(false);
    expect(transition("running", { type: "hibernate_completed" }).ok).toBe(false);
  });

  it("stopped and failed are final for every event, reconciliation included", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<DesktopState>("stopped", "failed"),
        fc.constantFrom(...ALL_EVENTS),
        fc.constantFrom(...DESKTOP_STATES),
        (state, event, to) => {
          expect(transition(state, event).ok).toBe(false);
          expect(transition(state, { type: "reconciled", to }).ok).toBe(false);
        },
      ),
    );
  });

  it("reconciliation and abandonment apply to any live state", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<DesktopState>("requested", "starting", "running", "hibernating", "hibernated", "waking", "stopping"),
        fc.constantFrom(...DESKTOP_STATES),
        (state, to) => {
          expect(transition(state, { type: "reconciled", to })).toEqual({ ok: true, state: to });
          expect(transition(state, { type: "abandoned" })).toEqual({ ok: true, state: "failed" });
        },
      ),
    );
  });

  it("local desktops cannot hibernate, so idle reaping stops them", () => {
    expect(canHibernate("local")).toBe(false);
    expect(idleAction("local")).toBe("stop");
    expect(idleAction("docker")).toBe("hibernate");
    expect(idleAction("kubernetes")).toBe("hibernate");
  });

  it("maps a bridge's answer to the event of its command", () => {
    expect(resultEvent("wake_session", true)).toEqual({ type: "wake_completed" });
    expect(resultEvent("stop_session", false)).toEqual({ type: "stop_failed" });
  });
});

describe("reconciliation with a bridge's report", () => {
  const bridgeId = "b1";
  const s = (id: string, state: DesktopState, b: string | null = bridgeId) => ({ id, state, bridgeId: b });

  it("a live session the bridge no longer reports becomes stopped", () => {
    const plan = planReconcile({ bridgeId, known: [s("a", "running"), s("b", "hibernated")], reported: [], busy: new Set() });
    expect(plan.updates.map((u) => [u.sessionId, u.to])).toEqual([
      ["a", "stopped"],
      ["b", "stopped"],
    ]);
  });

  it("takes the bridge's word for what runs, and leaves agreeing sessions alone", () => {
    const plan = planReconcile({
      bridgeId,
      known: [s("a", "running"), s("b", "running"), s("c", "requested"), s("d", "hibernating")],
      reported: [
        { sessionId: "a", state: "running" },
        { sessionId: "b", state: "hibernated" },
        { sessionId: "c", state: "starting" },
        { sessionId: "d", state: "failed", detail: "OOM killed" },
      ],
      busy: new Set(),
    });
    expect(plan.updates).toEqual([
      { sessionId: "b", to: "hibernated", detail: "Reported hibernated by the bridge." },
      { sessionId: "c", to: "starting", detail: "Reported starting by the bridge." },
      { sessionId: "d", to: "failed", detail: "OOM killed" },
    ]);
  });

  it("sessions with a command in flight wait for its answer", () => {
    const plan = planReconcile({ bridgeId, known: [s("a", "requested"), s("b", "stopping")], reported: [], busy: new Set(["a", "b"]) });
    expect(plan.updates).toEqual([]);
  });

  it("desktops the bridge runs for finished or unknown sessions are orphans to stop", () => {
    const plan = planReconcile({
      bridgeId,
      known: [s("a", "stopped"), s("b", "running", "other-bridge")],
      reported: [
        { sessionId: "a", state: "running" },
        { sessionId: "b", state: "running" },
        { sessionId: "zombie", state: "hibernated" },
        { sessionId: "gone", state: "stopped" },
      ],
      busy: new Set(),
    });
    expect(plan.orphans.sort()).toEqual(["a", "b", "zombie"]);
    expect(plan.updates).toEqual([]);
  });
});

describe("placement", () => {
  const b = (id: string, region: string, active: number, capacity = 4, platform: "docker" | "local" | "kubernetes" = "docker") => ({
    id,
    region,
    active,
    capacity,
    platform,
  });

  it("prefers the asked region, then the least loaded bridge", () => {
    const candidates = [b("x", "eu", 3), b("y", "us", 0), b("z", "eu", 1)];
    expect(chooseBridge(candidates, { region: "eu" })?.id).toBe("z");
    expect(chooseBridge(candidates, {})?.id).toBe("y");
  });

  it("falls back to other regions when the asked one is full", () => {
    expect(chooseBridge([b("x", "eu", 4), b("y", "us", 2)], { region: "eu" })?.id).toBe("y");
  });

  it("keeps to the asked platform and finds nothing when all are full", () => {
    expect(chooseBridge([b("x", "eu", 0, 4, "docker"), b("y", "eu", 0, 4, "local")], { platform: "local" })?.id).toBe("y");
    expect(chooseBridge([b("x", "eu", 4), b("y", "us", 1, 1)], {})).toBeUndefined();
    expect(chooseBridge([b("x", "eu", 0, 0)], {})).toBeUndefined();
  });
});

describe("relay backpressure", () => {
  it("pauses above the window of unacknowledged bytes and resumes below the low mark, with nothing in between", () => {
    expect(backpressure(PAUSE_ABOVE_BYTES + 1, false)).toBe("pause");
    expect(backpressure(PAUSE_ABOVE_BYTES, false)).toBeNull();
    expect(backpressure(RESUME_BELOW_BYTES + 1, true)).toBeNull();
    expect(backpressure(RESUME_BELOW_BYTES - 1, true)).toBe("resume");
    expect(backpressure(PAUSE_ABOVE_BYTES * 2, true)).toBeNull();
  });
});

describe("bridge command deadlines", () => {
  const cmd = (over: Partial<CommandTiming>): CommandTiming => ({
    action: "start_session",
    status: "sent",
    createdAt: 1000,
    updatedAt: 1000,
    ...over,
  });
  const { ackMs, runMs } = DEFAULT_COMMAND_TIMEOUTS;

  it("an unacknowledged command is due ackMs after its creation; an acked one its action's run time after the ack", () => {
    expect(commandDeadline(cmd({ status: "pending" }))).toBe(1000 + ackMs);
    expect(commandDeadline(cmd({ status: "sent", updatedAt: 5000 }))).toBe(1000 + ackMs);
    expect(commandDeadline(cmd({ status: "ack", updatedAt: 9000 }))).toBe(9000 + runMs.start_session);
    expect(commandDeadline(cmd({ status: "ack", action: "stop_session", updatedAt: 9000 }))).toBe(9000 + runMs.stop_session);
    expect(commandDeadline(cmd({ status: "completed" }))).toBeUndefined();
    expect(commandDeadline(cmd({ status: "failed" }))).toBeUndefined();
    expect(runMs.start_session).toBeGreaterThan(ackMs);
  });

  it("picks the expired commands and the next deadline", () => {
    const a = cmd({ createdAt: 0 });
    const b = cmd({ createdAt: 10_000 });
    const done = cmd({ status: "completed", createdAt: -1e9 });
    expect(expired([a, b, done], ackMs)).toEqual([a]);
    expect(expired([a, b, done], ackMs - 1)).toEqual([]);
    expect(nextDeadline([b, a, done])).toBe(ackMs);
    expect(nextDeadline([done])).toBeUndefined();
  });

  it("says BRIDGE_OFFLINE when no bridge took the command, BRIDGE_TIMEOUT when a connected one stayed silent or did not finish", () => {
    expect(timeoutError(cmd({}), false)).toEqual({
      code: "BRIDGE_OFFLINE",
      message: "The desktop's bridge is offline: nothing took the request for starting the desktop within 2 minutes.",
    });
    expect(timeoutError(cmd({}), true).code).toBe("BRIDGE_TIMEOUT");
    expect(timeoutError(cmd({ status: "ack", action: "wake_session" }), false)).toEqual({
      code: "BRIDGE_TIMEOUT",
      message: "The bridge did not finish waking the desktop within 10 minutes.",
    });
  });
});
