/**
 * Benchmark section "fanout": one meeting with 1,000 and 2,000 viewer sockets while the model
 * streams 100 tokens/s for 20 s, and the same load through a per-token partyserver `broadcast()`.
 *
 * Per case: token → viewer latency p50/p95/p99/max, measured from the moment the token reached
 * the room (Atrium: the frame's `firstAt`, when the first token of the coalesced batch reached the
 * MeetingRoom; partyserver: `at`, when the token reached the room), and also from when the model
 * sent it (a tap in front of the stand-in); deliveries/s; lost, duplicated and reordered events
 * (per viewer, by `seq`) and tokens not delivered before the measurement ended; CPU of the workerd
 * running the Durable Object, of wrangler's proxy, and of the viewer process.
 *
 * The model: the Anthropic Messages API stand-in (test/stand-ins/anthropic-server.ts), one
 * 4-character token per delta every 10 ms, reached by the Worker through ANTHROPIC_BASE_URL with
 * a user's stored key (the path a real key takes). Viewers: Node `ws` clients in a separate process
 * (viewers.ts), connected like the site connects (fresh, so the meeting's log is replayed), with
 * permessage-deflate offered as browsers always do, or not (--fanout-cases).
 *
 * Flags: --fanout-cases=PATH:PORT:VIEWERS:DEFLATE,…  e.g. atrium:wrangler:1000:on (default: see DEFAULT_CASES)
 *          PATH atrium|partyserver, PORT wrangler|workerd (Atrium only), DEFLATE on|off
 *        --fanout-seconds=20 (stream length)  --fanout-rate=100 (tokens/s)
 *        --fanout-grace=20 (how long after the model's last token delivery is still waited for)
 *        --fanout-join-timeout=150 (seconds for viewers to connect and the join traffic to drain; a case whose
 *                                   viewers are still joining then is reported as not measured)
 *        --fanout-quiet-wait=15 (before each stream, wait up to this long for other work on the machine to stop)
 *        --fanout-batch=100 (sockets opened concurrently)
 *        --fanout-profile (Atrium on workerd's own port: V8's CPU profile of the Worker + DO during the stream,
 *                          summed per package and function through the bundle's source map)
 *        --db=auto|postgres|pglite (shared with the api section)
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { randomToken } from "../../../worker/lib/bytes.ts";
import { type CpuGroup, startCpuCount, startMachineBusy } from "../cpu.ts";
import { type DbChoice, openBenchDatabase } from "../database.ts";
import { type ProfileSummary, profileWhile } from "../profile.ts";
import { IpcChild } from "../ipc-child.ts";
import {
  type BenchSection,
  fmtInt,
  fmtMs,
  numFlag,
  type SectionContext,
  type SectionResult,
  sleep,
  table,
  type TargetCheck,
} from "../section.ts";
import { startWorkerdOwnPort, startWranglerDev } from "../worker-targets.ts";
import { createMeeting, meetingSocketUrl, setUpAtrium } from "./atrium-setup.ts";
import { type BenchModel, startBenchModel, TOKEN_CHARS } from "./model.ts";
import { atriumTarget, type FanoutTarget, type PortKind, startPartyserver } from "./targets.ts";
import type { ConnectedReport, ProgressReport, ResultReport, ViewerCommand, ViewerReport } from "./viewer-protocol.ts";

type PathKind = "atrium" | "partyserver";

interface CaseSpec {
  path: PathKind;
  port: PortKind;
  viewers: number;
  deflate: boolean;
}

/**
 * What the issue asks for, through wrangler dev's port (a Node proxy in front of workerd, which
 * negotiates permessage-deflate with the viewers itself) and on workerd's own port (what the DO
 * does with nothing in front of it, as on Cloudflare's edge). More with --fanout-cases.
 */
const DEFAULT_CASES =
  "partyserver:wrangler:1000:on,partyserver:wrangler:2000:on,atrium:wrangler:1000:on,atrium:wrangler:2000:on,atrium:workerd:1000:on,atrium:workerd:2000:on";

/** p99 targets from the issue (ms), by viewers. */
const P99_TARGET_MS: Record<number, number> = { 1000: 75, 2000: 200 };

const PATH_LABELS: Record<PathKind, string> = { atrium: "Atrium coalesced", partyserver: "partyserver per-token" };
const PORT_LABELS: Record<PortKind, string> = { wrangler: "wrangler dev port", workerd: "workerd own port" };

