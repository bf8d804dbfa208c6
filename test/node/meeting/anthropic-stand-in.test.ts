/**
 * The Anthropic stand-in driven by the real `@anthropic-ai/sdk` client, and a meeting turn built by
 * the prompt builder sent through it.
 */
import Anthropic, { AnthropicError, APIError, AuthenticationError, BadRequestError, RateLimitError } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildTurnRequest, CURRENT_API_VERSION, SAMPLING_API_VERSION } from "../../../durable-objects/meeting/messages-request.ts";
import { costOfUsage } from "../../../durable-objects/meeting/pricing.ts";
import { planMeeting } from "../../../durable-objects/meeting/turn-plan.ts";
import { type AnthropicStandIn, startAnthropicStandIn } from "../../stand-ins/anthropic-server.ts";
import { AGENDA, teamConfig } from "./fixtures.ts";

let standIn: AnthropicStandIn;
let client: Anthropic;

const request = {
  model: "claude-sonnet-4-6",
  max_tokens: 256,
  system: "You are a Principal Investigator.",
  messages: [{ role: "user" as const, content: "Open the meeting." }],
};

beforeAll(async () => {
  standIn = await startAnthropicStandIn({ apiKey: "sk-ant-test" });
  client = new Anthropic({ apiKey: "sk-ant-test", baseURL: standIn.url, maxRetries: 0 });
});
afterAll(() => standIn.close());
beforeEach(() => {
  standIn.requests.length = 0;
  expect(standIn.pending()).toBe(0);
});

