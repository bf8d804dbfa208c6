/**
 * A local stand-in of the Anthropic Messages API, good enough for the real `@anthropic-ai/sdk`
 * client to talk to it: `POST /v1/messages` answered as JSON or, with `stream: true`, as the same
 * server-sent events Anthropic sends (message_start with usage, content_block_start, ping,
 * content_block_delta/text_delta, content_block_stop, message_delta with stop_reason and usage,
 * message_stop). It checks the API key (`x-api-key`, or `Authorization: Bearer` as SDK 1.x sends
 * it; `x-api-key` wins when both are present, as on the real API) and `anthropic-version`, and
 * validates the body the way that version does: from 2026-10-21 on, `temperature`, `top_p` and
 * `top_k` are refused with a 400. It replies from a per-test script: texts with token pacing and usage numbers, or injected failures in
 * Anthropic's error shape (429 with retry-after, 529 overloaded_error, an `error` event or a
 * dropped connection mid-stream). Every request is recorded so tests can assert the prompts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { readBody } from "./http.ts";

export interface StandInUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** A successful reply. */
export interface ScriptedReply {
  kind?: "reply";
  /** The reply text: a string is streamed word by word; an array is streamed as exactly those deltas. */
  text: string | readonly string[];
  /** Pause before each delta after the first (ms): token pacing. */
  tokenDelayMs?: number;
  /** Reported usage; missing numbers are derived from the sizes (4 characters per token). */
  usage?: StandInUsage;
  stopReason?: "end_turn" | "max_tokens" | "stop_sequence";
  /** Model reported back; the requested model by default. */
  model?: string;
}

/** An injected failure. */
export type ScriptedError =
  /** 429 `rate_limit_error` with a `retry-after` header (seconds). */
  | { kind: "rate_limit"; retryAfterSeconds?: number; message?: string }
  /** 529 `overloaded_error` (with `retry-after` only when given). */
  | { kind: "overloaded"; retryAfterSeconds?: number; message?: string }
  /** Any other HTTP error in Anthropic's shape. */
  | { kind: "http_error"; status: number; type: string; message: string; headers?: Record<string, string> }
  /** Streams `text` up to `afterDeltas` deltas, then destroys the connection (no message_stop). */
  | { kind: "drop"; afterDeltas?: number; text?: string; tokenDelayMs?: number }
  /** Streams up to `afterDeltas` deltas, then an SSE `error` event (overloaded_error by default) and ends. */
  | { kind: "stream_error"; afterDeltas?: number; text?: string; type?: string; message?: string };

export type ScriptItem = ScriptedReply | ScriptedError;

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  /** Parsed JSON body (undefined when it was not JSON). */
  body: unknown;
  /** Raw body text. */
  raw: string;
  /** The API key presented (x-api-key or Bearer). */
  apiKey?: string | undefined;
}

/** The subset of a Messages API request body the stand-in checks. */
const MessagesBodySchema = z.object({
  model: z.string().min(1),
  max_tokens: z.number().int().min(1),
  messages: z
    .array(
      z.object({
        role: z.enum(["user", "assistant"]),
        content: z.union([z.string(), z.array(z.looseObject({ type: z.string() })).min(1)]),
      }),
    )
    .min(1),
  system: z.union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string() }))]).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  stream: z.boolean().optional(),
});

/** First API version without sampling parameters. */
const SAMPLING_REMOVED_IN = "2026-10-21";
const SAMPLING_PARAMS = ["temperature", "top_p", "top_k"] as const;
export type MessagesBody = z.infer<typeof MessagesBodySchema>;

export interface AnthropicStandInOptions {
  /** The key clients must send in `x-api-key`; "test-key" by default. */
  apiKey?: string;
  /** 0 (any free port) by default. */
  port?: number;
  /**
   * Accept any key this returns true for (each key then has its own script queue), so parallel
   * test files can share one stand-in. Default: only `apiKey`.
   */
  acceptKey?: (key: string) => boolean;
  /** Serve `POST /_control/script {apiKey, items}` and `GET /_control/requests?apiKey=` for tests in other processes (workerd). */
  control?: boolean;
  /** Reply used when the script is empty; without one an empty script answers 500, so unexpected calls fail loudly. */
  defaultReply?: ScriptedReply | ((body: MessagesBody) => ScriptedReply);
}

export interface AnthropicStandIn {
  /** Base URL for `new Anthropic({ baseURL })`. */
  url: string;
  port: number;
  apiKey: string;
  /** Every request received, in order (including rejected ones). */
  requests: RecordedRequest[];
  /** Queues replies and failures; each request takes the next one. */
  script(...items: ScriptItem[]): void;
  /** The same for requests made with another accepted key. */
  scriptFor(key: string, ...items: ScriptItem[]): void;
  /** Script items not used yet. */
  pending(): number;
  close(): Promise<void>;
}

