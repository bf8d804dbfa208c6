/**
 * Load generation, run in a worker thread (see load.ts) so that it never shares an event loop
 * with the servers under test or with the local database stand-ins in the main process.
 *
 * Two generators: closed-loop (autocannon, N connections each sending its next request as soon
 * as the previous answer arrives: maximum throughput) and open-loop at a fixed rate with requests
 * evenly spaced in time (node:http keep-alive sockets, a new socket when all are busy, so a
 * server pause delays the answers but not the sending). autocannon's own `overallRate` is
 * available too for comparison, but it sends each second's quota in a burst at the start of
 * the second, which measures queueing at N connections rather than latency at a steady rate.
 */
import http from "node:http";
import { parentPort } from "node:worker_threads";
import autocannon from "autocannon";

export type LoadJob =
  | { kind: "closed"; url: string; headers: Record<string, string>; connections: number; durationS: number }
  | {
      kind: "paced";
      url: string;
      headers: Record<string, string>;
      rate: number;
      durationS: number;
      prerollS: number;
      method?: string;
      body?: string;
    }
  | { kind: "autocannon-rate"; url: string; headers: Record<string, string>; rate: number; connections: number; durationS: number };

export interface LoadResult {
  /** responses counted (any status) in the measured window */
  completed: number;
  ok: number;
  non2xx: number;
  errors: number;
  elapsedS: number;
  /** completed 2xx responses per second over the measured window (latencies cover every answer) */
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** open-loop only: how late the generator sent (p99, ms) — a check on the generator itself */
  sendLagP99?: number;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

class Samples {
  private values = new Float64Array(1 << 14);
  private n = 0;
  add(v: number): void {
    if (this.n === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.n++] = v;
  }
  sorted(): Float64Array {
    return this.values.slice(0, this.n).sort();
  }
}

function summarize(latencies: Samples, counts: { completed: number; ok: number; errors: number }, elapsedS: number): LoadResult {
  const sorted = latencies.sorted();
  return {
    completed: counts.completed,
    ok: counts.ok,
    non2xx: counts.completed - counts.ok,
    errors: counts.errors,
    elapsedS,
    rps: counts.ok / elapsedS,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? (sorted[sorted.length - 1] ?? Number.NaN) : Number.NaN,
  };
}

function runAutocannon(job: Extract<LoadJob, { kind: "closed" | "autocannon-rate" }>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const latencies = new Samples();
    const counts = { completed: 0, ok: 0, errors: 0 };
    const started = performance.now();
    const instance = autocannon(
      {
        url: job.url,
        headers: job.headers,
        connections: job.connections,
        duration: job.durationS,
        timeout: 10,
        ...(job.kind === "autocannon-rate" && { overallRate: job.rate }),
      },
      (err, raw) => {
        if (err) return reject(err);
        const elapsedS = (performance.now() - started) / 1000;
        counts.errors = raw.errors;
        resolve(summarize(latencies, counts, elapsedS));
      },
    );
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      counts.completed++;
      latencies.add(responseTime);
      if (statusCode >= 200 && statusCode < 300) counts.ok++;
    });
  });
}

function runPaced(job: Extract<LoadJob, { kind: "paced" }>): Promise<LoadResult> {
  const target = new URL(job.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
  const intervalMs = 1000 / job.rate;
  const prerollCount = Math.round(job.prerollS * job.rate);
  const total = prerollCount + Math.round(job.durationS * job.rate);
  const latencies = new Samples();
  const lags = new Samples();
  const counts = { completed: 0, ok: 0, errors: 0 };
  let inFlight = 0;
  let index = 0;
  let windowStart = 0;
  let windowEnd = 0;

  return new Promise((resolve) => {
    const start = performance.now();
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      agent.destroy();
      const result = summarize(latencies, counts, (windowEnd - windowStart) / 1000);
      result.sendLagP99 = percentile(lags.sorted(), 99);
      resolve(result);
    };
    const maybeDone = () => {
      if (index >= total && inFlight === 0) finish();
    };

    const fire = (i: number, scheduled: number) => {
      const measured = i >= prerollCount;
      const sentAt = performance.now();
      if (measured) lags.add(sentAt - scheduled);
      if (i === prerollCount) windowStart = scheduled;
      inFlight++;
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: `${target.pathname}${target.search}`,
          method: job.method ?? "GET",
          headers: job.body === undefined ? job.headers : { ...job.headers, "content-length": String(Buffer.byteLength(job.body)) },
          timeout: 10_000,
        },
        (res) => {
          res.on("data", () => {});
          res.on("end", () => {
            const doneAt = performance.now();
            inFlight--;
            if (measured) {
              counts.completed++;
              latencies.add(doneAt - sentAt);
              const status = res.statusCode ?? 0;
              if (status >= 200 && status < 300) counts.ok++;
              windowEnd = Math.max(windowEnd, doneAt);
            }
            maybeDone();
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => {
        inFlight--;
        if (measured) counts.errors++;
        maybeDone();
      });
      req.end(job.body);
    };

    const tick = () => {
      const now = performance.now();
      while (index < total && start + index * intervalMs <= now) {
        fire(index, start + index * intervalMs);
        index++;
      }
      if (index < total) setTimeout(tick, Math.max(0, start + index * intervalMs - performance.now()));
      else {
        windowEnd = Math.max(windowEnd, start + total * intervalMs);
        maybeDone();
        setTimeout(finish, 15_000).unref();
      }
    };
    tick();
  });
}

export function runJob(job: LoadJob): Promise<LoadResult> {
  return job.kind === "paced" ? runPaced(job) : runAutocannon(job);
}

parentPort?.on("message", (job: LoadJob) => {
  runJob(job).then(
    (result) => parentPort?.postMessage({ ok: true, result }),
    (e: unknown) => parentPort?.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