interface CaseFigures {
  spec: CaseSpec;
  label: string;
  connect: ConnectedReport;
  join: { ms: number; doCpuMs: number; framesPerViewer: number; bytesPerViewer: number; drained: boolean };
  result: ResultReport;
  /** from the start command to the end of the measurement */
  windowMs: number;
  /** the model's stream, first to last token (tap) */
  modelMs: number;
  modelTokens: number;
  /** last delivery − model's last token */
  tailMs: number;
  timedOut: boolean;
  cpu: { label: string; cpuMs: number }[];
  /** share of all cores busy during the stream, and the cores other processes on the machine used meanwhile */
  machineBusy: number;
  othersCores: number;
  /** share of all cores busy just before the stream (other work) */
  busyBefore: number;
  /** why the stream was not measured (the viewers never finished joining) */
  skipped?: string;
  /** --fanout-profile: the DO's workerd under V8's CPU profiler during the stream */
  profile?: ProfileSummary;
}

function parseCases(spec: string): CaseSpec[] {
  return spec.split(",").map((item) => {
    const [path, port, viewers, deflate] = item.split(":");
    if (
      (path !== "atrium" && path !== "partyserver") ||
      (port !== "wrangler" && port !== "workerd") ||
      (deflate !== "on" && deflate !== "off")
    )
      throw new Error(`bad --fanout-cases item "${item}" (want atrium|partyserver:wrangler|workerd:N:on|off)`);
    if (path === "partyserver" && port !== "wrangler") throw new Error("the partyserver baseline runs through wrangler dev only");
    const n = Number(viewers);
    if (!Number.isInteger(n) || n < 1 || n > 5000) throw new Error(`bad viewer count in "${item}"`);
    return { path, port, viewers: n, deflate: deflate === "on" };
  });
}

const now = () => performance.timeOrigin + performance.now();

/** Waits until the workerd running the DO has used less than `share` of a core for 1 s (at most maxMs). */
async function waitIdle(pid: number | undefined, maxMs: number, share = 0.05): Promise<boolean> {
  if (pid === undefined) return true;
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const stop = startCpuCount([{ label: "do", pids: () => [pid] }]);
    await sleep(1_000);
    if ((stop()[0]?.cpuMs ?? 0) < share * 1000) return true;
  }
  return false;
}

/** Share of all cores busy above which other work on the machine makes the figures unreliable. */
const QUIET_BUSY = 0.25;

/** Waits (1 s samples, at most `maxMs`) until the machine is quiet; returns the last busy share. */
async function waitForQuiet(maxMs: number): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const busy = startMachineBusy();
    await sleep(1000);
    const share = busy();
    if (share <= QUIET_BUSY || Date.now() >= deadline) return share;
  }
}

interface CaseContext {
  ctx: SectionContext;
  model: BenchModel;
  target: FanoutTarget;
  apiKey: string;
  streamMs: number;
  graceMs: number;
  joinTimeoutMs: number;
  quietWaitMs: number;
  batch: number;
  profile: boolean;
}