function anthropicError(type: string, message: string, requestId: string) {
  return { type: "error", error: { type, message }, request_id: requestId };
}

/** Splits text into word-sized deltas whose concatenation is the text. */
function toDeltas(text: string | readonly string[]): string[] {
  if (typeof text !== "string") return [...text];
  return text.match(/\s*\S+\s*/g) ?? (text ? [text] : []);
}

const tokensOf = (chars: number) => Math.max(1, Math.ceil(chars / 4));

function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Starts the stand-in on 127.0.0.1. */
export async function startAnthropicStandIn(options: AnthropicStandInOptions = {}): Promise<AnthropicStandIn> {
  const apiKey = options.apiKey ?? "test-key";
  const requests: RecordedRequest[] = [];
  const queues = new Map<string, ScriptItem[]>();
  const queueOf = (key: string) => {
    let q = queues.get(key);
    if (!q) {
      q = [];
      queues.set(key, q);
    }
    return q;
  };
  const queue = queueOf(apiKey);
  const accept = options.acceptKey ?? ((key: string) => key === apiKey);
  let counter = 0;

  const json = (res: ServerResponse, status: number, body: unknown, requestId: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", "request-id": requestId, ...headers });
    res.end(JSON.stringify(body));
  };

  async function streamReply(res: ServerResponse, body: MessagesBody, item: ScriptItem, ids: { requestId: string; messageId: string }) {
    const reply: ScriptedReply =
      item.kind === "drop" || item.kind === "stream_error"
        ? {
            text: item.text ?? "This reply is cut off before it can finish.",
            ...(item.kind === "drop" && item.tokenDelayMs !== undefined && { tokenDelayMs: item.tokenDelayMs }),
          }
        : (item as ScriptedReply);
    const deltas = toDeltas(reply.text);
    const text = deltas.join("");
    const usage = usageFor(body, reply, text);
    const stopAfter = item.kind === "drop" || item.kind === "stream_error" ? Math.min(item.afterDeltas ?? 2, deltas.length) : deltas.length;

    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "request-id": ids.requestId,
    });
    sse(res, "message_start", {
      type: "message_start",
      message: {
        id: ids.messageId,
        type: "message",
        role: "assistant",
        model: reply.model ?? body.model,
        content: [],
        container: null,
        diagnostics: null,
        stop_details: null,
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: usage.input_tokens,
          cache_creation_input_tokens: usage.cache_creation_input_tokens,
          cache_read_input_tokens: usage.cache_read_input_tokens,
          output_tokens: 1,
          service_tier: "standard",
        },
      },
    });
    sse(res, "content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "", citations: null } });
    sse(res, "ping", { type: "ping" });
    for (let i = 0; i < stopAfter; i++) {
      if (res.destroyed) return;
      if (i > 0 && reply.tokenDelayMs) await sleep(reply.tokenDelayMs);
      sse(res, "content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: deltas[i] } });
    }
    if (item.kind === "drop") {
      // Let the written events reach the client, then cut the TCP connection without ending the stream.
      await sleep(20);
      res.socket?.destroy();
      return;
    }
    if (item.kind === "stream_error") {
      sse(res, "error", anthropicError(item.type ?? "overloaded_error", item.message ?? "Overloaded", ids.requestId));
      res.end();
      return;
    }
    sse(res, "content_block_stop", { type: "content_block_stop", index: 0 });
    sse(res, "message_delta", {
      type: "message_delta",
      delta: { stop_reason: reply.stopReason ?? "end_turn", stop_sequence: null, stop_details: null, container: null },
      usage,
    });
    sse(res, "message_stop", { type: "message_stop" });
    res.end();
  }

  function usageFor(body: MessagesBody, reply: ScriptedReply, text: string) {
    const promptChars = JSON.stringify(body.system ?? "").length + JSON.stringify(body.messages).length;
    return {
      input_tokens: reply.usage?.input_tokens ?? tokensOf(promptChars),
      cache_creation_input_tokens: reply.usage?.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: reply.usage?.cache_read_input_tokens ?? 0,
      output_tokens: reply.usage?.output_tokens ?? tokensOf(text.length),
    };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    counter += 1;
    const n = String(counter).padStart(4, "0");
    const requestId = `req_standin_${n}`;
    const messageId = `msg_standin_${n}`;
    const raw = await readBody(req);
    let parsed: unknown;
    try {
      parsed = raw ? JSON.parse(raw) : undefined;
    } catch {
      parsed = undefined;
    }
    const url = new URL(req.url ?? "/", "http://stand-in");
    const path = url.pathname;
    if (options.control && path.startsWith("/_control/")) {
      if (req.method === "POST" && path === "/_control/script") {
        const { apiKey: key, items } = parsed as { apiKey: string; items: ScriptItem[] };
        queueOf(key).push(...items);
        return json(res, 200, { queued: queueOf(key).length }, requestId);
      }
      if (req.method === "GET" && path === "/_control/requests") {
        const key = url.searchParams.get("apiKey");
        const mine = requests.filter((r) => r.apiKey === key).map((r) => ({ path: r.path, headers: r.headers, body: r.body }));
        return json(res, 200, { requests: mine, pending: key ? queueOf(key).length : 0 }, requestId);
      }
      return json(res, 404, { error: "unknown control route" }, requestId);
    }
    const bearerKey = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const presentedKey = (req.headers["x-api-key"] as string | undefined) ?? bearerKey;
    requests.push({ method: req.method ?? "GET", path, headers: req.headers, body: parsed, raw, apiKey: presentedKey });

    if (req.method !== "POST" || path !== "/v1/messages") {
      return json(res, 404, anthropicError("not_found_error", `${req.method} ${path} is not served by the stand-in`, requestId), requestId);
    }
    const presented = presentedKey;
    if (!presented || !accept(presented)) {
      return json(res, 401, anthropicError("authentication_error", "invalid x-api-key", requestId), requestId);
    }
    const version = req.headers["anthropic-version"];
    if (typeof version !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(version)) {
      return json(res, 400, anthropicError("invalid_request_error", "anthropic-version: header is required", requestId), requestId);
    }
    if (parsed === undefined) {
      return json(res, 400, anthropicError("invalid_request_error", "The request body is not valid JSON.", requestId), requestId);
    }
    const checked = MessagesBodySchema.safeParse(parsed);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      return json(
        res,
        400,
        anthropicError("invalid_request_error", `${issue?.path.join(".") || "body"}: ${issue?.message ?? "invalid"}`, requestId),
        requestId,
      );
    }
    const body = checked.data;
    // Compared as strings: versions are ISO dates.
    const sent = SAMPLING_PARAMS.find((k) => body[k] !== undefined);
    if (sent && version >= SAMPLING_REMOVED_IN) {
      return json(res, 400, anthropicError("invalid_request_error", `${sent}: Extra inputs are not permitted`, requestId), requestId);
    }
    const item: ScriptItem | undefined =
      queueOf(presented).shift() ?? (typeof options.defaultReply === "function" ? options.defaultReply(body) : options.defaultReply);
    if (!item) {
      return json(res, 500, anthropicError("api_error", "stand-in: no scripted reply left for this request", requestId), requestId);
    }

    switch (item.kind) {
      case "rate_limit":
        return json(
          res,
          429,
          anthropicError("rate_limit_error", item.message ?? "Number of request tokens has exceeded your per-minute rate limit", requestId),
          requestId,
          {
            "retry-after": String(item.retryAfterSeconds ?? 1),
          },
        );
      case "overloaded":
        return json(
          res,
          529,
          anthropicError("overloaded_error", item.message ?? "Overloaded", requestId),
          requestId,
          item.retryAfterSeconds === undefined ? {} : { "retry-after": String(item.retryAfterSeconds) },
        );
      case "http_error":
        return json(res, item.status, anthropicError(item.type, item.message, requestId), requestId, item.headers);
      default:
        break;
    }
    if (body.stream) return streamReply(res, body, item, { requestId, messageId });

    if (item.kind === "drop") {
      res.socket?.destroy();
      return;
    }
    if (item.kind === "stream_error") {
      return json(res, 529, anthropicError(item.type ?? "overloaded_error", item.message ?? "Overloaded", requestId), requestId);
    }
    if (item.tokenDelayMs) await sleep(item.tokenDelayMs * toDeltas(item.text).length);
    const text = toDeltas(item.text).join("");
    const usage = usageFor(body, item, text);
    return json(
      res,
      200,
      {
        id: messageId,
        type: "message",
        role: "assistant",
        model: item.model ?? body.model,
        content: [{ type: "text", text, citations: null }],
        container: null,
        diagnostics: null,
        stop_details: null,
        stop_reason: item.stopReason ?? "end_turn",
        stop_sequence: null,
        usage: { ...usage, service_tier: "standard" },
      },
      requestId,
    );
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent)
        json(res, 500, anthropicError("api_error", `stand-in failure: ${String(e)}`, "req_standin_error"), "req_standin_error");
      else res.destroy();
    });
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    apiKey,
    requests,
    script(...items) {
      queue.push(...items);
    },
    scriptFor(key, ...items) {
      queueOf(key).push(...items);
    },
    pending: () => queue.length,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    },
  };
}
