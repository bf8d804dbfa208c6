/**
 * One model call for one turn: the Anthropic Messages API streamed through the official SDK,
 * or the clearly labelled offline model when there is no key. Errors are classified so the
 * room can retry what is worth retrying (429, 529, 5xx, dropped connections) with backoff.
 */
import Anthropic from "@anthropic-ai/sdk";
import type { MeetingConfig } from "./meeting-config.ts";
import { buildTurnRequest } from "./messages-request.ts";
import { runOfflineModel } from "./offline-model.ts";
import { OFFLINE_MODEL_ID } from "./pricing.ts";
import { buildMessages } from "./prompts.ts";
import type { MeetingErrorCode } from "./protocol.ts";
import type { TranscriptEntry } from "./transcript.ts";
import type { Turn } from "./turn-plan.ts";

export interface ModelUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface ModelResult {
  text: string;
  model: string;
  usage: ModelUsage;
}

export type ModelSource = { kind: "anthropic"; apiKey: string; baseURL?: string | undefined } | { kind: "offline"; delayMs: number };

/** A failed call: `retryable` ones are tried again after `retryAfterMs` (if the provider said). */
export class ModelCallError extends Error {
  readonly code: MeetingErrorCode;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  constructor(code: MeetingErrorCode, message: string, retryable: boolean, retryAfterMs?: number, cause?: unknown) {
    super(message, { cause });
    this.name = "ModelCallError";
    this.code = code;
    this.retryable = retryable;
    this.retryAfterMs = retryAfterMs;
  }
}

function classify(e: unknown): ModelCallError {
  if (e instanceof ModelCallError) return e;
  if (e instanceof Anthropic.APIError && typeof e.status === "number") {
    const retryAfter = Number(e.headers?.get?.("retry-after"));
    const after = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined;
    if (e.status === 429)
      return new ModelCallError("PROVIDER_RATE_LIMITED", "The model provider is rate limiting requests.", true, after, e);
    if (e.status === 529) return new ModelCallError("PROVIDER_OVERLOADED", "The model provider is overloaded.", true, after, e);
    if (e.status >= 500) return new ModelCallError("PROVIDER_UNAVAILABLE", `The model provider failed (${e.status}).`, true, after, e);
    if (e.status === 401 || e.status === 403)
      return new ModelCallError("KEY_UNAVAILABLE", "The Anthropic API key was refused.", false, undefined, e);
    return new ModelCallError("PROVIDER_ERROR", `The model provider refused the request (${e.status}): ${e.message}`, false, undefined, e);
  }
  if (e instanceof Error && e.name === "AbortError") throw e;
  // Dropped connections and stream errors without a status.
  const message = e instanceof Error ? e.message : String(e);
  return new ModelCallError("PROVIDER_UNAVAILABLE", `The connection to the model provider failed: ${message}`, true, undefined, e);
}

/** Streams one turn; `onDelta` gets text as it arrives. Throws ModelCallError. */
export async function callModel(
  source: ModelSource,
  config: MeetingConfig,
  turn: Turn,
  transcript: readonly TranscriptEntry[],
  onDelta: (text: string) => void,
  signal: AbortSignal,
): Promise<ModelResult> {
  if (source.kind === "offline") {
    const reply = runOfflineModel(config, turn, buildMessages(config, turn, transcript), { delayMs: source.delayMs, signal });
    for await (const piece of reply.deltas) onDelta(piece);
    const u = reply.usage;
    return {
      text: reply.text,
      model: OFFLINE_MODEL_ID,
      usage: {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
        cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
      },
    };
  }
  const client = new Anthropic({
    apiKey: source.apiKey,
    ...(source.baseURL && { baseURL: source.baseURL }),
    maxRetries: 0,
    timeout: 10 * 60_000,
  });
  const request = buildTurnRequest(config, turn, transcript);
  try {
    // The SDK's types follow the newest API version, which has no `temperature`; see messages-request.ts.
    const stream = client.messages.stream(request.body as unknown as Anthropic.MessageStreamParams, {
      headers: { "anthropic-version": request.apiVersion },
      signal,
    });
    let text = "";
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
        text += event.delta.text;
        onDelta(event.delta.text);
      }
    }
    const final = await stream.finalMessage();
    const u = final.usage;
    return {
      text,
      model: final.model,
      usage: {
        input_tokens: u.input_tokens ?? 0,
        output_tokens: u.output_tokens ?? 0,
        cache_creation_input_tokens: u.cache_creation_input_tokens ?? 0,
        cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
      },
    };
  } catch (e: unknown) {
    if (signal.aborted) throw new DOMException("aborted", "AbortError");
    throw classify(e);
  }
}

/** Backoff before attempt `attempt` (1-based retry count): exponential with jitter, or the provider's hint. */
export function backoffMs(attempt: number, hintMs: number | undefined, baseMs = 500): number {
  if (hintMs !== undefined) return Math.min(hintMs, 60_000);
  const exp = baseMs * 2 ** (attempt - 1);
  return Math.min(30_000, exp / 2 + Math.random() * (exp / 2));
}
