/**
 * The bridge's one error type: a stable machine `code` (what the hub stores on a failed command
 * and the admin UI shows) plus a human message and the underlying `cause`. Anything else thrown
 * by a driver or client library is folded into a `failed` frame by `toCommandError`.
 */

export type BridgeErrorCode =
  | "INVALID_COMMAND"
  | "SESSION_NOT_FOUND"
  | "TEMPLATE_UNSUPPORTED"
  | "HIBERNATE_UNSUPPORTED"
  | "LOCAL_DESKTOP_UNAVAILABLE"
  | "LOCAL_DESKTOP_NEEDS_ROOT"
  | "LOCAL_DISPLAYS_EXHAUSTED"
  | "DESKTOP_START_FAILED"
  | "IMAGE_PULL_FAILED"
  | "POD_START_TIMEOUT"
  | "POD_FAILED"
  | "DELETE_TIMEOUT"
  | "DRIVER_ERROR"
  | "BRIDGE_DRAINING";

export class BridgeError extends Error {
  override readonly name = "BridgeError";
  readonly code: BridgeErrorCode;

  constructor(code: BridgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The `error` of a `failed` frame (protocol: code ≤ 100 chars, message ≤ 2000). */
export interface CommandError {
  code: string;
  message: string;
}

/** Turns anything thrown while running a command into the `{code, message}` the hub records. */
export function toCommandError(e: unknown): CommandError {
  if (e instanceof BridgeError) return { code: e.code, message: truncate(e.message, 2000) };
  return { code: "DRIVER_ERROR", message: truncate(errorMessage(e), 2000) };
}

/** A one-line description of an unknown thrown value, for logs and failure messages. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) {
    // @kubernetes/client-node's ApiException and docker-modem's errors carry the server's reason
    // in `body` / `json`; the bare message ("HTTP-Code: 409") says too little on its own.
    const detail = apiDetail(e);
    return detail ? `${e.message}: ${detail}` : e.message;
  }
  return String(e);
}

/** HTTP status of a client-library error (`code` on ApiException, `statusCode` on docker-modem's). */
export function httpStatusOf(e: unknown): number | undefined {
  if (typeof e !== "object" || e === null) return undefined;
  const rec = e as { code?: unknown; statusCode?: unknown };
  if (typeof rec.statusCode === "number") return rec.statusCode;
  if (typeof rec.code === "number") return rec.code;
  return undefined;
}

function apiDetail(e: Error): string | undefined {
  const rec = e as { body?: unknown; json?: unknown };
  for (const candidate of [rec.body, rec.json]) {
    if (typeof candidate === "string" && candidate.length > 0) {
      try {
        const parsed: unknown = JSON.parse(candidate);
        if (typeof parsed === "object" && parsed !== null && "message" in parsed) return String(parsed.message);
      } catch {
        return candidate.slice(0, 500);
      }
    }
    if (typeof candidate === "object" && candidate !== null && "message" in candidate) return String(candidate.message);
  }
  return undefined;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
