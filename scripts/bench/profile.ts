/**
 * Where a Worker's CPU goes: samples workerd's V8 CPU profiler through the DevTools inspector
 * while a load runs, maps each sample's position in the bundle back to its source with the
 * bundle's source map, and sums self time per source package (hono, drizzle-orm, the Neon
 * driver, jose, the Worker's own code, …) and per function.
 */
import { readFileSync } from "node:fs";
import WebSocket from "ws";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** self time by source package or area, largest first */
  byArea: { area: string; ms: number; share: number }[];
  /** self time by function, largest first */
  byFunction: { name: string; area: string; ms: number; share: number }[];
}

// --- source maps (v3, "mappings" only) ---

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

interface Segment {
  col: number;
  source: number;
}

/** Per generated line: segments sorted by generated column, with their source index. */
function decodeMappings(mappings: string): Segment[][] {
  const lines: Segment[][] = [];
  let source = 0;
  for (const line of mappings.split(";")) {
    const segments: Segment[] = [];
    let col = 0;
    for (const seg of line.split(",")) {
      if (!seg) continue;
      const values: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = B64_INDEX.get(ch) ?? 0;
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      col += values[0] ?? 0;
      if (values.length >= 4) source += values[1] ?? 0;
      segments.push({ col, source });
    }
    lines.push(segments);
  }
  return lines;
}

class SourceMap {
  private readonly lines: Segment[][];
  private readonly sources: string[];
  constructor(path: string) {
    const map = JSON.parse(readFileSync(path, "utf8")) as { sources: string[]; mappings: string };
    this.sources = map.sources;
    this.lines = decodeMappings(map.mappings);
  }
  /** Source file of a 0-based generated line/column. */
  sourceAt(line: number, col: number): string | undefined {
    const segments = this.lines[line];
    if (!segments?.length) return undefined;
    let lo = 0;
    let hi = segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((segments[mid]?.col ?? 0) <= col) lo = mid;
      else hi = mid - 1;
    }
    const seg = segments[lo];
    return seg ? this.sources[seg.source] : undefined;
  }
}

/** "drizzle-orm", "@neondatabase/serverless", "worker/", "wrangler (bundler shims)", … */
function areaOf(source: string | undefined, frame: CallFrame): string {
  if (!frame.url) {
    const n = frame.functionName;
    if (n === "(garbage collector)") return "V8 garbage collector";
    if (n === "(program)" || n === "(idle)" || n === "(root)") return "workerd native (I/O, HTTP, runtime)";
    return "V8 builtins / native";
  }
  if (!source) return `unmapped (${frame.url.split("/").pop() ?? frame.url})`;
  const nm = source.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = source.slice(nm + "node_modules/".length).split("/");
    // drizzle-orm's own source maps point one level up ("node_modules/src/…"): nothing else does here
    if (rest[0] === "src") return "drizzle-orm";
    const pkg = rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1] ?? ""}` : (rest[0] ?? source);
    return pkg === "wrangler" || pkg === "unenv" || pkg === "@cloudflare/unenv-preset" ? `${pkg} (bundler shims)` : pkg;
  }
  const m = /(?:^|\/)(worker|durable-objects|migrations)\//.exec(source);
  return m ? `${m[1]}/ (our code)` : source.replace(/^(\.\.\/)+/, "");
}

function shortSource(source: string): string {
  const nm = source.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = source.slice(nm + "node_modules/".length);
    return rest.startsWith("src/") ? `drizzle-orm/${rest}` : rest;
  }
  const ours = /(?:^|\/)((?:worker|durable-objects|migrations)\/.*)$/.exec(source);
  return ours?.[1] ?? source;
}

/** Connects to the first target of a DevTools inspector (http://host:port). */
async function connectInspector(
  inspectorHttp: string,
): Promise<{ send: (method: string, params?: object) => Promise<unknown>; close: () => void }> {
  const targets = (await (await fetch(`${inspectorHttp}/json`)).json()) as { webSocketDebuggerUrl?: string; id?: string }[];
  const wsUrl = targets.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
  if (!wsUrl) throw new Error(`no inspector target at ${inspectorHttp}`);
  const ws = new WebSocket(wsUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.on("message", (data) => {
    const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (msg.id === undefined) return;
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) p?.reject(new Error(msg.error.message));
    else p?.resolve(msg.result);
  });
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Profiles the Worker while `load` runs. */
export async function profileWhile(
  inspectorHttp: string,
  sourceMapPath: string | undefined,
  load: () => Promise<unknown>,
): Promise<ProfileSummary> {
  const inspector = await connectInspector(inspectorHttp);
  try {
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: 200 });
    await inspector.send("Profiler.start");
    await load();
    const { profile } = (await inspector.send("Profiler.stop")) as { profile: CpuProfile };
    return summarize(profile, sourceMapPath ? new SourceMap(sourceMapPath) : undefined);
  } finally {
    inspector.close();
  }
}

function summarize(profile: CpuProfile, map: SourceMap | undefined): ProfileSummary {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
  });
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, { area: string; us: number }>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === "(idle)") {
      idleUs += us;
      continue;
    }
    const source = frame.url && map ? map.sourceAt(frame.lineNumber, frame.columnNumber) : undefined;
    const area = areaOf(source, frame);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    const name = `${frame.functionName || "(anonymous)"}${source ? ` ${shortSource(source)}` : ""}`;
    const f = byFunction.get(name) ?? { area, us: 0 };
    f.us += us;
    byFunction.set(name, f);
  }
  const totalUs = [...byArea.values()].reduce((a, b) => a + b, 0);
  void idleUs;
  return {
    totalMs: totalUs / 1000,
    byArea: [...byArea.entries()].map(([area, us]) => ({ area, ms: us / 1000, share: us / totalUs })).sort((a, b) => b.ms - a.ms),
    byFunction: [...byFunction.entries()]
      .map(([name, f]) => ({ name, area: f.area, ms: f.us / 1000, share: f.us / totalUs }))
      .sort((a, b) => b.ms - a.ms),
  };
}
