/**
 * The Messages API call for one turn: body (model, max_tokens, system, messages, and temperature
 * where it can be sent) plus the `anthropic-version` to send it with.
 *
 * Why the version matters: API version 2026-10-21, which `@anthropic-ai/sdk` 1.x sends by default,
 * removed `temperature`, `top_p` and `top_k` (a request carrying any of them gets a 400, even at
 * 1.0), and the newest models (Opus 4.7+, Sonnet 5+, Haiku 5.5, Fable, Mythos) refuse sampling
 * parameters on every version. A meeting's temperature is part of the Virtual Lab method (creative
 * parallel copies, consistent merges), so by default a turn whose model still accepts it is sent
 * on version 2023-06-01 with the temperature; any other turn goes on the current version without
 * one and runs at the model's default sampling, and `temperatureApplied` says so for the UI.
 */
import type { MeetingConfig } from "./meeting-config.ts";
import { type BuiltPrompt, buildMessages } from "./prompts.ts";
import type { TranscriptEntry } from "./transcript.ts";
import type { Turn } from "./turn-plan.ts";

/** The version `@anthropic-ai/sdk` 1.x sends. */
export const CURRENT_API_VERSION = "2026-10-21";
/** The last version that accepts `temperature`. */
export const SAMPLING_API_VERSION = "2023-06-01";

/**
 * Model families known to accept `temperature` on SAMPLING_API_VERSION. Anything else (newer or
 * unknown models) is sent without it, which never fails; a missing entry only costs the setting.
 */
const TEMPERATURE_FAMILIES = [
  "claude-opus-4-6",
  "claude-opus-4-5",
  "claude-opus-4-1",
  "claude-opus-4",
  "claude-sonnet-4-6",
  "claude-sonnet-4-5",
  "claude-sonnet-4",
  "claude-haiku-4-5",
  "claude-3",
] as const;

/** Whether `model` accepts a `temperature` (on SAMPLING_API_VERSION). */
export function modelAcceptsTemperature(model: string): boolean {
  const id = model.trim().toLowerCase();
  // Opus 4.7 and 4.8 share the "claude-opus-4" prefix but refuse sampling parameters.
  if (/^claude-opus-4-[78](?:-|$)/.test(id)) return false;
  return TEMPERATURE_FAMILIES.some((f) => id === f || id.startsWith(`${f}-`));
}

/** The body of a Messages API call (add `stream: true` to stream it). */
export interface MessagesRequest extends BuiltPrompt {
  model: string;
  max_tokens: number;
  temperature?: number;
}

export interface TurnRequest {
  body: MessagesRequest;
  /** Send as the `anthropic-version` header (per-request `headers` option of the SDK). */
  apiVersion: string;
  /** Whether the meeting's temperature is in the body; false means the model samples at its default. */
  temperatureApplied: boolean;
}

export interface TurnRequestOptions {
  /** "honour" (default): send the temperature where the model accepts it; "omit": never send it. */
  temperature?: "honour" | "omit";
}

/** The call to make for `turn` (see the module header for how the version is chosen). */
export function buildTurnRequest(
  config: MeetingConfig,
  turn: Turn,
  transcriptSoFar: readonly TranscriptEntry[],
  options: TurnRequestOptions = {},
): TurnRequest {
  const prompt = buildMessages(config, turn, transcriptSoFar);
  const base = { model: turn.agent.model, max_tokens: turn.maxTokens, ...prompt };
  if ((options.temperature ?? "honour") === "honour" && modelAcceptsTemperature(turn.agent.model)) {
    return { body: { ...base, temperature: turn.temperature }, apiVersion: SAMPLING_API_VERSION, temperatureApplied: true };
  }
  return { body: base, apiVersion: CURRENT_API_VERSION, temperatureApplied: false };
}
