/**
 * RateLimiter: one Durable Object per limited key (e.g. `login:ip:1.2.3.4`), holding a sliding
 * window of hits in its storage. Called over RPC from the Worker.
 */
import { DurableObject } from "cloudflare:workers";
import { hitWindow, peekWindow, type WindowDecision } from "./sliding-window.ts";

export interface RateLimitRule {
  limit: number;
  windowMs: number;
}

export interface RateLimitResult {
  allowed: boolean;
  retryAfterSeconds: number;
  remaining: number;
}

const HITS_KEY = "hits";

export class RateLimiter extends DurableObject<Env> {
  #hits(): number[] {
    return this.ctx.storage.kv.get<number[]>(HITS_KEY) ?? [];
  }

  #save(decision: WindowDecision, rule: RateLimitRule, now: number): RateLimitResult {
    if (decision.hits.length === 0) {
      this.ctx.storage.kv.delete(HITS_KEY);
    } else {
      this.ctx.storage.kv.put(HITS_KEY, decision.hits);
      // Forget the key once its window has passed so idle keys leave no storage behind.
      void this.ctx.storage.setAlarm(now + rule.windowMs + 1000);
    }
    return {
      allowed: decision.allowed,
      retryAfterSeconds: decision.retryAfterSeconds,
      remaining: Math.max(0, rule.limit - decision.hits.length),
    };
  }

  /** Records one hit if allowed. */
  hit(rule: RateLimitRule): RateLimitResult {
    const now = Date.now();
    return this.#save(hitWindow(this.#hits(), now, rule.limit, rule.windowMs), rule, now);
  }

  /** Whether one more hit would be allowed, without recording it. */
  check(rule: RateLimitRule): RateLimitResult {
    const now = Date.now();
    const decision = peekWindow(this.#hits(), now, rule.limit, rule.windowMs);
    return {
      allowed: decision.allowed,
      retryAfterSeconds: decision.retryAfterSeconds,
      remaining: Math.max(0, rule.limit - decision.hits.length),
    };
  }

  reset(): void {
    this.ctx.storage.kv.delete(HITS_KEY);
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }
}
