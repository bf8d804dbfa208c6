/**
 * Command dispatch through one BridgeHub: users' requests through the API (start, hibernate, wake
 * a desktop), each turned into a bridge command by its DesktopSession and delivered by the
 * bridge's hub (Postgres status pending → sent), to a bench bridge running node-bridge's
 * ControlClient, which acks a command the moment it arrives and completes it at once
 * (bench-bridge.ts, commands mode). Latency = from sending the accepted API request to the ack
 * leaving the bridge; commands/s = commands acked ÷ time from the first request to the last ack.
 *
 * A few sessions are cycled (hibernate, wake, hibernate, …) rather than many started: every
 * DesktopSession keeps its own Postgres pool, so hundreds of sessions would hold hundreds of
 * connections of a server other people use. A session takes its next command once the previous
 * one has landed, which the bench learns as the site does: from the `state` frames on a viewer
 * socket of the session (no polling). Phases: one session at a time (the unloaded latency), then
 * `concurrency` sessions in parallel.
 */
import { WebSocket } from "ws";
import type { CommandFrame } from "../../../durable-objects/bridge/protocol.ts";
import type { BridgeCommand, BridgeReport } from "./bench-bridge.ts";
import type { IpcChild } from "../ipc-child.ts";
import { type Api, type RegisteredBridge, startSession, viewerUrl, waitForState } from "./setup.ts";
import { percentile } from "./viewers.ts";

export interface CommandPhase {
  label: string;
  count: number;
  concurrency: number;
  p50: number;
  p99: number;
  max: number;
  perSecond: number;
}

/** A session's state as its viewer socket reports it. */
class StateWatch {
  #state = "";
  #waiter: { state: string; resolve: () => void; timer: NodeJS.Timeout } | undefined;
  readonly #ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) return;
      const frame = JSON.parse(data.toString()) as { type: string; state?: string };
      if (frame.type !== "state" || !frame.state) return;
      this.#state = frame.state;
      if (this.#waiter?.state === frame.state) {
        clearTimeout(this.#waiter.timer);
        this.#waiter.resolve();
        this.#waiter = undefined;
      }
    });
  }

  static async open(url: string): Promise<StateWatch> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    ws.on("error", () => {});
    return new StateWatch(ws);
  }

  until(state: string, timeoutMs = 30_000): Promise<void> {
    if (this.#state === state) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the session did not reach ${state} within ${timeoutMs} ms (${this.#state})`)),
        timeoutMs,
      );
      this.#waiter = { state, resolve, timer };
    });
  }

  close(): void {
    this.#ws.terminate();
  }
}

const now = () => performance.timeOrigin + performance.now();

export async function measureCommands(o: {
  api: Api;
  templateId: string;
  count: number;
  concurrency: number;
  startBridge: () => Promise<{ registered: RegisteredBridge; proc: IpcChild<BridgeCommand, BridgeReport> }>;
}): Promise<{ phases: CommandPhase[] }> {
  const { registered, proc } = await o.startBridge();
  // Arrivals reported by the bridge, matched to the request that caused them by action and session
  // (a session has one command in flight at a time). A start's command may arrive before its API
  // call returns the session id: such arrivals wait in `unclaimed`.
  const unclaimed = new Map<string, number>();
  const waiting = new Map<string, { resolve: (at: number) => void; timer: NodeJS.Timeout }>();
  proc.onReport((r) => {
    if (r.type !== "command") return;
    const key = `${r.action}:${r.sessionId}`;
    const w = waiting.get(key);
    if (!w) return void unclaimed.set(key, r.at);
    waiting.delete(key);
    clearTimeout(w.timer);
    w.resolve(r.at);
  });
  /** When the bridge got (and acked) the next `action` for `sessionId`. */
  const arrival = (action: CommandFrame["action"], sessionId: string, timeoutMs = 30_000) =>
    new Promise<number>((resolve, reject) => {
      const key = `${action}:${sessionId}`;
      const at = unclaimed.get(key);
      if (at !== undefined) {
        unclaimed.delete(key);
        return resolve(at);
      }
      const timer = setTimeout(() => {
        waiting.delete(key);
        reject(new Error(`the bridge got no ${action} for ${sessionId} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(key, { resolve, timer });
    });

  const summarize = (label: string, concurrency: number, samples: { t0: number; at: number }[]): CommandPhase => {
    const lat = samples.map((s) => s.at - s.t0).sort((a, b) => a - b);
    const first = Math.min(...samples.map((s) => s.t0));
    const last = Math.max(...samples.map((s) => s.at));
    return {
      label,
      count: samples.length,
      concurrency,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      max: lat.at(-1) ?? Number.NaN,
      perSecond: samples.length / ((last - first) / 1000),
    };
  };

  const phases: CommandPhase[] = [];
  // Starting the sessions is itself a phase: start_session through the same hub.
  const startSamples: { t0: number; at: number }[] = [];
  const sessions = await Promise.all(
    Array.from({ length: o.concurrency + 1 }, async () => {
      const t0 = now();
      const id = await startSession(o.api, o.templateId, registered);
      startSamples.push({ t0, at: await arrival("start_session", id) });
      await waitForState(o.api, id, "running");
      return id;
    }),
  );
  phases.push(summarize(`start_session, ${sessions.length} at once`, sessions.length, startSamples));

  const watches = new Map<string, StateWatch>();
  try {
    for (const id of sessions) watches.set(id, await StateWatch.open(await viewerUrl(o.api, id)));

    /** Cycles one session through hibernate / wake `n` times in all; returns the samples. */
    const cycle = async (sessionId: string, n: number) => {
      const watch = watches.get(sessionId) as StateWatch;
      const samples: { t0: number; at: number }[] = [];
      for (let i = 0; i < n; i++) {
        const hibernate = i % 2 === 0;
        const acked = arrival(hibernate ? "hibernate_session" : "wake_session", sessionId);
        const t0 = now();
        await o.api.call("POST", `/api/v1/desktops/${sessionId}/${hibernate ? "hibernate" : "wake"}`);
        samples.push({ t0, at: await acked });
        await watch.until(hibernate ? "hibernated" : "running");
      }
      return samples;
    };

    const [solo, ...crowd] = sessions as [string, ...string[]];
    phases.push(summarize("hibernate / wake, one session", 1, await cycle(solo, Math.min(100, o.count))));
    const perSession = Math.max(2, Math.round(o.count / crowd.length));
    const crowdSamples = (await Promise.all(crowd.map((id) => cycle(id, perSession)))).flat();
    phases.push(summarize(`hibernate / wake, ${crowd.length} sessions at once`, crowd.length, crowdSamples));
  } finally {
    for (const w of watches.values()) w.close();
  }
  return { phases };
}
