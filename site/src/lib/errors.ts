/** Turns any failure into words for people, keeping the API's own messages where it has them. */
import { ApiRequestError } from "../api/http.ts";

export interface ErrorDescription {
  message: string;
  /** per-field problems from VALIDATION_FAILED */
  fields: string[];
}

function validationIssues(details: unknown): string[] {
  if (!Array.isArray(details)) return [];
  const out: string[] = [];
  for (const issue of details) {
    if (typeof issue !== "object" || issue === null) continue;
    const { path, message } = issue as { path?: unknown; message?: unknown };
    if (typeof message !== "string") continue;
    const where = Array.isArray(path) && path.length > 0 ? `${path.join(".")}: ` : "";
    out.push(`${where}${message}`);
  }
  return out;
}

export function describeError(error: unknown): ErrorDescription {
  if (error instanceof ApiRequestError) {
    switch (error.code) {
      case "VALIDATION_FAILED": {
        const fields = validationIssues(error.details);
        return { message: fields.length ? "Please correct these fields:" : error.message, fields };
      }
      case "RATE_LIMITED":
        return {
          message:
            error.retryAfterSeconds !== undefined
              ? `${error.message} Try again in ${Math.max(1, Math.ceil(error.retryAfterSeconds))} seconds.`
              : error.message,
          fields: [],
        };
      case "CSRF_FAILED":
        return { message: "Your session's security check failed. Reload the page and try again.", fields: [] };
      default:
        return { message: error.message, fields: [] };
    }
  }
  if (error instanceof Error) return { message: error.message || "Something went wrong.", fields: [] };
  return { message: "Something went wrong.", fields: [] };
}
