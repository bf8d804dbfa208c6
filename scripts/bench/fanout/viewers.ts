/**
 * The viewer process of the fan-out section: opens N WebSocket viewers on one room (Node `ws`,
 * with or without permessage-deflate), checks every viewer's event sequence (no gaps, duplicates
 * or reordering, by `seq`) and stream text (exactly the expected reply), and times every stream
 * frame on arrival. Driven over IPC by fanout.ts (see viewer-protocol.ts); runs in its own process
 * so its CPU is counted apart from the bench's. Exits when the parent goes away.
 */
import WebSocket from "ws";
import type {
  ConnectCommand,
  ConnectedReport,
  LatencySummary,
  ProgressReport,
  ResultReport,
  ViewerCommand,
  ViewerReport,
} from "./viewer-protocol.ts";

/** ms since the epoch with sub-millisecond resolution (the rooms stamp whole ms of the same clock). */
const now = () => performance.timeOrigin + performance.now();

interface Viewer {
  ws: WebSocket;
  open: boolean;
  lastSeq: number;
  /** seqs skipped so far that may still arrive late */
  missing: Set<number>;
  textLen: number;
  streamStarted: boolean;
  preFrames: number;
  preBytes: number;
}

let cfg: ConnectCommand | undefined;
const viewers: Viewer[] = [];
let measuring = true;

// One row per stream frame delivery: arrival time, latency from the room's stamp, token range.
let capacity = 0;
let recvAt = new Float64Array(0);
let frameLat = new Float32Array(0);
let tokStart = new Int32Array(0);
let tokCount = new Int32Array(0);
let deliveries = 0;
let overflow = 0;
let lastStreamAt = 0;
const tokensBySeq = new Map<number, number>();
/** per stream frame (by seq, first viewer to get it): the room's stamp and the index of its first token */
const stampBySeq = new Map<number, { stamp: number; token: number }>();
let lost = 0;
/** seq gaps in what a viewer got before the stream started: the compact replay a fresh socket gets leaves superseded events out */
let snapshotGaps = 0;
let duplicates = 0;
let outOfOrder = 0;
let textMismatches = 0;
let closed = 0;
let payloadBytes = 0;
let parseErrors = 0;

function send(report: ViewerReport): void {
  process.send?.(report);
}

function onFrame(v: Viewer, data: Buffer): void {
  if (!measuring || !cfg) return;
  const t = now();
  payloadBytes += data.length;
  let f: { seq?: unknown; type?: unknown; turnIndex?: unknown; text?: unknown; firstAt?: unknown; at?: unknown };
  try {
    f = JSON.parse(data.toString()) as typeof f;
  } catch {
    parseErrors += 1;
    return;
  }
  if (typeof f.seq === "number") {
    const seq = f.seq;
    if (v.lastSeq < 0 || seq === v.lastSeq + 1) {
      v.lastSeq = seq;
    } else if (seq > v.lastSeq + 1) {
      for (let s = v.lastSeq + 1; s < seq && v.missing.size < 100_000; s++) v.missing.add(s);
      lost += seq - v.lastSeq - 1;
      v.lastSeq = seq;
    } else if (v.missing.delete(seq)) {
      // a skipped event arrived after all: not lost, but out of order
      lost -= 1;
      outOfOrder += 1;
      return;
    } else {
      duplicates += 1;
      return;
    }
  }
  const isStream = f.type === "token" && (cfg.kind === "partyserver" || f.turnIndex === cfg.turnIndex);
  if (!isStream) {
    if (!v.streamStarted) {
      v.preFrames += 1;
      v.preBytes += data.length;
    }
    return;
  }
  v.streamStarted = true;
  const text = typeof f.text === "string" ? f.text : "";
  const stamp = Number(cfg.kind === "atrium" ? f.firstAt : f.at);
  if (!cfg.expectedText.startsWith(text, v.textLen)) textMismatches += 1;
  const start = Math.floor(v.textLen / cfg.tokenChars);
  const count = Math.floor(text.length / cfg.tokenChars);
  v.textLen += text.length;
  lastStreamAt = t;
  if (typeof f.seq === "number" && !tokensBySeq.has(f.seq)) {
    tokensBySeq.set(f.seq, count);
    stampBySeq.set(f.seq, { stamp, token: start });
  }
  if (deliveries >= capacity) {
    overflow += 1;
    return;
  }
  recvAt[deliveries] = t;
  frameLat[deliveries] = t - stamp;
  tokStart[deliveries] = start;
  tokCount[deliveries] = count;
  deliveries += 1;
}

