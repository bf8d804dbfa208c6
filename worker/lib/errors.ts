/**
 * The one error type of the API: a stable machine `code`, an HTTP status and a message for
 * people. `onError` in app.ts turns it into `{ error: { code, message } }`.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const ERROR_CODES = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  TOKEN_EXPIRED: 401,
  INVALID_TOKEN: 401,
  REFRESH_TOKEN_INVALID: 401,
  REFRESH_TOKEN_REUSED: 401,
  /** the access token's session was ended (logout, password change, reuse) or its user deactivated */
  SESSION_REVOKED: 401,
  ACCOUNT_DISABLED: 403,
  FORBIDDEN: 403,
  CSRF_FAILED: 403,
  PASSWORD_CHANGE_REQUIRED: 403,
  AUTH_DISABLED: 404,
  NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  TEAM_NOT_FOUND: 404,
  MEMBER_NOT_FOUND: 404,
  AGENT_NOT_FOUND: 404,
  MEETING_NOT_FOUND: 404,
  MEETING_NOT_FINISHED: 409,
  INVALID_STATE: 409,
  BRANCH_POINT_INVALID: 422,
  /** a user's meetings per day, or their spend per day on the deployment's key, is used up */
  DAILY_LIMIT_REACHED: 429,
  METHOD_NOT_ALLOWED: 405,
  // Lab desktops
  DESKTOP_NOT_FOUND: 404,
  TEMPLATE_NOT_FOUND: 404,
  IMAGE_NOT_FOUND: 404,
  BRIDGE_NOT_FOUND: 404,
  SHARE_NOT_FOUND: 404,
  /** the per-user session limit or the deployment's max concurrent sessions is reached */
  QUOTA_EXCEEDED: 429,
  /** no online, non-draining bridge (of the asked platform) has a free slot */
  NO_CAPACITY: 409,
  HIBERNATE_UNSUPPORTED: 409,
  IMAGE_NOT_READY: 409,
  IMAGE_IN_USE: 409,
  UPLOAD_NOT_IN_PROGRESS: 409,
  UPLOAD_INVALID: 422,
  LENGTH_REQUIRED: 411,
  /** an image download link whose signature does not verify, or that has expired */
  LINK_INVALID: 403,
  LINK_EXPIRED: 403,
  /** a viewer socket without a valid, unused, unexpired ticket for this session */
  TICKET_INVALID: 401,
  BRIDGE_TOKEN_INVALID: 401,
  DATA_TOKEN_INVALID: 401,
  USERNAME_TAKEN: 409,
  EMAIL_TAKEN: 409,
  ALREADY_MEMBER: 409,
  LAST_OWNER: 409,
  LAST_ADMIN: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  WEAK_PASSWORD: 422,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface ApiErrorOptions {
  cause?: unknown;
  headers?: Record<string, string>;
  details?: unknown;
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: ContentfulStatusCode;
  readonly headers: Record<string, string>;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "ApiError";
    this.code = code;
    this.status = ERROR_CODES[code];
    this.headers = options.headers ?? {};
    this.details = options.details;
  }
}

/** The JSON body of every error response. */
export function errorBody(code: ErrorCode, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}