async function runCase(spec: CaseSpec, c: CaseContext): Promise<CaseFigures> {
  const { ctx, model, target } = c;
  const label = `${PATH_LABELS[spec.path]}, ${PORT_LABELS[spec.port]}, ${fmtInt(spec.viewers)} viewers, deflate ${spec.deflate ? "offered" : "off"}`;
  const viewers = new IpcChild<ViewerCommand, ViewerReport>("scripts/bench/fanout/viewers.ts", [], ctx.cleanup, "viewer process", {
    execArgv: ["--max-old-space-size=4096"],
    stdout: "inherit",
    failure: (r) => (r.type === "error" ? r.message : undefined),
  });
  let url: string;
  let protocols: string[] = [];
  let startStream: () => void;
  let streamRequest: Promise<unknown> = Promise.resolve();
  const abort = new AbortController();
  if (spec.path === "atrium") {
    // a fresh account per case: its access token (15 min) cannot expire during the case
    const setup = await setUpAtrium(target.baseUrl, c.apiKey);
    const meetingId = await createMeeting(target.baseUrl, setup, `Fan-out: ${label}`);
    url = meetingSocketUrl(target.baseUrl, meetingId);
    protocols = ["atrium.v1", `atrium.bearer.${setup.accessToken}`];
    startStream = () => viewers.send({ type: "send", text: JSON.stringify({ type: "start" }) });
  } else {
    const room = `fanout-${randomUUID()}`;
    url = `${target.baseUrl.replace(/^http/, "ws")}/parties/fanout-server/${room}`;
    startStream = () => {
      streamRequest = fetch(`${target.baseUrl}/parties/fanout-server/${room}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ baseURL: model.url, apiKey: c.apiKey }),
        signal: abort.signal,
      })
        .then((r) => r.arrayBuffer())
        .catch(() => undefined);
    };
  }

  try {
    // ── join: connect every viewer, then wait for the join traffic (replay + presence) to drain
    const joinCpu = startCpuCount(target.cpuGroups().slice(0, 1));
    const joinStarted = Date.now();
    const connect = await viewers.request<ConnectedReport>(
      {
        type: "connect",
        url,
        protocols,
        count: spec.viewers,
        batch: c.batch,
        deflate: spec.deflate,
        kind: spec.path,
        turnIndex: 0,
        expectedText: model.text,
        tokenChars: TOKEN_CHARS,
        timeoutMs: c.joinTimeoutMs,
      },
      "connected",
      c.joinTimeoutMs + 10_000,
    );
    ctx.log(
      `${label}: ${connect.opened} connected in ${(connect.ms / 1000).toFixed(1)} s${connect.failed ? `, ${connect.failed} failed (${connect.firstError})` : ""}; extensions ${JSON.stringify(connect.extensions)}`,
    );
    if (connect.opened === 0) throw new Error(`no viewer could connect: ${connect.firstError}`);
    let drained = false;
    let stable = 0;
    let last: ProgressReport | undefined;
    const joinDeadline = joinStarted + c.joinTimeoutMs;
    // at least one look, also when connecting used up the time
    for (let first = true; first || Date.now() < joinDeadline; first = false) {
      const p = await viewers.request<ProgressReport>({ type: "progress" }, "progress", 10_000);
      const caughtUp = p.open === connect.opened && p.minSeq === p.maxSeq;
      stable = caughtUp && last?.maxSeq === p.maxSeq ? stable + 1 : 0;
      last = p;
      if (stable >= 2) {
        drained = true;
        break;
      }
      await sleep(250);
    }
    const joinMs = Date.now() - joinStarted;
    const joinDoCpuMs = joinCpu()[0]?.cpuMs ?? 0;
    ctx.log(
      `${label}: join traffic ${drained ? "drained" : "NOT drained"} after ${(joinMs / 1000).toFixed(1)} s (DO workerd ${(joinDoCpuMs / 1000).toFixed(1)} CPU-s, ${last && last.maxSeq > 0 ? `up to seq ${fmtInt(last.maxSeq)}` : "no events"})`,
    );
    if (!drained) {
      const progress = last ? `${last.open} open, the slowest at seq ${last.minSeq} of ${last.maxSeq}` : "no progress report";
      return {
        spec,
        label,
        connect,
        join: { ms: joinMs, doCpuMs: joinDoCpuMs, framesPerViewer: last?.minSeq ?? 0, bytesPerViewer: Number.NaN, drained },
        result: emptyResult(connect.opened),
        windowMs: Number.NaN,
        modelMs: Number.NaN,
        modelTokens: 0,
        tailMs: Number.NaN,
        timedOut: true,
        cpu: [],
        machineBusy: Number.NaN,
        othersCores: Number.NaN,
        busyBefore: Number.NaN,
        skipped: `the viewers had not finished joining after ${(c.joinTimeoutMs / 1000).toFixed(0)} s (${progress}): stream not measured`,
      };
    }
    await waitIdle(target.doPid(), 10_000, 0.1);
    const busyBefore = await waitForQuiet(c.quietWaitMs);
    if (busyBefore > QUIET_BUSY)
      ctx.log(`${label}: the machine is ${(busyBefore * 100).toFixed(0)}% busy with other work: figures will be noisy`);

    // ── the stream
    const groups: CpuGroup[] = [
      ...target.cpuGroups(),
      { label: "viewer process", pids: () => (viewers.proc.pid ? [viewers.proc.pid] : []) },
      { label: "bench process (stand-in + tap)", pids: () => [process.pid] },
    ];
    const tapBefore = model.requests.length;
    model.arm();
    const stopCpu = startCpuCount(groups);
    const busy = startMachineBusy();
    const t0 = now();
    const expectedTokens = model.tokens.length;
    const hardDeadline = t0 + c.streamMs + c.graceMs + 30_000;
    let timedOut = false;
    const stream = async () => {
      startStream();
      for (;;) {
        await sleep(250);
        const p = await viewers.request<ProgressReport>({ type: "progress" }, "progress", 10_000);
        if (p.complete >= connect.opened) break;
        const tapped = model.requests.slice(tapBefore).find((r) => r.deltaAt.length >= expectedTokens);
        const modelEnd = tapped?.ended ? (tapped.deltaAt.at(-1) ?? 0) : undefined;
        if ((modelEnd !== undefined && now() > modelEnd + c.graceMs) || now() > hardDeadline) {
          timedOut = true;
          break;
        }
      }
    };
    let profile: ProfileSummary | undefined;
    if (c.profile && target.inspector) profile = await profileWhile(target.inspector.http, target.inspector.sourceMap, stream);
    else await stream();
    const windowMs = now() - t0;
    const cpu = stopCpu();
    const machineBusy = busy();
    const oursMs = cpu.reduce((n, g) => n + g.cpuMs, 0);
    const othersCores = Math.max(0, (machineBusy * availableParallelism() * windowMs - oursMs) / windowMs);
    const tapped = model.requests
      .slice(tapBefore)
      .reduce<(typeof model.requests)[number] | undefined>(
        (best, r) => (r.deltaAt.length > (best?.deltaAt.length ?? -1) ? r : best),
        undefined,
      );
    const sentAt = tapped?.deltaAt ?? [];
    const result = await viewers.request<ResultReport>({ type: "finish", tokenSentAt: sentAt }, "result", 60_000);
    const modelMs = sentAt.length > 1 ? (sentAt.at(-1) ?? 0) - (sentAt[0] ?? 0) : Number.NaN;
    const tailMs = result.lastAt && sentAt.length ? result.lastAt - (sentAt.at(-1) ?? 0) : Number.NaN;
    ctx.log(
      `${label}: p99 ${fmtMs(result.frameLatency.p99)} ms, ${fmtInt(result.deliveries)} deliveries, lost ${result.lost}, not delivered ${result.tokensNotDelivered}${timedOut ? " (measurement bounded)" : ""}`,
    );
    return {
      spec,
      label,
      connect,
      join: {
        ms: joinMs,
        doCpuMs: joinDoCpuMs,
        framesPerViewer: result.beforeStream.framesPerViewer,
        bytesPerViewer: result.beforeStream.bytesPerViewer,
        drained,
      },
      result,
      windowMs,
      modelMs,
      modelTokens: sentAt.length,
      tailMs,
      timedOut,
      cpu,
      machineBusy,
      othersCores,
      busyBefore,
      ...(profile && { profile }),
    };
  } finally {
    abort.abort();
    await viewers.stop();
    await streamRequest;
    // let the room finish the meeting / drop its queues before the next case
    if (!(await waitIdle(target.doPid(), 30_000))) ctx.log(`${label}: the DO's workerd is still busy after 30 s; going on`);
  }
}

function emptyResult(viewers: number): ResultReport {
  const none = { count: 0, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
  return {
    type: "result",
    viewers,
    open: viewers,
    deliveries: 0,
    tokenDeliveries: 0,
    firstAt: 0,
    lastAt: 0,
    frameLatency: none,
    tokenLatency: { ...none },
    inputDelay: { ...none },
    lost: 0,
    snapshotGaps: 0,
    duplicates: 0,
    outOfOrder: 0,
    textMismatches: 0,
    incompleteViewers: viewers,
    tokensNotDelivered: 0,
    closed: 0,
    tokensPerFrame: { mean: 0, max: 0 },
    streamFrames: 0,
    payloadBytes: 0,
    beforeStream: { framesPerViewer: 0, bytesPerViewer: 0 },
  };
}

/** IPC turns NaN into null. */
const num = (v: number | null | undefined): number => (typeof v === "number" ? v : Number.NaN);

function render(figures: CaseFigures[], header: string[]): string {
  const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : "—");
  const secs = (ms: number | undefined) => (ms === undefined || !Number.isFinite(ms) ? "—" : (ms / 1000).toFixed(1));
  const latency = figures.map((f) => {
    const r = f.result;
    const head = [
      PATH_LABELS[f.spec.path],
      f.spec.port,
      fmtInt(f.connect.opened),
      Object.keys(f.connect.extensions).some((e) => e.includes("permessage-deflate")) ? "on" : "off",
    ];
    if (f.skipped) return [...head, "not measured", "(joining)"];
    const deliverySpan = (r.lastAt - r.firstAt) / 1000;
    return [
      ...head,
      fmtInt(r.deliveries),
      fmtInt(deliverySpan > 0 ? r.deliveries / deliverySpan : Number.NaN),
      r.tokensPerFrame.mean.toFixed(1),
      fmtMs(num(r.frameLatency.p50)),
      fmtMs(num(r.frameLatency.p95)),
      fmtMs(num(r.frameLatency.p99)),
      fmtMs(num(r.frameLatency.max)),
      fmtMs(num(r.tokenLatency.p50)),
      fmtMs(num(r.tokenLatency.p99)),
      String(r.lost),
      String(r.outOfOrder + r.duplicates),
      `${fmtInt(r.tokensNotDelivered)}${r.incompleteViewers ? ` (${r.incompleteViewers} v)` : ""}`,
      String(r.textMismatches + r.closed),
    ];
  });
  const cpuRows = figures.map((f) => {
    const find = (prefix: string) => f.cpu.find((c) => c.label.startsWith(prefix))?.cpuMs;
    const doMs = find("workerd (Worker + DO)") ?? Number.NaN;
    const viewerMs = find("viewer process") ?? Number.NaN;
    return [
      PATH_LABELS[f.spec.path],
      f.spec.port,
      fmtInt(f.connect.opened),
      f.spec.deflate ? "on" : "off",
      secs(f.windowMs),
      secs(doMs),
      pct(doMs / f.windowMs),
      Number.isFinite(doMs) && f.result.deliveries ? ((doMs * 1000) / f.result.deliveries).toFixed(1) : "—",
      secs(find("workerd (wrangler proxy)")),
      secs(find("wrangler (node)")),
      secs(viewerMs),
      pct(viewerMs / f.windowMs),
      Number.isFinite(f.othersCores) ? f.othersCores.toFixed(2) : "—",
      `${secs(f.join.ms)}${f.join.drained ? "" : " (not done)"}`,
      secs(f.join.doCpuMs),
      fmtInt(f.join.framesPerViewer),
    ];
  });
  return [
    ...header,
    "",
    "Delivery and latency (ms). p50…max = viewer receive − the room's stamp of the frame's first token (Atrium `firstAt`, partyserver `at`), per frame",
    "delivery; tok p50/p99 = viewer receive − when the model sent each token (tap in front of the stand-in: includes any wait before the room read it).",
    "lost = seq gaps among live events from the stream's start (the replay a newly joined viewer gets is a compact snapshot that leaves superseded presence/token events out; those gaps are reported as 'snapshot gaps'); ooo/dup = out of order or duplicated; not deliv. = token deliveries still missing when the measurement ended (viewers); bad/closed = wrong text or sockets closed.",
    table(
      [
        "path",
        "port",
        "viewers",
        "deflate",
        "frames deliv.",
        "deliv./s",
        "tok/frame",
        "p50",
        "p95",
        "p99",
        "max",
        "tok p50",
        "tok p99",
        "lost",
        "ooo/dup",
        "not deliv.",
        "bad/closed",
      ],
      latency,
    ),
    "",
    `CPU during the stream (window = start → last delivery, or the bound), ${availableParallelism()} cores; others = cores other processes on the machine used meanwhile.`,
    "join = connecting every viewer and draining the join traffic (log replay + presence events) until each has caught up.",
    table(
      [
        "path",
        "port",
        "viewers",
        "deflate",
        "window s",
        "DO workerd CPU-s",
        "% core",
        "µs/deliv.",
        "proxy CPU-s",
        "wrangler node",
        "viewers CPU-s",
        "% core",
        "others",
        "join s",
        "join DO CPU-s",
        "join frames/viewer",
      ],
      cpuRows,
    ),
    "",
    ...figures.map((f) =>
      f.skipped
        ? `${f.label}: ${f.skipped}`
        : `${f.label}: the model streamed ${fmtInt(f.modelTokens)} tokens in ${secs(f.modelMs)} s; the room read them ${fmtMs(num(f.result.inputDelay.p50))} ms (p50) / ${fmtMs(num(f.result.inputDelay.p99))} ms (p99) / ${fmtMs(num(f.result.inputDelay.max))} ms (max) after they were sent; last delivery ${fmtMs(f.tailMs)} ms after the model's last token; ` +
          `${fmtInt(f.result.streamFrames)} frames per viewer (≤ ${f.result.tokensPerFrame.max} tokens each)` +
          (f.timedOut
            ? `; measurement bounded at the model's last token + grace (${fmtInt(f.result.tokensNotDelivered)} token deliveries not made by then)`
            : "") +
          (f.busyBefore > QUIET_BUSY || f.othersCores > QUIET_BUSY * availableParallelism()
            ? " — other work on the machine: noisy, run again"
            : ""),
    ),
    ...figures.flatMap((f) => (f.profile ? renderProfile(f) : [])),
  ].join("\n");
}

/** Where the DO's workerd spent its time during the stream, per delivery. */
function renderProfile(f: CaseFigures): string[] {
  const p = f.profile;
  if (!p) return [];
  const per = (ms: number) => (f.result.deliveries ? ((ms * 1000) / f.result.deliveries).toFixed(1) : "—");
  return [
    "",
    `${f.label}: workerd under V8's CPU profiler during the stream (profiled, so slower): self time, µs per frame delivery`,
    table(
      ["package / area", "µs/deliv.", "share"],
      p.byArea.slice(0, 10).map((a) => [a.area, per(a.ms), `${(a.share * 100).toFixed(1)}%`]),
    ),
    table(
      ["top functions", "µs/deliv.", "share"],
      p.byFunction.slice(0, 15).map((x) => [x.name.slice(0, 90), per(x.ms), `${(x.share * 100).toFixed(1)}%`]),
    ),
  ];
}

export const meetingFanout: BenchSection = {
  name: "fanout",
  summary:
    "one meeting, 1,000 / 2,000 viewers, model at 100 tokens/s for 20 s: Atrium's coalesced stream vs a partyserver per-token broadcast",
  async run(ctx: SectionContext): Promise<SectionResult> {
    const started = Date.now();
    const cases = parseCases(ctx.flags.get("fanout-cases") ?? DEFAULT_CASES);
    const seconds = numFlag(ctx.flags, "fanout-seconds", 20);
    const rate = numFlag(ctx.flags, "fanout-rate", 100);
    const graceMs = numFlag(ctx.flags, "fanout-grace", 20) * 1000;
    const joinTimeoutMs = numFlag(ctx.flags, "fanout-join-timeout", 150) * 1000;
    const quietWaitMs = Number(ctx.flags.get("fanout-quiet-wait") ?? 15) * 1000;
    const profile = ctx.flags.has("fanout-profile");
    const batch = numFlag(ctx.flags, "fanout-batch", 100);
    const choice = (ctx.flags.get("db") ?? "auto") as DbChoice;
    const tokens = Math.round(seconds * rate);
    const tokenDelayMs = 1000 / rate;

    const maxViewers = Math.max(...cases.map((c) => c.viewers));
    const limit = Number(/Max open files\s+(\d+)/.exec(readFileSync("/proc/self/limits", "utf8"))?.[1] ?? 0);
    if (limit && limit < maxViewers * 2 + 256)
      throw new Error(`open files limit ${limit} is too low for ${maxViewers} viewers (ulimit -n)`);

    const model = await startBenchModel(ctx.cleanup, { tokens, tokenDelayMs });
    const apiKey = `${model.keyPrefix}${randomToken(16)}`;
    ctx.log(`model stand-in: ${tokens} tokens of ${TOKEN_CHARS} characters, one every ${tokenDelayMs} ms, via ${model.url}`);

    const ports = new Set(cases.filter((c) => c.path === "atrium").map((c) => c.port));
    const targets = new Map<string, FanoutTarget>();
    const starters: Promise<void>[] = [];
    let dbDescription = "";
    if (ports.size > 0) {
      const db = await openBenchDatabase(choice, ctx.cleanup, ctx.log);
      dbDescription = db.description;
      const vars = {
        ...db.workerVars,
        JWT_SECRET: randomToken(48),
        ENCRYPTION_KEYS: `v1:${randomBytes(32).toString("base64")}`,
        AUTH_ENABLED: "true",
        ANTHROPIC_BASE_URL: model.url,
      };
      if (ports.has("wrangler"))
        starters.push(
          startWranglerDev(vars, ctx.cleanup, "/api/v1/auth/config").then(
            (w) => void targets.set("atrium:wrangler", atriumTarget("wrangler", w)),
          ),
        );
      if (ports.has("workerd"))
        starters.push(
          startWorkerdOwnPort(vars, ctx.cleanup, "/api/v1/auth/config", { inspect: profile }).then(
            (w) => void targets.set("atrium:workerd", atriumTarget("workerd", w)),
          ),
        );
    }
    if (cases.some((c) => c.path === "partyserver"))
      starters.push(startPartyserver(ctx.cleanup).then((t) => void targets.set("partyserver:wrangler", t)));
    const settled = await Promise.allSettled(starters);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    ctx.log(`targets up in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const figures: CaseFigures[] = [];
    for (const spec of cases) {
      const target = targets.get(`${spec.path}:${spec.port}`);
      if (!target) throw new Error(`no target for ${spec.path}:${spec.port}`);
      figures.push(
        await runCase(spec, {
          ctx,
          model,
          target,
          apiKey,
          streamMs: tokens * tokenDelayMs,
          graceMs,
          joinTimeoutMs,
          quietWaitMs,
          batch,
          profile,
        }),
      );
    }

    const checks: TargetCheck[] = [];
    for (const f of figures) {
      if (f.spec.path !== "atrium") continue;
      const r = f.result;
      const where = `${PORT_LABELS[f.spec.port]}, deflate ${f.spec.deflate ? "on" : "off"}`;
      const targetMs = P99_TARGET_MS[f.spec.viewers];
      if (targetMs !== undefined && f.spec.deflate) {
        checks.push({
          label: `Atrium p99 ≤ ${targetMs} ms at ${fmtInt(f.spec.viewers)} viewers (${where})`,
          ok: !f.skipped && num(r.frameLatency.p99) <= targetMs && f.connect.opened === f.spec.viewers,
          detail: f.skipped
            ? f.skipped
            : `${fmtMs(num(r.frameLatency.p99))} ms (p50 ${fmtMs(num(r.frameLatency.p50))}, p95 ${fmtMs(num(r.frameLatency.p95))}, max ${fmtMs(num(r.frameLatency.max))}; from the model's send: p99 ${fmtMs(num(r.tokenLatency.p99))}); ${f.connect.opened}/${f.spec.viewers} connected`,
        });
      }
      const bad = r.lost + r.outOfOrder + r.duplicates + r.tokensNotDelivered + r.textMismatches + r.closed + f.connect.failed;
      checks.push({
        label: `Atrium: nothing lost or out of order at ${fmtInt(f.spec.viewers)} viewers (${where})`,
        ok: bad === 0 && !f.skipped,
        detail: `${f.skipped ? "not measured; " : ""}lost ${r.lost} (join snapshot gaps ${r.snapshotGaps}, not losses), out of order ${r.outOfOrder}, duplicates ${r.duplicates}, tokens not delivered ${r.tokensNotDelivered}, wrong text ${r.textMismatches}, closed ${r.closed}, failed to connect ${f.connect.failed}`,
      });
    }

    const header = [
      `One meeting, model streaming ${fmtInt(tokens)} tokens at ${rate}/s (${seconds} s) through the Anthropic stand-in; viewers are Node ws ${"clients"} in one separate process.`,
      `Atrium: MeetingRoom + TokenCoalescer, frames sent once per flush; ${dbDescription ? `database ${dbDescription}` : "no Atrium case"}.`,
      "partyserver: Server (hibernate: true) calling broadcast() once per token, its own wrangler dev; measurement bounded at the model's last token + grace.",
    ];
    const text = `${render(figures, header)}\n\nsection time ${((Date.now() - started) / 1000).toFixed(0)} s`;
    return { text, checks, data: { tokens, rate, seconds, graceMs, cases: figures } };
  },
};
