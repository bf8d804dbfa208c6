/**
 * Coalesces token deltas into one frame per flush, so a meeting with N viewers sends N frames per
 * flush instead of N per token. A flush happens `flushIntervalMs` after the first token since the
 * last one; tokens that arrive while a flush is still sending wait for the next. So one cycle
 * is the interval plus the time the sends take (N × ~20–40 µs of the DO's CPU, twice that with
 * permessage-deflate; TOOLCHAIN.md), and a token waits at most about one cycle. The interval grows
 * in proportion to the audience (20 µs per viewer, at least 16 ms), which keeps the share of the
 * DO's time spent sending bounded (~⅔ at most) at any audience size, where a fixed interval would
 * let a large audience saturate the DO and make every flush later than the last: 16 ms up to 800
 * viewers, 20 ms at 1,000, 40 ms at 2,000.
 */

/** Flush interval for an audience: 20 µs per viewer, at least 16 ms, at most 250 ms. */
export function flushIntervalMs(viewers: number): number {
  return Math.round(Math.min(250, Math.max(16, viewers * 0.02)));
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