function openOne(c: ConnectCommand, deadline: number): Promise<{ ok: boolean; error?: string; extensions?: string }> {
  return new Promise((resolve) => {
    const remaining = Math.max(1000, deadline - Date.now());
    const ws = new WebSocket(c.url, c.protocols, { perMessageDeflate: c.deflate, handshakeTimeout: remaining });
    const v: Viewer = { ws, open: false, lastSeq: -1, missing: new Set(), textLen: 0, streamStarted: false, preFrames: 0, preBytes: 0 };
    ws.on("message", (data: Buffer) => onFrame(v, data));
    ws.once("open", () => {
      v.open = true;
      viewers.push(v);
      resolve({ ok: true, extensions: ws.extensions || "none" });
    });
    ws.once("error", (e: Error) => {
      if (!v.open) resolve({ ok: false, error: e.message });
    });
    ws.once("close", () => {
      if (v.open && measuring) closed += 1;
      v.open = false;
    });
  });
}

async function connect(c: ConnectCommand): Promise<ConnectedReport> {
  cfg = c;
  const tokens = Math.ceil(c.expectedText.length / c.tokenChars);
  capacity = c.count * (tokens + 64);
  recvAt = new Float64Array(capacity);
  frameLat = new Float32Array(capacity);
  tokStart = new Int32Array(capacity);
  tokCount = new Int32Array(capacity);
  const started = Date.now();
  const deadline = started + c.timeoutMs;
  const extensions: Record<string, number> = {};
  let opened = 0;
  let failed = 0;
  let firstError: string | undefined;
  for (let i = 0; i < c.count && Date.now() < deadline; i += c.batch) {
    const batch = Array.from({ length: Math.min(c.batch, c.count - i) }, () => openOne(c, deadline));
    for (const r of await Promise.all(batch)) {
      if (r.ok) {
        opened += 1;
        const ext = r.extensions ?? "none";
        extensions[ext] = (extensions[ext] ?? 0) + 1;
      } else {
        failed += 1;
        firstError ??= r.error;
      }
    }
  }
  return { type: "connected", opened, failed, ...(firstError && { firstError }), extensions, ms: Date.now() - started };
}

function progress(): ProgressReport {
  let minSeq = Number.POSITIVE_INFINITY;
  let maxSeq = -1;
  let complete = 0;
  let open = 0;
  const expected = cfg?.expectedText.length ?? 0;
  for (const v of viewers) {
    if (!v.open) continue;
    open += 1;
    minSeq = Math.min(minSeq, v.lastSeq);
    maxSeq = Math.max(maxSeq, v.lastSeq);
    if (v.textLen >= expected) complete += 1;
  }
  return { type: "progress", minSeq: Number.isFinite(minSeq) ? minSeq : -1, maxSeq, deliveries, complete, open, lastStreamAt };
}

function summarize(values: Float32Array): LatencySummary {
  const n = values.length;
  if (n === 0) return { count: 0, p50: Number.NaN, p95: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
  values.sort();
  const at = (q: number) => values[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] ?? Number.NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i] ?? 0;
  return { count: n, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: values[n - 1] ?? Number.NaN, mean: sum / n };
}

