/**
 * Shared pieces for defining routes with @hono/zod-openapi: the app's context type, a router
 * factory whose validation failures use the one error shape, and schema helpers.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { errorBody } from "./errors.ts";

export interface AuthContext {
  userId: string;
  name: string;
  isAdmin: boolean;
  mustChangePassword: boolean;
  /** refresh-token family of the session ("local" in single-user mode) */
  familyId: string;
  via: "bearer" | "cookie" | "local";
}

export interface AppEnv {
  Bindings: Env;
  Variables: { auth: AuthContext | undefined; ctx: ExecutionContext };
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message))
    .join("; ");
}

/** A sub-app whose validation failures answer 400 VALIDATION_FAILED with the one error shape. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (!result.success) {
        const issues = result.error.issues.map((i) => ({ path: i.path.map(String), message: i.message }));
        return c.json(errorBody("VALIDATION_FAILED", `Invalid ${result.target}: ${describeIssues(result.error.issues)}`, issues), 400);
      }
      return undefined;
    },
  });
}

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "TEAM_NOT_FOUND" }),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .openapi("Error");

const errorContent = { "application/json": { schema: ErrorSchema } };

/** Standard error responses for the OpenAPI document. */
export const errorResponses = {
  400: { content: errorContent, description: "Invalid input (VALIDATION_FAILED, INVALID_JSON, …)" },
  401: { content: errorContent, description: "Not authenticated" },
  403: { content: errorContent, description: "Not allowed (FORBIDDEN, PASSWORD_CHANGE_REQUIRED, CSRF_FAILED)" },
  404: { content: errorContent, description: "Not found, or not visible to the caller" },
  409: { content: errorContent, description: "Conflict" },
  413: { content: errorContent, description: "Request body too large" },
  429: { content: errorContent, description: "Rate limited (Retry-After)" },
} as const;

/** A required JSON request body: content types other than JSON are refused, not skipped. */
export function jsonBody<T extends z.ZodType>(schema: T, description = "JSON body") {
  return { body: { required: true, description, content: { "application/json": { schema } } } };
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

export const IdParam = z.uuid().openapi({ example: "0b6f4e7e-8f38-4bd8-9f9b-3a3b2a1c0d11" });

/** Dates cross the API as ISO 8601 strings. */
export function iso(d: Date | string | null | undefined): string | null {
  if (d === null || d === undefined) return null;
  return typeof d === "string" ? new Date(d).toISOString() : d.toISOString();
}
export function isoRequired(d: Date | string): string {
  return typeof d === "string" ? new Date(d).toISOString() : d.toISOString();
}

export const TimestampSchema = z.string().openapi({ format: "date-time", example: "2026-11-23T10:00:00.000Z" });
