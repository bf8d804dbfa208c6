/**
 * Benchmark section "api": the API read path, `GET /api/v1/teams` with a bearer token (HS256 JWT
 * check + one join), for a user in 20 teams out of 1,000.
 *
 * Targets, all against the same database in the same run:
 *  - node:     a plain Node server with a long-lived `pg` Pool (20) running the same SQL
 *  - workerd:  the Worker on workerd's own port (Miniflare, no proxy in front)
 *  - wrangler: the Worker through `wrangler dev`'s port, as `npm start` serves it
 * Per target: maximum requests/s at 20 connections, then latency p50/p95/p99 at fixed 200 and
 * 500 requests/s, with the CPU each component spent per request during the maximum run.
 *
 * Flags: --db=auto|postgres|pglite  --targets=node,workerd,wrangler  --duration=S (max run, 10)
 *        --rate-duration=S (each fixed-rate run, 8)  --pacing=even|autocannon|both  --connections=N (20)
 *        --quiet-wait=S (15: before each target, wait up to S seconds for other work on the machine to stop)
 *        --noise-budget=S (45: at most S seconds in all for such waits and for re-running a max run
 *                          that other processes disturbed; figures still disturbed are flagged)
 *        --breakdown (afterwards, latency at 200 rps of the parts: the Worker without the database,
 *                     the JWT check alone, the stand-in alone)
 *        --profile  (afterwards, a 5 s max run of the workerd target under V8's CPU profiler, summed
 *                    per package and function through the bundle's source map)
 */
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { randomToken } from "../../worker/lib/bytes.ts";
import { signAccessToken } from "../../worker/lib/tokens.ts";
import { type CpuGroup, pidsByName, startCpuCount, startMachineBusy } from "./cpu.ts";
import { type DbChoice, openBenchDatabase, seedReadPath } from "./database.ts";
import { fixedRate, type HttpTarget, type LoadResult, maxThroughput, type Pacing } from "./load.ts";
import { profileWhile, type ProfileSummary } from "./profile.ts";
import { binDir, childEnv, freePort, type PortOwner, portOwner, root, spawnChild } from "./processes.ts";
import { type BenchSection, fmtInt, fmtMs, type SectionContext, type SectionResult, type TargetCheck, table } from "./section.ts";
import { LIST_TEAMS_LIMIT, listTeamsSql } from "./teams-query.ts";
import { startWorkerdOwnPort, startWranglerDev } from "./worker-targets.ts";

const PATH = "/api/v1/teams";
const TARGET_RATIO = 0.5;
const TARGET_P50_MS = 4;
const TARGET_P95_MS = 8;
const RATES = [200, 500] as const;

type TargetName = "node" | "workerd" | "wrangler";
const TARGET_LABELS: Record<TargetName, string> = {
  node: "Node + pg Pool",
  workerd: "Worker, workerd's own port",
  wrangler: "Worker, wrangler dev port",
};

interface RunningTarget {
  name: TargetName;
  baseUrl: string;
  owner: PortOwner | undefined;
  /** processes whose CPU belongs to this target */
  cpuPids: () => number[];
  inspector?: { http: string; sourceMap?: string };
}

interface TargetFigures {
  name: TargetName;
  label: string;
  owner: string;
  max: LoadResult;
  /** othersCores: cores that other processes used during the run */
  rates: { rate: number; pacing: Pacing; result: LoadResult; othersCores: number }[];
  cpuPerRequestMs: { label: string; ms: number }[];
  /**
   * Share of all cores busy in the second before the target's runs (others' work) and during its
   * max run, and the cores that other processes used during the max run (all busy time minus ours).
   */
  machineBusy: { before: number; duringMax: number; othersCores: number };
}

