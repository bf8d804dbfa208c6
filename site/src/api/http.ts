/**
 * The site's one way to call the API: same-origin JSON with the session cookies, the CSRF
 * double-submit header on every state-changing request, and one transparent refresh-and-retry
 * when the access token has expired. Failures become `ApiRequestError` carrying the API's
 * `{ error: { code, message } }`, so pages can show them in words.
 */
import type { ErrorCode } from "../../../worker/lib/errors.ts";
import type { Session } from "./types.ts";

export const CSRF_COOKIE = "atrium_csrf";
export const CSRF_HEADER = "X-CSRF-Token";

/** Codes the client adds for failures the API did not describe itself. */
export type ClientErrorCode = "NETWORK_ERROR" | "BAD_RESPONSE";
export type ApiErrorCode = ErrorCode | ClientErrorCode;

export interface ApiRequestErrorOptions {
  details?: unknown;
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class ApiRequestError extends Error {
  /** a stable machine code; unknown codes from a newer API pass through as strings */
  readonly code: ApiErrorCode | (string & {});
  /** HTTP status, 0 when the server was not reached */
  readonly status: number;
  readonly details: unknown;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: string, message: string, status: number, options: ApiRequestErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "ApiRequestError";
    this.code = code;
    this.status = status;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function isApiError(e: unknown, code?: ApiErrorCode): e is ApiRequestError {
  return e instanceof ApiRequestError && (code === undefined || e.code === code);
}

/** How the HTTP layer tells the session store about session changes it discovers. */
export interface SessionHooks {
  /** the session is gone and a refresh could not bring it back */
  onSessionEnded(): void;
  /** the API refused with PASSWORD_CHANGE_REQUIRED */
  onPasswordChangeRequired(): void;
  /** a refresh succeeded; the API sends the user along */
  onRefreshed(session: Session): void;
}

let hooks: SessionHooks | undefined;

export function setSessionHooks(next: SessionHooks): void {
  hooks = next;
}

export function readCookie(name: string): string | undefined {
  for (const part of document.cookie.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

export type HttpMethod = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
export type QueryValue = string | number | boolean | undefined;

export interface RequestOptions {
  /** JSON body; state-changing requests without one send `{}` */
  body?: unknown;
  query?: Record<string, QueryValue>;
  /** the auth endpoints themselves: a 401 there is an answer, not an expired session */
  noRefresh?: boolean;
  signal?: AbortSignal;
}

/** Sends one API request and returns its parsed JSON (undefined for 204). */
export async function apiRequest<T>(method: HttpMethod, path: string, options: RequestOptions = {}): Promise<T> {
  return readBody<T>(await sendWithSession(method, path, options));
}

export interface DownloadedFile {
  blob: Blob;
  /** from Content-Disposition, else undefined */
  filename: string | undefined;
}

/**
 * Fetches a file the API serves as a download (e.g. a meeting export) through the same session
 * handling as JSON requests, so an expired access token is refreshed instead of saving an error.
 */
export async function apiDownload(path: string, options: Omit<RequestOptions, "body"> = {}): Promise<DownloadedFile> {
  const response = await sendWithSession("GET", path, { ...options, accept: "*/*" });
  if (!response.ok) {
    const error = await errorFrom(response);
    if (error.code === "PASSWORD_CHANGE_REQUIRED") hooks?.onPasswordChangeRequired();
    throw error;
  }
  return { blob: await response.blob(), filename: filenameFrom(response.headers.get("Content-Disposition")) };
}

/** `attachment; filename="x.md"` or RFC 5987 `filename*=UTF-8''x.md`. */
function filenameFrom(disposition: string | null): string | undefined {
  if (!disposition) return undefined;
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition);
  if (extended?.[1]) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // fall through to the plain form
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/.exec(disposition);
  return plain?.[1]?.trim() || undefined;
}

/** Sends a request, refreshing the session once when the access token has expired. */
async function sendWithSession(method: HttpMethod, path: string, options: SendOptions): Promise<Response> {
  const csrfBefore = readCookie(CSRF_COOKIE);
  let response = await send(method, path, options);
  if (response.status === 401 && !options.noRefresh) {
    const error = await errorFrom(response);
    if (!sessionMayBeRefreshed(error.code, csrfBefore)) {
      if (isSessionCode(error.code)) hooks?.onSessionEnded();
      throw error;
    }
    if (!(await refreshSession(csrfBefore))) {
      hooks?.onSessionEnded();
      throw new ApiRequestError("UNAUTHENTICATED", "Your session has ended. Sign in again.", 401, { cause: error });
    }
    response = await send(method, path, options);
    if (response.status === 401) {
      const again = await errorFrom(response);
      if (isSessionCode(again.code)) hooks?.onSessionEnded();
      throw again;
    }
  }
  return response;
}

async function readBody<T>(response: Response): Promise<T> {
  if (!response.ok) {
    const error = await errorFrom(response);
    if (error.code === "PASSWORD_CHANGE_REQUIRED") hooks?.onPasswordChangeRequired();
    throw error;
  }
  if (response.status === 204) return undefined as T;
  try {
    return (await response.json()) as T;
  } catch (e: unknown) {
    throw new ApiRequestError("BAD_RESPONSE", "The server sent an answer the site could not read.", response.status, { cause: e });
  }
}

function isSessionCode(code: string): boolean {
  return code === "TOKEN_EXPIRED" || code === "UNAUTHENTICATED" || code === "INVALID_TOKEN" || code === "SESSION_REVOKED";
}

/**
 * An expired or unreadable access token can be refreshed; a missing one only if we had a
 * session (its readable CSRF cookie lives as long as the refresh cookie).
 */
function sessionMayBeRefreshed(code: string, csrf: string | undefined): boolean {
  if (code === "TOKEN_EXPIRED" || code === "INVALID_TOKEN") return true;
  return code === "UNAUTHENTICATED" && csrf !== undefined;
}

function buildUrl(path: string, query: Record<string, QueryValue> | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== "") params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

interface SendOptions extends RequestOptions {
  /** Accept header; JSON unless downloading a file */
  accept?: string;
}

async function send(method: HttpMethod, path: string, options: SendOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: options.accept ?? "application/json" };
  let body: string | undefined;
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body ?? {});
    const csrf = readCookie(CSRF_COOKIE);
    if (csrf) headers[CSRF_HEADER] = csrf;
  }
  try {
    return await fetch(buildUrl(path, options.query), {
      method,
      headers,
      body,
      credentials: "same-origin",
      ...(options.signal && { signal: options.signal }),
    });
  } catch (e: unknown) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiRequestError("NETWORK_ERROR", "Could not reach the server. Check your connection and try again.", 0, { cause: e });
  }
}

