/**
 * Coalesces token deltas into one frame per flush interval, so a meeting with N viewers sends
 * N frames per interval instead of N per token. The interval grows with the audience: a few
 * viewers get ~16 ms (smooth), thousands get up to 50 ms (bounded CPU: one DO sends ~50k
 * frames/s on this hardware, see TOOLCHAIN.md).
 */

export function flushIntervalMs(viewers: number): number {
  return Math.round(Math.min(50, Math.max(16, 8 + viewers * 0.02)));
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