describe("Anthropic stand-in with the real SDK", () => {
  it("streams text deltas in order and reports the scripted usage", async () => {
    standIn.script({
      text: ["Welcome", ", team", ". Today", " we design", " nanobodies."],
      tokenDelayMs: 5,
      usage: { input_tokens: 1234, output_tokens: 42, cache_creation_input_tokens: 100, cache_read_input_tokens: 900 },
    });
    const deltas: string[] = [];
    const stream = client.messages.stream(request);
    stream.on("text", (d) => deltas.push(d));
    const message = await stream.finalMessage();
    expect(deltas).toEqual(["Welcome", ", team", ". Today", " we design", " nanobodies."]);
    expect(message.content).toEqual([expect.objectContaining({ type: "text", text: "Welcome, team. Today we design nanobodies." })]);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.model).toBe("claude-sonnet-4-6");
    expect(message.usage).toMatchObject({
      input_tokens: 1234,
      output_tokens: 42,
      cache_creation_input_tokens: 100,
      cache_read_input_tokens: 900,
    });
    expect(costOfUsage(message.model, message.usage)).toBeCloseTo((1234 * 3 + 42 * 15 + 100 * 3.75 + 900 * 0.3) / 1e6, 12);
  });

  it("sends the event sequence Anthropic sends, ping included", async () => {
    standIn.script({ text: "two words", stopReason: "max_tokens" });
    const res = await fetch(`${standIn.url}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": "sk-ant-test", "anthropic-version": "2026-10-21", "content-type": "application/json" },
      body: JSON.stringify({ ...request, stream: true }),
    });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => ({ event: m[1], data: JSON.parse(m[2] ?? "") }));
    expect(events.map((e) => e.event)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    // Each data payload names its own type, as Anthropic's do.
    for (const e of events) expect(e.data.type).toBe(e.event);
    expect(events[6]?.data).toMatchObject({ delta: { stop_reason: "max_tokens" }, usage: { output_tokens: 3 } });
    expect(text.endsWith("\n\n")).toBe(true);
  });

  it("answers non-streaming requests with a Message", async () => {
    standIn.script({ text: "Plain reply.", usage: { input_tokens: 10, output_tokens: 3 } });
    const message = await client.messages.create(request);
    expect(message.content[0]).toMatchObject({ type: "text", text: "Plain reply." });
    expect(message.usage).toMatchObject({ input_tokens: 10, output_tokens: 3 });
  });

  it("records every request body, with the system prompt, and the auth and version headers", async () => {
    const config = teamConfig();
    const turn = planMeeting(config)[0];
    if (!turn) throw new Error("no turn");
    const { body } = buildTurnRequest(config, turn, [], { temperature: "omit" });
    standIn.script({ text: "Let us begin." });
    await client.messages.stream(body).finalMessage();
    const recorded = standIn.requests[0];
    expect(recorded?.path).toBe("/v1/messages");
    // SDK 1.x sends the key as a bearer token and API version 2026-10-21.
    expect(recorded?.headers.authorization).toBe("Bearer sk-ant-test");
    expect(recorded?.headers["anthropic-version"]).toBe(CURRENT_API_VERSION);
    expect(recorded?.body).toMatchObject({ model: body.model, max_tokens: body.max_tokens, stream: true, system: body.system });
    expect(JSON.stringify(recorded?.body)).toContain("You are a Principal Investigator.");
    expect((recorded?.body as typeof body | undefined)?.messages[0]?.content).toContain(AGENDA);
  });

  it("a turn with a temperature goes out on API version 2023-06-01 through the SDK's per-request headers", async () => {
    const config = teamConfig({ temperature: 0.8 });
    const turn = planMeeting(config)[1];
    if (!turn) throw new Error("no turn");
    const req = buildTurnRequest(config, turn, []);
    expect(req.temperatureApplied).toBe(true);
    standIn.script({ text: "My view." });
    // SDK 1.x dropped `temperature` from its types, but sends the body as given.
    const params = req.body as unknown as Anthropic.MessageStreamParams;
    const message = await client.messages.stream(params, { headers: { "anthropic-version": req.apiVersion } }).finalMessage();
    expect(message.content[0]).toMatchObject({ text: "My view." });
    expect(standIn.requests[0]?.headers["anthropic-version"]).toBe(SAMPLING_API_VERSION);
    expect(standIn.requests[0]?.body).toMatchObject({ temperature: 0.8 });
  });

  it("refuses sampling parameters on API version 2026-10-21 like Anthropic", async () => {
    const params = { ...request, temperature: 1 } as unknown as Anthropic.MessageCreateParamsNonStreaming;
    const error = await client.messages.create(params).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).apiMessage).toBe("temperature: Extra inputs are not permitted");
  });

  it("a 429 surfaces as the SDK's RateLimitError with Anthropic's error body and retry-after", async () => {
    standIn.script({ kind: "rate_limit", retryAfterSeconds: 7 });
    const error = await client.messages
      .stream(request)
      .finalMessage()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).status).toBe(429);
    expect((error as RateLimitError).headers.get("retry-after")).toBe("7");
    expect((error as RateLimitError).type).toBe("rate_limit_error");
    expect((error as RateLimitError).requestID).toMatch(/^req_/);
    expect((error as RateLimitError).error).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: expect.any(String) },
      request_id: (error as RateLimitError).requestID,
    });
  });

  it("a 529 surfaces as an APIError with status 529 and type overloaded_error", async () => {
    standIn.script({ kind: "overloaded" });
    const error = await client.messages
      .stream(request)
      .finalMessage()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(529);
    expect((error as APIError).type).toBe("overloaded_error");
  });

  it("the SDK's own retries honour retry-after and then succeed", async () => {
    const retrying = new Anthropic({ apiKey: "sk-ant-test", baseURL: standIn.url, maxRetries: 2 });
    standIn.script(
      { kind: "rate_limit", retryAfterSeconds: 0.01 },
      { kind: "overloaded", retryAfterSeconds: 0.01 },
      { text: "Third time lucky." },
    );
    const message = await retrying.messages.stream(request).finalMessage();
    expect(message.content[0]).toMatchObject({ text: "Third time lucky." });
    expect(standIn.requests).toHaveLength(3);
    expect(standIn.requests.map((r) => r.headers["x-stainless-retry-count"])).toEqual(["0", "1", "2"]);
  });

  it("an error event mid-stream surfaces as an APIError after the first deltas", async () => {
    standIn.script({ kind: "stream_error", afterDeltas: 2, text: "one two three four" });
    const deltas: string[] = [];
    const stream = client.messages.stream(request);
    stream.on("text", (d) => deltas.push(d));
    const error = await stream.finalMessage().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).type).toBe("overloaded_error");
    expect(deltas.join("")).toBe("one two ");
  });

  it("a connection dropped mid-stream fails the stream after the deltas that arrived", async () => {
    standIn.script({ kind: "drop", afterDeltas: 3, text: "alpha beta gamma delta epsilon" });
    const deltas: string[] = [];
    const stream = client.messages.stream(request);
    stream.on("text", (d) => deltas.push(d));
    const error = await stream.finalMessage().catch((e: unknown) => e);
    expect(deltas.join("")).toBe("alpha beta gamma ");
    // Not an APIError (there is no status): the SDK wraps the fetch layer's "terminated".
    expect(error).toBeInstanceOf(AnthropicError);
    expect(error).not.toBeInstanceOf(APIError);
    expect(String(error)).toMatch(/terminated/);
  });

  it("takes the key from x-api-key or a bearer token, x-api-key first, and requires a version header", async () => {
    const wrong = new Anthropic({ apiKey: "sk-ant-wrong", baseURL: standIn.url, maxRetries: 0 });
    await expect(wrong.messages.create(request)).rejects.toBeInstanceOf(AuthenticationError);
    const post = (headers: Record<string, string>) =>
      fetch(`${standIn.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(request),
      });
    standIn.script({ text: "ok" });
    expect((await post({ "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01" })).status).toBe(200);
    expect(
      (await post({ "x-api-key": "sk-ant-wrong", authorization: "Bearer sk-ant-test", "anthropic-version": "2023-06-01" })).status,
    ).toBe(401);
    const res = await post({ "x-api-key": "sk-ant-test" });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error", message: expect.stringMatching(/anthropic-version/) },
    });
  });

  it("rejects an invalid body with invalid_request_error", async () => {
    const bad = { ...request, max_tokens: 0 };
    await expect(client.messages.create(bad)).rejects.toBeInstanceOf(BadRequestError);
  });

  it("answers 500 when a test did not script the call, so unexpected calls fail loudly", async () => {
    await expect(client.messages.create(request)).rejects.toMatchObject({ status: 500 });
  });
});
