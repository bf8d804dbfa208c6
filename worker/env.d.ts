/**
 * Secrets and local-only variables that `wrangler types` cannot see in wrangler.toml.
 * Production: `wrangler secret put DATABASE_URL` / `JWT_SECRET`. The NEON_* variables are set
 * only by `npm start` and the tests to reach the local Postgres stand-ins.
 */
interface AtriumSecrets {
  DATABASE_URL: string;
  JWT_SECRET: string;
  /** Local only: "127.0.0.1:PORT" of the WebSocket→TCP relay used by the Neon driver. */
  NEON_WS_PROXY?: string;
  /** Local only: URL of the stand-in for Neon's SQL-over-HTTP endpoint. */
  NEON_HTTP_ENDPOINT?: string;
  /** Max JSON request body in bytes (default 64 KiB). */
  MAX_BODY_BYTES?: string;
  /** Versioned master keys for secrets at rest: "v1:<base64 32 bytes>[,v2:…]" (last one encrypts). */
  ENCRYPTION_KEYS: string;
  /** The deployment's Anthropic key, used when a user has none of their own. */
  ANTHROPIC_API_KEY?: string;
  /** Override of the Anthropic API base URL (tests point it at a local stand-in). */
  ANTHROPIC_BASE_URL?: string;
  /** Pause between offline-model deltas in ms (default 20; tests use 0). */
  OFFLINE_DELAY_MS?: string;
  /** Base of the retry backoff for provider errors in ms (default 500; tests use less). */
  RETRY_BASE_MS?: string;
  /** How long one minute of the idle timeout lasts in ms (default 60000; end-to-end tests use less). */
  IDLE_MINUTE_MS?: string;
  /**
   * The public origin bridges reach the Worker at (e.g. "https://atrium.example.org"), for the
   * data-socket and image URLs sent in desktop commands. Default: the origin each bridge's own
   * control socket dialed (never a user request's Host header).
   */
  PUBLIC_URL?: string;
}

interface Env extends AtriumSecrets {}
declare namespace Cloudflare {
  interface Env extends AtriumSecrets {}
}
