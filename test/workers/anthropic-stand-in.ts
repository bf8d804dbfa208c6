/**
 * The workers suites' handle on the Anthropic Messages API stand-in (test/stand-ins/): a user's
 * stored key selects the stand-in's script, and the stand-in records what each key was asked.
 */
import { expect, inject } from "vitest";
import { call, expectStatus, type TestUser } from "./helpers.ts";

const anthropicUrl = inject("anthropicUrl");

/** One Messages API request as the stand-in received it. */
export interface StandInRequest {
  body: { system?: unknown; messages: { role: string; content: unknown }[] };
}

/** Stores a fresh stand-in key for the user; its replies are scripted per key. */
export async function useStandInKey(user: TestUser): Promise<string> {
  const apiKey = `sk-ant-test-${crypto.randomUUID()}`;
  await expectStatus(await call("PUT", "/api/v1/me/api-keys/anthropic", { token: user.accessToken, body: { apiKey } }), 200);
  return apiKey;
}

/** The stand-in's next replies for requests made with `apiKey`. */
export async function script(apiKey: string, items: unknown[]): Promise<void> {
  const res = await fetch(`${anthropicUrl}/_control/script`, { method: "POST", body: JSON.stringify({ apiKey, items }) });
  expect(res.status).toBe(200);
}

/** The requests the stand-in received with `apiKey`, oldest first. */
export async function standInRequests(apiKey: string): Promise<StandInRequest[]> {
  const res = await fetch(`${anthropicUrl}/_control/requests?apiKey=${encodeURIComponent(apiKey)}`);
  return ((await res.json()) as { requests: StandInRequest[] }).requests;
}