function isErrorBody(json: unknown): json is { error: { code: string; message: string; details?: unknown } } {
  if (typeof json !== "object" || json === null || !("error" in json)) return false;
  const error = (json as { error: unknown }).error;
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { code?: unknown }).code === "string" &&
    typeof (error as { message?: unknown }).message === "string"
  );
}

async function errorFrom(response: Response): Promise<ApiRequestError> {
  const retryAfter = Number(response.headers.get("Retry-After") ?? Number.NaN);
  const retryAfterSeconds = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined;
  let json: unknown;
  try {
    json = await response.json();
  } catch {
    json = undefined;
  }
  if (isErrorBody(json)) {
    return new ApiRequestError(json.error.code, json.error.message, response.status, {
      details: json.error.details,
      ...(retryAfterSeconds !== undefined && { retryAfterSeconds }),
    });
  }
  const message =
    response.status >= 500
      ? `The server had a problem (HTTP ${response.status}). Try again in a moment.`
      : `The request failed (HTTP ${response.status}).`;
  return new ApiRequestError("BAD_RESPONSE", message, response.status);
}

let refreshing: Promise<boolean> | undefined;

/**
 * Rotates the refresh token once for every request that found its access token expired.
 * Refresh tokens are single-use and reuse ends the session, so concurrent refreshes must not
 * happen: requests in this tab share one attempt, and tabs take turns through a Web Lock. A tab
 * that finds the CSRF cookie changed since its request knows another tab already refreshed.
 */
export function refreshSession(csrfBefore: string | undefined = readCookie(CSRF_COOKIE)): Promise<boolean> {
  refreshing ??= withRefreshLock(async () => {
    const now = readCookie(CSRF_COOKIE);
    if (now === undefined) return false;
    if (now !== csrfBefore) return true;
    const response = await send("POST", "/api/v1/auth/refresh", { body: {} });
    if (response.ok) {
      const session = (await response.json()) as Session;
      hooks?.onRefreshed(session);
      return true;
    }
    const error = await errorFrom(response);
    // A refused refresh ends the session; a server or network failure does not.
    if (error.status >= 500 || error.status === 429) throw error;
    return false;
  }).finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

async function withRefreshLock(fn: () => Promise<boolean>): Promise<boolean> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (!locks) return fn();
  return await locks.request("atrium.session-refresh", fn);
}
