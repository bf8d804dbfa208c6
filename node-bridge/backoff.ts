/**
 * Reconnect delays: exponential growth with "equal jitter" (half fixed, half random), capped.
 * The jitter spreads the reconnects of many bridges after a control-plane blip; the fixed half
 * keeps one bridge from hammering a server that just refused it.
 */

export interface BackoffOptions {
  /** First delay before jitter (ms). */
  initialMs?: number;
  /** Upper bound of any delay (ms). */
  maxMs?: number;
  /** Injected for deterministic tests. */
  random?: () => number;
}

export class Backoff {
  #attempt = 0;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.#initialMs = options.initialMs ?? 500;
    this.#maxMs = options.maxMs ?? 30_000;
    this.#random = options.random ?? Math.random;
  }

  /** The delay before the next attempt; each call grows the following one. */
  next(): number {
    const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 30));
    this.#attempt++;
    return Math.round(ceiling / 2 + (this.#random() * ceiling) / 2);
  }

  /** Call once a connection proved healthy, so the next outage starts from a short delay again. */
  reset(): void {
    this.#attempt = 0;
  }
}