function intFlag(flags: Map<string, string>, name: string, fallback: number): number {
  const v = flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

async function startNodeServer(ctx: SectionContext, databaseUrl: string, secret: string): Promise<RunningTarget> {
  const port = await freePort();
  const child = spawnChild(join(binDir, "node"), [join(root, "scripts/bench/node-pg-server.ts")], {
    env: childEnv({ DATABASE_URL: databaseUrl, JWT_SECRET: secret, PORT: String(port), POOL_MAX: "20" }),
  });
  ctx.cleanup.add("node + pg server", () => child.stop());
  const deadline = Date.now() + 20_000;
  while (!/listening \d+/.test(child.output())) {
    if (child.proc.exitCode !== null || Date.now() > deadline) throw new Error(`node-pg-server did not start:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    name: "node",
    baseUrl: `http://127.0.0.1:${port}`,
    owner: portOwner(port),
    cpuPids: () => (child.proc.pid ? [child.proc.pid] : []),
  };
}

/**
 * The target answers like the API: 200 with the user's teams for the token, 401 without a token
 * and with a bad signature. Returns the teams (id, role, createdAt) to compare targets.
 */
async function verifyTarget(target: RunningTarget, token: string, expectedTeams: number): Promise<string[]> {
  const res = await fetch(`${target.baseUrl}${PATH}`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as { teams?: { id: string; name: string; role: string; createdAt: string }[] };
  if (res.status !== 200 || !Array.isArray(body.teams) || body.teams.length !== expectedTeams) {
    throw new Error(
      `${TARGET_LABELS[target.name]}: expected 200 with ${expectedTeams} teams, got ${res.status} ${JSON.stringify(body).slice(0, 300)}`,
    );
  }
  const anonymous = await fetch(`${target.baseUrl}${PATH}`);
  await anonymous.arrayBuffer();
  if (anonymous.status !== 401) throw new Error(`${TARGET_LABELS[target.name]}: expected 401 without a token, got ${anonymous.status}`);
  const forged = await fetch(`${target.baseUrl}${PATH}`, { headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` } });
  await forged.arrayBuffer();
  if (forged.status !== 401) throw new Error(`${TARGET_LABELS[target.name]}: expected 401 with a bad signature, got ${forged.status}`);
  return body.teams.map((t) => `${t.id}:${t.role}:${t.createdAt}`);
}

/** A load run with CPU accounting per component and the cores other processes took meanwhile. */
async function measured(
  target: RunningTarget,
  shared: CpuGroup[],
  load: () => Promise<LoadResult>,
): Promise<{ result: LoadResult; cpu: { label: string; cpuMs: number }[]; busyShare: number; othersCores: number }> {
  const label = TARGET_LABELS[target.name];
  const stopCpu = startCpuCount([{ label, pids: target.cpuPids }, ...shared, { label: "bench process", pids: () => [process.pid] }]);
  const busy = startMachineBusy();
  const startedAt = performance.now();
  const result = await load();
  const elapsedMs = performance.now() - startedAt;
  const busyShare = busy();
  const counted = stopCpu();
  // the bench process = its main thread (stand-ins, PGlite) + the load generator's worker threads
  const whole = counted.pop()?.cpuMs ?? 0;
  const main = counted.find((c) => c.label.startsWith("bench main thread"))?.cpuMs ?? 0;
  const cpu = [...counted, { label: "load generator", cpuMs: whole - main }];
  const oursMs = whole + counted.filter((c) => !c.label.startsWith("bench main thread")).reduce((n, c) => n + c.cpuMs, 0);
  const othersCores = Math.max(0, (busyShare * availableParallelism() * elapsedMs - oursMs) / elapsedMs);
  return { result, cpu, busyShare, othersCores };
}

async function measureTarget(
  ctx: SectionContext,
  target: RunningTarget,
  http: HttpTarget,
  opts: {
    connections: number;
    durationS: number;
    rateDurationS: number;
    pacings: Pacing[];
    shared: CpuGroup[];
    quietWaitS: number;
    /** seconds the section may still spend waiting for quiet and re-running noisy max runs */
    noiseBudget: { s: number };
  },
): Promise<TargetFigures> {
  const label = TARGET_LABELS[target.name];
  const waitWithinBudget = async () => {
    const t0 = Date.now();
    const share = await waitForQuiet(Math.min(opts.quietWaitS, opts.noiseBudget.s));
    opts.noiseBudget.s -= (Date.now() - t0) / 1000;
    return share;
  };
  const before = await waitWithinBudget();
  if (before > QUIET_BUSY)
    ctx.log(`${label}: the machine is still ${(before * 100).toFixed(0)}% busy with other work: figures will be noisy`);
  ctx.log(`${label}: warm-up`);
  await maxThroughput(http, { connections: opts.connections, durationS: 3 });
  ctx.log(`${label}: max throughput, ${opts.connections} connections, ${opts.durationS} s`);
  const maxRun = () =>
    measured(target, opts.shared, () => maxThroughput(http, { connections: opts.connections, durationS: opts.durationS }));
  let run = await maxRun();
  if (run.othersCores > QUIET_BUSY * availableParallelism() && opts.noiseBudget.s >= opts.durationS) {
    // other processes took a real share of the machine: once more when it is quiet, keep the cleaner run
    ctx.log(`${label}: other work used ${run.othersCores.toFixed(2)} cores during the run; waiting for quiet and measuring again`);
    await waitWithinBudget();
    opts.noiseBudget.s -= opts.durationS;
    const again = await maxRun();
    if (again.othersCores < run.othersCores) run = again;
  }
  const { result: max, cpu, busyShare: duringMax, othersCores } = run;
  ctx.log(`${label}: ${fmtInt(max.rps)} rps`);
  const rates: TargetFigures["rates"] = [];
  for (const pacing of opts.pacings) {
    for (const rate of RATES) {
      ctx.log(`${label}: ${rate} rps (${pacing} pacing), ${opts.rateDurationS} s`);
      const r = await measured(target, opts.shared, () =>
        fixedRate(http, { rate, durationS: opts.rateDurationS, pacing, connections: opts.connections }),
      );
      rates.push({ rate, pacing, result: r.result, othersCores: r.othersCores });
    }
  }
  return {
    name: target.name,
    label,
    owner: target.owner ? `pid ${target.owner.pid} ${target.owner.command}` : "unknown",
    max,
    rates,
    cpuPerRequestMs: cpu.map((c) => ({ label: c.label, ms: max.completed ? c.cpuMs / max.completed : Number.NaN })),
    machineBusy: { before, duringMax, othersCores },
  };
}

/** Share of all cores busy above which other work on the machine makes the figures unreliable. */
const QUIET_BUSY = 0.25;

/** Waits (1 s samples, at most `maxS`) until the machine is quiet; returns the last busy share. */
async function waitForQuiet(maxS: number): Promise<number> {
  const deadline = Date.now() + maxS * 1000;
  for (;;) {
    const busy = startMachineBusy();
    await new Promise((r) => setTimeout(r, 1000));
    const share = busy();
    if (share <= QUIET_BUSY || Date.now() >= deadline) return share;
  }
}

/** Other processes took enough of the machine around a target's runs to skew its figures. */
function unreliable(f: TargetFigures): boolean {
  return f.machineBusy.before > QUIET_BUSY || f.machineBusy.othersCores > QUIET_BUSY * availableParallelism();
}

function errorsOf(r: LoadResult): number {
  return r.errors + r.non2xx;
}

function render(figures: TargetFigures[], pacings: Pacing[], header: string[]): string {
  const out: string[] = [...header, ""];
  const cols = ["target", "max rps", "p50", "p99"];
  for (const pacing of pacings) {
    const tag = pacings.length > 1 ? (pacing === "even" ? " even" : " ac") : "";
    for (const rate of RATES) cols.push(`@${rate}${tag} p50`, "p95", "p99");
  }
  cols.push("errors");
  const rows = figures.map((f) => {
    const cells = [f.label, fmtInt(f.max.rps), fmtMs(f.max.p50), fmtMs(f.max.p99)];
    let errs = errorsOf(f.max);
    for (const pacing of pacings) {
      for (const rate of RATES) {
        const r = f.rates.find((x) => x.rate === rate && x.pacing === pacing)?.result;
        cells.push(fmtMs(r?.p50), fmtMs(r?.p95), fmtMs(r?.p99));
        errs += r ? errorsOf(r) : 0;
      }
    }
    cells.push(String(errs));
    return cells;
  });
  out.push(table(cols, rows));
  const pacingText = pacings
    .map((p) =>
      p === "even"
        ? "evenly spaced open-loop requests"
        : "autocannon overallRate, i.e. each second's quota sent in a burst on 20 connections (ac)",
    )
    .join(" / ");
  out.push(
    `max rps: closed loop at ${figures[0] ? "the given" : ""} connections, with its latency (ms); @200/@500: latency (ms) at that fixed rate, ${pacingText}.`,
  );
  out.push("");
  out.push("CPU per request during the max run (ms of CPU time / request):");
  const sharedLabels = [...new Set(figures.flatMap((f) => f.cpuPerRequestMs.slice(1).map((c) => c.label)))];
  out.push(
    table(
      ["target", "its server process(es)", ...sharedLabels, "all cores busy", "others' work (cores)"],
      figures.map((f) => [
        f.label,
        fmtMs(f.cpuPerRequestMs[0]?.ms),
        ...sharedLabels.map((l) => fmtMs(f.cpuPerRequestMs.find((c) => c.label === l)?.ms)),
        `${(f.machineBusy.duringMax * 100).toFixed(0)}%`,
        f.machineBusy.othersCores.toFixed(2),
      ]),
    ),
  );
  for (const f of figures) {
    const cores = availableParallelism();
    if (unreliable(f)) {
      out.push(
        `⚠ ${f.label}: other processes kept the machine busy (${(f.machineBusy.before * 100).toFixed(0)}% of ${cores} cores just before, ${f.machineBusy.othersCores.toFixed(2)} cores during the max run): its figures are unreliable`,
      );
    }
  }
  out.push("");
  out.push("Who listens on each port:");
  for (const f of figures) out.push(`  ${f.label}: ${f.owner}`);
  for (const f of figures) {
    for (const r of f.rates) {
      if (r.othersCores > QUIET_BUSY * availableParallelism()) {
        out.push(
          `  ⚠ ${f.label} @${r.rate}${r.pacing === "autocannon" ? " (ac)" : ""}: other processes used ${r.othersCores.toFixed(2)} cores during this run: unreliable`,
        );
      }
      if (r.result.sendLagP99 !== undefined && r.result.sendLagP99 > 10) {
        out.push(
          `  note: ${f.label} @${r.rate}${r.pacing === "autocannon" ? " (ac)" : ""}: the load generator sent up to ${fmtMs(r.result.sendLagP99)} ms late (p99)`,
        );
      }
    }
  }
  return out.join("\n");
}

function renderProfile(label: string, summary: ProfileSummary, requests: number, rps: number): string {
  const us = (ms: number) => (requests ? fmtInt((ms * 1000) / requests) : "—");
  const out = [
    "",
    `${label} under V8's CPU profiler (${fmtInt(rps)} rps while profiled; the profiler itself slows it): self time per request`,
    table(
      ["package / area", "µs/req", "share"],
      summary.byArea.slice(0, 12).map((a) => [a.area, us(a.ms), `${(a.share * 100).toFixed(1)}%`]),
    ),
    "",
    table(
      ["top functions", "µs/req", "share"],
      summary.byFunction.slice(0, 15).map((f) => [f.name.slice(0, 90), us(f.ms), `${(f.share * 100).toFixed(1)}%`]),
    ),
  ];
  return `\n${out.join("\n")}`;
}

export const apiRead: BenchSection = {
  name: "api",
  summary: "GET /api/v1/teams (JWT + session lookup + one join): Node + pg vs the Worker on workerd's own port and through wrangler dev",
  async run(ctx: SectionContext): Promise<SectionResult> {
    const started = Date.now();
    const choice = (ctx.flags.get("db") ?? "auto") as DbChoice;
    if (!["auto", "postgres", "pglite"].includes(choice)) throw new Error("--db must be auto, postgres or pglite");
    const targets = (ctx.flags.get("targets") ?? "node,workerd,wrangler").split(",") as TargetName[];
    for (const t of targets) if (!(t in TARGET_LABELS)) throw new Error(`unknown target ${t} (node, workerd, wrangler)`);
    const pacingFlag = ctx.flags.get("pacing") ?? "even";
    const pacings: Pacing[] = pacingFlag === "both" ? ["even", "autocannon"] : [pacingFlag as Pacing];
    if (!pacings.every((p) => p === "even" || p === "autocannon")) throw new Error("--pacing must be even, autocannon or both");
    const connections = intFlag(ctx.flags, "connections", 20);
    const durationS = intFlag(ctx.flags, "duration", 10);
    const rateDurationS = intFlag(ctx.flags, "rate-duration", 8);
    const profile = ctx.flags.has("profile");
    const breakdown = ctx.flags.has("breakdown");
    const quietWaitS = Number(ctx.flags.get("quiet-wait") ?? 15);
    const noiseBudget = { s: Number(ctx.flags.get("noise-budget") ?? 45) };

    const db = await openBenchDatabase(choice, ctx.cleanup, ctx.log);
    ctx.log(`database: ${db.description}`);
    const seed = await seedReadPath(db.databaseUrl);
    ctx.log(
      `seeded ${seed.totals.users} users, ${seed.totals.teams} teams, ${seed.totals.memberships} memberships; user "${seed.username}" is in ${seed.teamCount}`,
    );

    const secret = randomToken(48);
    const token = await signAccessToken(secret, { sub: seed.userId, name: seed.username, adm: false, pwc: false, fam: seed.familyId });
    const vars = { ...db.workerVars, JWT_SECRET: secret, AUTH_ENABLED: "true" };

    const running: RunningTarget[] = [];
    const starters: Promise<void>[] = [];
    if (targets.includes("node")) starters.push(startNodeServer(ctx, db.databaseUrl, secret).then((t) => void running.push(t)));
    if (targets.includes("workerd")) {
      starters.push(
        startWorkerdOwnPort(vars, ctx.cleanup, "/api/v1/auth/config", { inspect: profile }).then((w) => {
          running.push({
            name: "workerd",
            baseUrl: w.baseUrl,
            owner: w.owner,
            cpuPids: w.pids,
            ...(w.inspector && { inspector: w.inspector }),
          });
        }),
      );
    }
    if (targets.includes("wrangler")) {
      starters.push(
        startWranglerDev(vars, ctx.cleanup, "/api/v1/auth/config").then((w) => {
          running.push({ name: "wrangler", baseUrl: w.baseUrl, owner: w.owner, cpuPids: w.pids });
        }),
      );
    }
    const settled = await Promise.allSettled(starters);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
    running.sort((a, b) => targets.indexOf(a.name) - targets.indexOf(b.name));
    ctx.log(`targets up in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    let reference: string[] | undefined;
    for (const t of running) {
      const teams = await verifyTarget(t, token, seed.teamCount);
      if (reference && teams.join() !== reference.join())
        throw new Error(`${TARGET_LABELS[t.name]} answered different teams than ${TARGET_LABELS[running[0]?.name ?? "node"]}`);
      reference = teams;
    }

    const shared: CpuGroup[] = [
      {
        label: db.kind === "pglite" ? "bench main thread (stand-ins + PGlite)" : "bench main thread (stand-ins)",
        pids: () => [],
        threads: () => [{ pid: process.pid, tid: process.pid }],
      },
    ];
    if (db.kind === "postgres") shared.push({ label: "postgres (all on the machine)", pids: () => pidsByName("postgres") });

    const figures: TargetFigures[] = [];
    for (const t of running) {
      figures.push(
        await measureTarget(
          ctx,
          t,
          { url: `${t.baseUrl}${PATH}`, headers: { authorization: `Bearer ${token}` } },
          { connections, durationS, rateDurationS, pacings, shared, quietWaitS, noiseBudget },
        ),
      );
    }

    let breakdownText = "";
    const direct = running.find((t) => t.name === "workerd");
    if (breakdown && direct) {
      const probes: [string, HttpTarget][] = [
        ["Worker: GET /api/v1/auth/config (no JWT, no database)", { url: `${direct.baseUrl}/api/v1/auth/config`, headers: {} }],
        [
          "Worker: GET /api/v1/teams, bad signature (JWT check → 401)",
          { url: `${direct.baseUrl}${PATH}`, headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` } },
        ],
        [
          "stand-in: POST /sql with the same query (what neon() sends)",
          {
            url: db.workerVars.NEON_HTTP_ENDPOINT ?? "",
            method: "POST",
            headers: {
              "content-type": "application/json",
              "neon-connection-string": db.workerVars.DATABASE_URL ?? "",
              "neon-raw-text-output": "true",
              "neon-array-mode": "true",
            },
            body: JSON.stringify({ query: listTeamsSql, params: [seed.userId, LIST_TEAMS_LIMIT] }),
          },
        ],
      ];
      const rows: string[][] = [];
      for (const [label, probe] of probes) {
        ctx.log(`breakdown: ${label} at 200 rps, 5 s`);
        const r = await fixedRate(probe, { rate: 200, durationS: 5 });
        rows.push([
          label,
          fmtMs(r.p50),
          fmtMs(r.p95),
          fmtMs(r.p99),
          String(r.errors + (probe.url.endsWith(PATH) ? r.completed - r.non2xx : r.non2xx)),
        ]);
      }
      for (const f of figures) {
        const r = f.rates.find((x) => x.rate === 200 && x.pacing === "even")?.result;
        if (r) rows.push([`${f.label}: the full request (from above)`, fmtMs(r.p50), fmtMs(r.p95), fmtMs(r.p99), String(errorsOf(r))]);
      }
      breakdownText = `\n\nLatency of the parts at 200 rps (ms, evenly spaced):\n${table(["part", "p50", "p95", "p99", "unexpected"], rows)}`;
    }

    let profileText = "";
    const inspected = running.find((t) => t.inspector);
    if (inspected?.inspector) {
      ctx.log(`${TARGET_LABELS[inspected.name]}: 5 s max run under the CPU profiler`);
      const http = { url: `${inspected.baseUrl}${PATH}`, headers: { authorization: `Bearer ${token}` } };
      let run: LoadResult | undefined;
      const summary = await profileWhile(inspected.inspector.http, inspected.inspector.sourceMap, async () => {
        run = await maxThroughput(http, { connections, durationS: 5 });
      });
      profileText = renderProfile(TARGET_LABELS[inspected.name], summary, run?.completed ?? 0, run?.rps ?? 0);
    }

    const node = figures.find((f) => f.name === "node");
    const workerd = figures.find((f) => f.name === "workerd");
    const checks: TargetCheck[] = [];
    const noisy = (f: TargetFigures | undefined) => (f && unreliable(f) ? " — unreliable: other work on the machine, run again" : "");
    if (node && workerd) {
      const ratio = workerd.max.rps / node.max.rps;
      checks.push({
        label: `workerd own port ≥ ${TARGET_RATIO}× Node + pg throughput`,
        ok: ratio >= TARGET_RATIO,
        detail: `${ratio.toFixed(2)}× (${fmtInt(workerd.max.rps)} / ${fmtInt(node.max.rps)} rps)${noisy(node) || noisy(workerd)}`,
      });
    }
    const run200 = workerd?.rates.find((r) => r.rate === 200 && r.pacing === pacings[0]);
    const at200 = run200?.result;
    const noisy200 =
      workerd && run200 && (workerd.machineBusy.before > QUIET_BUSY || run200.othersCores > QUIET_BUSY * availableParallelism())
        ? " — unreliable: other work on the machine, run again"
        : "";
    if (at200) {
      checks.push({
        label: `workerd own port p50 ≤ ${TARGET_P50_MS} ms at 200 rps`,
        ok: at200.p50 <= TARGET_P50_MS,
        detail: `${fmtMs(at200.p50)} ms${noisy200}`,
      });
      checks.push({
        label: `workerd own port p95 ≤ ${TARGET_P95_MS} ms at 200 rps`,
        ok: at200.p95 <= TARGET_P95_MS,
        detail: `${fmtMs(at200.p95)} ms (p99 ${fmtMs(at200.p99)} ms, reported only)${noisy200}`,
      });
    }
    const totalErrors = figures.reduce((n, f) => n + errorsOf(f.max) + f.rates.reduce((m, r) => m + errorsOf(r.result), 0), 0);
    checks.push({ label: "no errors or non-2xx answers", ok: totalErrors === 0, detail: String(totalErrors) });

    const header = [
      `GET ${PATH} with a bearer token — user in ${seed.teamCount} of ${fmtInt(seed.totals.teams)} teams (${fmtInt(seed.totals.memberships)} memberships)`,
      `database: ${db.description}`,
      `Worker → database: neon() over HTTP via the local stand-in (${db.workerVars.NEON_HTTP_ENDPOINT ?? "?"}); Node → database: pg Pool, 20 connections`,
    ];
    const text = `${render(figures, pacings, header)}${breakdownText}${profileText}\n\nsection time ${((Date.now() - started) / 1000).toFixed(0)} s`;
    return {
      text,
      checks,
      data: { database: db.description, kind: db.kind, seed, figures, checks },
    };
  },
};
