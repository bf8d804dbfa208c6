/**
 * Load helpers for the benchmark sections: maximum throughput at N connections and latency at a
 * fixed request rate. Each measurement runs in its own worker thread (load-worker.ts).
 */
import { Worker } from "node:worker_threads";
import type { LoadJob, LoadResult } from "./load-worker.ts";

export type { LoadResult } from "./load-worker.ts";

/** "even": open loop, evenly spaced requests (default); "autocannon": autocannon's `overallRate`. */
export type Pacing = "even" | "autocannon";

export interface HttpTarget {
  url: string;
  headers: Record<string, string>;
  /** GET without a body unless given (fixed-rate pacing only) */
  method?: string;
  body?: string;
}

function runInWorker(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./load-worker.ts", import.meta.url));
    worker.once("message", (msg: { ok: true; result: LoadResult } | { ok: false; error: string }) => {
      void worker.terminate();
      if (msg.ok) resolve(msg.result);
      else reject(new Error(msg.error));
    });
    worker.once("error", reject);
    worker.postMessage(job);
  });
}

/** Closed loop: `connections` clients, each sending as soon as its previous answer arrives. */
export function maxThroughput(target: HttpTarget, opts: { connections: number; durationS: number }): Promise<LoadResult> {
  return runInWorker({
    kind: "closed",
    url: target.url,
    headers: target.headers,
    connections: opts.connections,
    durationS: opts.durationS,
  });
}

/** Latency at a fixed rate (requests/s). */
export function fixedRate(
  target: HttpTarget,
  opts: { rate: number; durationS: number; pacing?: Pacing; connections?: number },
): Promise<LoadResult> {
  if (opts.pacing === "autocannon") {
    return runInWorker({
      kind: "autocannon-rate",
      url: target.url,
      headers: target.headers,
      rate: opts.rate,
      connections: opts.connections ?? 20,
      durationS: opts.durationS,
    });
  }
  return runInWorker({
    kind: "paced",
    url: target.url,
    headers: target.headers,
    rate: opts.rate,
    durationS: opts.durationS,
    prerollS: 1,
    ...(target.method && { method: target.method }),
    ...(target.body !== undefined && { body: target.body }),
  });
}
