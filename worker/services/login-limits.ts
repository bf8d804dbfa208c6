/**
 * Login throttling, held in RateLimiter Durable Objects: every attempt counts against the
 * client IP; failed attempts count against the account (a success clears them).
 */
import type { RateLimitRule } from "../../durable-objects/rate-limiter/rate-limiter.ts";
import { ApiError } from "../lib/errors.ts";

export const LOGIN_IP_RULE: RateLimitRule = { limit: 30, windowMs: 5 * 60_000 };
export const LOGIN_ACCOUNT_RULE: RateLimitRule = { limit: 10, windowMs: 15 * 60_000 };

function limiter(env: Env, key: string) {
  return env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key));
}
const accountKey = (login: string) => `login:account:${login.trim().toLowerCase()}`;

/** Throws 429 RATE_LIMITED (with Retry-After) when the IP or the account is over its limit. */
export async function limitLogin(env: Env, ip: string, login: string, onLimited: () => Promise<void>): Promise<void> {
  const [byIp, byAccount] = await Promise.all([
    limiter(env, `login:ip:${ip}`).hit(LOGIN_IP_RULE),
    limiter(env, accountKey(login)).check(LOGIN_ACCOUNT_RULE),
  ]);
  const blocked = [byIp, byAccount].filter((r) => !r.allowed);
  if (blocked.length > 0) {
    await onLimited();
    const retryAfter = Math.max(...blocked.map((r) => r.retryAfterSeconds));
    throw new ApiError("RATE_LIMITED", `Too many sign-in attempts. Try again in ${retryAfter} s.`, {
      headers: { "Retry-After": String(retryAfter) },
    });
  }
}

export async function recordLoginFailure(env: Env, login: string): Promise<void> {
  await limiter(env, accountKey(login)).hit(LOGIN_ACCOUNT_RULE);
}

export async function resetLoginFailures(env: Env, login: string): Promise<void> {
  await limiter(env, accountKey(login)).reset();
}
