/**
 * The model side of the fan-out section: the Anthropic Messages API stand-in
 * (test/stand-ins/anthropic-server.ts) streaming a fixed reply of one token per delta at a fixed
 * pace, behind a small tap that forwards every request unchanged and notes the moment each
 * `content_block_delta` event leaves for the Worker, so token latency can also be measured from
 * the model's send time (which includes any delay before the room gets to read the stream).
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type ScriptedReply, startAnthropicStandIn } from "../../../test/stand-ins/anthropic-server.ts";
import type { Cleanup } from "../processes.ts";

/** Every token has the same number of characters, so a text offset maps to a token index. */
export const TOKEN_CHARS = 4;

/** Token i: three base-36 digits and a space (unique up to 46,655 tokens). */
export function benchTokens(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${i.toString(36).padStart(TOKEN_CHARS - 1, "0")} `);
}

export interface TappedRequest {
  startedAt: number;
  /** when each content_block_delta event was forwarded (ms since the epoch) */
  deltaAt: number[];
  ended: boolean;
}

export interface BenchModel {
  /** base URL for ANTHROPIC_BASE_URL / the SDK (the tap) */
  url: string;
  tokens: string[];
  text: string;
  tokenDelayMs: number;
  /** the next model call streams the long reply; calls after it get a one-token reply */
  arm(): void;
  requests: TappedRequest[];
  /** accepted keys start with this */
  keyPrefix: string;
}

const now = () => performance.timeOrigin + performance.now();

export async function startBenchModel(cleanup: Cleanup, opts: { tokens: number; tokenDelayMs: number }): Promise<BenchModel> {
  const tokens = benchTokens(opts.tokens);
  const long: ScriptedReply = { text: tokens, tokenDelayMs: opts.tokenDelayMs, usage: { input_tokens: 200, output_tokens: tokens.length } };
  const short: ScriptedReply = { text: ["done"], usage: { input_tokens: 200, output_tokens: 1 } };
  let armed = false;
  const keyPrefix = "sk-ant-bench-fanout-";
  const standIn = await startAnthropicStandIn({
    acceptKey: (key) => key.startsWith(keyPrefix),
    defaultReply: () => {
      const reply = armed ? long : short;
      armed = false;
      return reply;
    },
  });
  cleanup.add("anthropic stand-in", () => standIn.close());

  const requests: TappedRequest[] = [];
  const tap = createServer((req: IncomingMessage, res: ServerResponse) => {
    const upstream = httpRequest(
      { host: "127.0.0.1", port: standIn.port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        const rec: TappedRequest = { startedAt: now(), deltaAt: [], ended: false };
        requests.push(rec);
        let pending = "";
        up.on("data", (chunk: Buffer) => {
          const t = now();
          res.write(chunk);
          pending += chunk.toString("utf8");
          for (let end = pending.indexOf("\n\n"); end >= 0; end = pending.indexOf("\n\n")) {
            if (pending.startsWith("event: content_block_delta")) rec.deltaAt.push(t);
            pending = pending.slice(end + 2);
          }
        });
        up.on("end", () => {
          rec.ended = true;
          res.end();
        });
        up.on("error", () => res.destroy());
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    tap.once("error", reject);
    tap.listen(0, "127.0.0.1", () => resolve());
  });
  cleanup.add("model tap", () => {
    tap.closeAllConnections();
    return new Promise<void>((resolve) => tap.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${(tap.address() as AddressInfo).port}`,
    tokens,
    text: tokens.join(""),
    tokenDelayMs: opts.tokenDelayMs,
    arm: () => {
      armed = true;
    },
    requests,
    keyPrefix,
  };
}
