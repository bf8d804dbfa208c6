/**
 * The part of autocannon's programmatic API the benchmarks use (the package ships no types).
 * Inside a worker thread autocannon returns its raw, unaggregated result: the fields below.
 */
declare module "autocannon" {
  import type { EventEmitter } from "node:events";

  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    method?: string;
    headers?: Record<string, string>;
    overallRate?: number;
    timeout?: number;
    pipelining?: number;
  }

  interface RawResult {
    totalCompletedRequests: number;
    totalRequests: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    duration: number;
  }

  interface Instance extends EventEmitter {
    on(event: "response", listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): this;
    on(event: "reqError", listener: (error: Error) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    stop(): void;
  }

  function autocannon(options: Options, callback: (err: Error | null, result: RawResult) => void): Instance;
  export default autocannon;
}
