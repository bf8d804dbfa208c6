/**
 * Baseline for the "fanout" benchmark section: the straightforward way to stream a model reply
 * to a room's viewers with partyserver — one `this.broadcast()` per token.
 *
 * Viewers connect to `/parties/fanout-server/<room>` (partyserver's routing, hibernating sockets).
 * `POST /parties/fanout-server/<room>` with `{ baseURL, apiKey }` makes the room call the
 * Anthropic Messages API (the benchmark's stand-in) through the same SDK Atrium's MeetingRoom
 * uses, and broadcast `{ seq, type: "token", at, text }` for each text delta, where `at` is the
 * room's Date.now() when the delta reached it. The request answers once the reply has ended.
 *
 * Typed loosely on purpose: this file is type-checked with the Node scripts (tsconfig.node.json),
 * which have no Workers types.
 */
import Anthropic from "@anthropic-ai/sdk";
import { routePartykitRequest, Server } from "partyserver";

interface StreamRequest {
  baseURL: string;
  apiKey: string;
}

export class FanoutServer extends Server {
  static override options = { hibernate: true };
  #seq = 0;

  override async onRequest(request: Request): Promise<Response> {
    if (request.method !== "POST") return new Response("POST { baseURL, apiKey } to stream a reply", { status: 405 });
    const { baseURL, apiKey } = (await request.json()) as StreamRequest;
    const client = new Anthropic({ apiKey, baseURL, maxRetries: 0 });
    const stream = client.messages.stream({
      model: "claude-sonnet-4-6",
      max_tokens: 8192,
      messages: [{ role: "user", content: "Stream the benchmark reply." }],
    });
    const startedAt = Date.now();
    let tokens = 0;
    for await (const event of stream) {
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") {
        tokens += 1;
        this.broadcast(JSON.stringify({ seq: ++this.#seq, type: "token", at: Date.now(), text: event.delta.text }));
      }
    }
    return Response.json({ tokens, startedAt, endedAt: Date.now(), lastSeq: this.#seq });
  }
}

export default {
  async fetch(request: Request, env: Record<string, unknown>): Promise<Response> {
    return (await routePartykitRequest(request, env)) ?? new Response("Not found", { status: 404 });
  },
};
