/**
 * A sliding-window counter: at most `limit` hits in any `windowMs`. Pure, so the limiter DO is
 * a thin shell around it and tests can drive it directly.
 */

export interface WindowDecision {
  allowed: boolean;
  /** hits still inside the window, oldest first (after recording this one if allowed) */
  hits: number[];
  /** seconds until the next hit would be allowed (0 when allowed) */
  retryAfterSeconds: number;
}

export function prune(hits: readonly number[], now: number, windowMs: number): number[] {
  const from = now - windowMs;
  return hits.filter((t) => t > from);
}

/** Records a hit if the window has room. */
export function hitWindow(hits: readonly number[], now: number, limit: number, windowMs: number): WindowDecision {
  const live = prune(hits, now, windowMs);
  if (live.length >= limit) {
    const oldestThatMustExpire = live[live.length - limit] ?? now;
    return { allowed: false, hits: live, retryAfterSeconds: Math.max(1, Math.ceil((oldestThatMustExpire + windowMs - now) / 1000)) };
  }
  live.push(now);
  return { allowed: true, hits: live, retryAfterSeconds: 0 };
}

/** Whether a hit would be allowed, without recording one. */
export function peekWindow(hits: readonly number[], now: number, limit: number, windowMs: number): WindowDecision {
  const live = prune(hits, now, windowMs);
  if (live.length >= limit) {
    const oldestThatMustExpire = live[live.length - limit] ?? now;
    return { allowed: false, hits: live, retryAfterSeconds: Math.max(1, Math.ceil((oldestThatMustExpire + windowMs - now) / 1000)) };
  }
  return { allowed: true, hits: live, retryAfterSeconds: 0 };
}
