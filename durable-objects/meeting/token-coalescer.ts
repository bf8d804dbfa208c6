/**
 * Coalesces token deltas into one frame per flush interval, so a meeting with N viewers sends
 * N frames per interval instead of N per token. The interval grows with the audience so that one
 * flush's sends (N × ~20–35 µs of the DO's CPU, more with permessage-deflate; TOOLCHAIN.md)
 * never take most of the interval: a few viewers get 16 ms (smooth), 1,000 get 40 ms, 2,000 get
 * 80 ms. A fixed cap would let a large audience saturate the DO, and then every flush comes later
 * than the last.
 */

/** Flush interval for an audience: 40 µs per viewer, at least 16 ms, at most 250 ms. */
export function flushIntervalMs(viewers: number): number {
  return Math.round(Math.min(250, Math.max(16, viewers * 0.04)));
}

export interface TokenCoalescerOptions {
  /** sends one coalesced delta; `firstAt` is when its first token reached the room (ms) */
  flush: (turnIndex: number, text: string, firstAt: number) => void;
  /** current number of viewers */
  viewers: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

export class TokenCoalescer {
  #buffer = "";
  #firstAt = 0;
  #turnIndex = -1;
  #timer: unknown;
  readonly #options: TokenCoalescerOptions;

  constructor(options: TokenCoalescerOptions) {
    this.#options = options;
  }

  push(turnIndex: number, text: string): void {
    if (turnIndex !== this.#turnIndex) this.flushNow();
    this.#turnIndex = turnIndex;
    if (this.#buffer.length === 0) this.#firstAt = Date.now();
    this.#buffer += text;
    if (this.#timer === undefined) {
      const set = this.#options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
      this.#timer = set(() => {
        this.#timer = undefined;
        this.flushNow();
      }, flushIntervalMs(this.#options.viewers()));
    }
  }

  /** Sends whatever is buffered now (before a turn's final message, for instance). */
  flushNow(): void {
    if (this.#timer !== undefined) {
      (this.#options.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>)))(this.#timer);
      this.#timer = undefined;
    }
    if (this.#buffer.length > 0) {
      const text = this.#buffer;
      this.#buffer = "";
      this.#options.flush(this.#turnIndex, text, this.#firstAt);
    }
  }

  /** Drops the buffer (the turn is being retried from scratch). */
  discard(): void {
    if (this.#timer !== undefined) (this.#options.clearTimer ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>)))(this.#timer);
    this.#timer = undefined;
    this.#buffer = "";
  }
}
