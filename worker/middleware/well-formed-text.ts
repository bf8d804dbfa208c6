/**
 * Refuses, before any route runs, a request whose path, query string or JSON body carries text
 * that is not well-formed (a NUL or an unpaired surrogate; see lib/well-formed-text.ts) with
 * 400 VALIDATION_FAILED. One check at the edge instead of one per field: a field added later is
 * covered without anyone remembering to.
 */
import type { Context, MiddlewareHandler } from "hono";
import { errorBody } from "../lib/errors.ts";
import type { AppEnv } from "../lib/router.ts";
import { findMalformedText, type MalformedText, malformedTextReason, toWellFormedText } from "../lib/well-formed-text.ts";

const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;

function refuse(c: Context<AppEnv>, where: string, found: MalformedText) {
  const at = found.path.length ? `${where}.${found.path.join(".")}` : where;
  return c.json(
    errorBody("VALIDATION_FAILED", `Invalid ${where}: ${at}: ${found.message}`, [{ path: [where, ...found.path], message: found.message }]),
    400,
  );
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // Malformed percent-encoding cannot decode to a lone surrogate; the route judges the rest.
    return segment;
  }
}

/** The check for every /api request; `skipBody` names raw-byte routes whose body is not JSON. */
export function wellFormedText(skipBody: (c: Context<AppEnv>) => boolean): MiddlewareHandler<AppEnv> {
  return async function refuseMalformedText(c, next) {
    const url = new URL(c.req.url);
    for (const segment of url.pathname.split("/")) {
      const reason = malformedTextReason(decode(segment));
      if (reason) return refuse(c, "path", { path: [], message: `A path segment ${reason}.` });
    }
    for (const [key, value] of url.searchParams) {
      const reason = malformedTextReason(key) ?? malformedTextReason(value);
      if (reason) return refuse(c, "query", { path: [toWellFormedText(key)], message: `The parameter ${reason}.` });
    }
    const type = c.req.header("Content-Type") ?? "";
    if (c.req.raw.body !== null && JSON_TYPE.test(type) && !skipBody(c)) {
      // Read through Hono's body cache, so the route's validator parses the same text again.
      const text = await c.req.text();
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return next(); // the route answers INVALID_JSON
      }
      const found = findMalformedText(value);
      if (found) return refuse(c, "json", found);
    }
    return next();
  };
}