function finish(tokenSentAt: number[]): ResultReport {
  measuring = false;
  const c = cfg;
  if (!c) throw new Error("finish before connect");
  const expectedLen = c.expectedText.length;
  const expectedTokens = Math.ceil(expectedLen / c.tokenChars);
  let firstAt = Number.POSITIVE_INFINITY;
  let lastAt = 0;
  let tokenDeliveries = 0;
  for (let k = 0; k < deliveries; k++) {
    const t = recvAt[k] ?? 0;
    if (t < firstAt) firstAt = t;
    if (t > lastAt) lastAt = t;
    tokenDeliveries += tokCount[k] ?? 0;
  }
  const tokenLat = new Float32Array(tokenDeliveries);
  let j = 0;
  for (let k = 0; k < deliveries; k++) {
    const t = recvAt[k] ?? 0;
    const start = tokStart[k] ?? 0;
    const end = start + (tokCount[k] ?? 0);
    for (let i = start; i < end; i++) {
      const sentAt = tokenSentAt[i];
      if (sentAt !== undefined) tokenLat[j++] = t - sentAt;
    }
  }
  let incompleteViewers = 0;
  let tokensNotDelivered = 0;
  let open = 0;
  let preFrames = 0;
  let preBytes = 0;
  for (const v of viewers) {
    if (v.open) open += 1;
    preFrames += v.preFrames;
    preBytes += v.preBytes;
    if (v.textLen < expectedLen) {
      incompleteViewers += 1;
      tokensNotDelivered += expectedTokens - Math.floor(v.textLen / c.tokenChars);
    }
  }
  // how late the room got each frame's first token: its stamp − when the model sent that token
  const inputDelay = new Float32Array(stampBySeq.size);
  let d = 0;
  for (const { stamp, token } of stampBySeq.values()) {
    const sentAt = tokenSentAt[token];
    if (sentAt !== undefined && Number.isFinite(stamp)) inputDelay[d++] = stamp - sentAt;
  }
  let frameTokens = 0;
  let maxTokens = 0;
  for (const n of tokensBySeq.values()) {
    frameTokens += n;
    maxTokens = Math.max(maxTokens, n);
  }
  if (overflow > 0 || parseErrors > 0) console.error(`[viewers] ${overflow} deliveries over capacity, ${parseErrors} unparsable frames`);
  return {
    type: "result",
    viewers: viewers.length,
    open,
    deliveries: deliveries + overflow,
    tokenDeliveries,
    firstAt: Number.isFinite(firstAt) ? firstAt : 0,
    lastAt,
    frameLatency: summarize(frameLat.subarray(0, deliveries)),
    tokenLatency: summarize(tokenLat.subarray(0, j)),
    inputDelay: summarize(inputDelay.subarray(0, d)),
    lost,
    snapshotGaps,
    duplicates,
    outOfOrder,
    textMismatches,
    incompleteViewers,
    tokensNotDelivered,
    closed,
    tokensPerFrame: { mean: tokensBySeq.size ? frameTokens / tokensBySeq.size : 0, max: maxTokens },
    streamFrames: tokensBySeq.size,
    payloadBytes,
    beforeStream: {
      framesPerViewer: viewers.length ? preFrames / viewers.length : 0,
      bytesPerViewer: viewers.length ? preBytes / viewers.length : 0,
    },
  };
}

process.on("disconnect", () => process.exit(0));
process.on("message", (raw: unknown) => {
  const cmd = raw as ViewerCommand;
  void (async () => {
    try {
      switch (cmd.type) {
        case "connect":
          send(await connect(cmd));
          break;
        case "send":
          // From here on every seq must arrive: what was skipped so far was the join snapshot.
          snapshotGaps += lost;
          lost = 0;
          for (const v of viewers) v.missing.clear();
          viewers[0]?.ws.send(cmd.text);
          break;
        case "progress":
          send(progress());
          break;
        case "finish": {
          const result = finish(cmd.tokenSentAt);
          for (const v of viewers) v.ws.terminate();
          send(result);
          break;
        }
      }
    } catch (e: unknown) {
      send({ type: "error", message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  })();
});
