/**
 * The Hono application: middleware (body limit, authentication), the versioned API mounted
 * per resource, the OpenAPI document and docs, and the one error handler.
 */
import { swaggerUI } from "@hono/swagger-ui";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { bodyLimit } from "hono/body-limit";
import { ApiError, errorBody } from "./lib/errors.ts";
import type { AppEnv } from "./lib/router.ts";
import { ROOM_SUBPROTOCOL } from "../durable-objects/room/protocol.ts";
import { authenticate, BEARER_PROTOCOL_PREFIX } from "./middleware/auth.ts";
import { wellFormedText } from "./middleware/well-formed-text.ts";
import { adminRoutes } from "./routes/admin.ts";
import { adminBridgeRoutes } from "./routes/admin-bridges.ts";
import { adminDesktopRoutes } from "./routes/admin-desktops.ts";
import { adminImageRoutes, IMAGE_PART_PATH } from "./routes/admin-images.ts";
import { adminMeetingRoutes } from "./routes/admin-meetings.ts";
import { agentRoutes } from "./routes/agents.ts";
import { authRoutes } from "./routes/auth.ts";
import { desktopSocketRoutes } from "./routes/desktop-sockets.ts";
import { desktopRoutes } from "./routes/desktops.ts";
import { imageRoutes } from "./routes/images.ts";
import { meRoutes } from "./routes/me.ts";
import { meetingRoutes } from "./routes/meetings.ts";
import { roomRoutes } from "./routes/rooms.ts";
import { teamRoutes } from "./routes/teams.ts";
import { loggableError } from "./lib/safe-log.ts";
import { securityHeaders } from "./lib/security-headers.ts";

const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

export const app = new OpenAPIHono<AppEnv>();

app.use("/api/*", securityHeaders());
app.use("/api/*", async function limitBody(c, next) {
  // Image parts are raw bytes with their own, larger limit (routes/admin-images.ts).
  if (c.req.method === "PUT" && IMAGE_PART_PATH.test(c.req.path)) return next();
  const maxSize = Number(c.env.MAX_BODY_BYTES ?? DEFAULT_MAX_BODY_BYTES) || DEFAULT_MAX_BODY_BYTES;
  return bodyLimit({
    maxSize,
    onError: (c) => c.json(errorBody("PAYLOAD_TOO_LARGE", `Request bodies are limited to ${maxSize} bytes.`), 413),
  })(c, next);
});
// NUL and unpaired surrogates are refused here, for every field of every route (Postgres cannot
// store them). Image parts are raw bytes, not JSON.
app.use(
  "/api/*",
  wellFormedText((c) => c.req.method === "PUT" && IMAGE_PART_PATH.test(c.req.path)),
);
/**
 * Routes that bridges call with their own credentials (a bridge token, a session's data token,
 * a signed link): a user's JWT means nothing there, and the Authorization header they carry is
 * not one. Each route checks its credential itself.
 */
const MACHINE_ROUTES = [
  /^\/api\/v1\/bridges\/connect$/,
  /^\/api\/v1\/desktops\/[^/]+\/bridge-data$/,
  /^\/api\/v1\/images\/[^/]+\/download$/,
];
const authenticateUsers = authenticate();
app.use("/api/v1/*", async function authenticateCallers(c, next) {
  if (MACHINE_ROUTES.some((r) => r.test(c.req.path))) {
    c.set("auth", undefined);
    return next();
  }
  return authenticateUsers(c, next);
});

const api = new OpenAPIHono<AppEnv>()
  .route("/auth", authRoutes)
  .route("/teams", teamRoutes)
  .route("/teams", agentRoutes)
  .route("/admin", adminRoutes)
  .route("/me", meRoutes)
  .route("/admin", adminDesktopRoutes)
  .route("/admin", adminBridgeRoutes)
  .route("/admin", adminImageRoutes)
  .route("/admin", adminMeetingRoutes)
  .route("/", meetingRoutes)
  .route("/", roomRoutes)
  .route("/", desktopRoutes)
  .route("/", imageRoutes)
  .route("/", desktopSocketRoutes);
const routes = app.route("/api/v1", api);

/** The typed API surface, for the site's `hc` client. */
export type AppType = typeof routes;

app.doc31("/api/openapi.json", {
  openapi: "3.1.0",
  info: {
    title: "Atrium API",
    version: "1",
    description: `Authenticate with \`Authorization: Bearer <accessToken>\` (from /api/v1/auth/login with mode "bearer"). WebSockets take the token as a subprotocol: offer \`${ROOM_SUBPROTOCOL}\` and \`${BEARER_PROTOCOL_PREFIX}<token>\` together and the server selects \`${ROOM_SUBPROTOCOL}\` (the token is not echoed); a client offering only \`${BEARER_PROTOCOL_PREFIX}<token>\` gets that one selected. An access token stops working as soon as its session ends (logout, password change, refresh-token reuse) or its user is deactivated (within 5 s on other edge isolates): 401 \`SESSION_REVOKED\`. Open sockets follow a user's access: a team role change applies to them at once; removal, deactivation or logout closes them with an \`ACCESS_REVOKED\` error frame and close code 1008. Errors are always \`{ "error": { "code", "message" } }\`.`,
  },
});
app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", bearerFormat: "JWT" });
app.openAPIRegistry.registerPath({
  method: "get",
  path: "/api/v1/teams/{teamId}/ws",
  tags: ["teams"],
  summary: "Team presence WebSocket (upgrade). Any member; sends `presence` events with `seq`; `?since=N` replays missed events.",
  responses: {
    101: { description: "Switching protocols" },
    401: { description: "Not authenticated" },
    404: { description: "No such team" },
  },
});
app.openAPIRegistry.registerPath({
  method: "get",
  path: "/api/v1/meetings/{meetingId}/ws",
  tags: ["meetings"],
  summary:
    "Meeting WebSocket (upgrade). Team members watch; editors and owners send start/pause/resume/cancel/interject. `?since=N` replays missed events.",
  description: [
    "Auth: subprotocols `atrium.v1, atrium.bearer.<token>` (the server selects `atrium.v1`) or the site's access cookie.",
    "Replay: without `since`, the log so far in compact form (finished turns as their `message`, the latest `presence`); with `?since=N`, the logged events with `seq > N`, then live ones. Finished turns' `token` deltas and older `presence` are dropped from the log.",
    "Commands (JSON text frames, at most 32 KiB): `ping`; owner/editor: `start`, `pause`, `resume`, `cancel`, `interject` (`text`, 1–4000 characters, at most 20 pending and 200 per meeting).",
    "Events (each with `seq`, `at`): `presence`, `meeting_state`, `round_start`, `agent_speaking`, `token`, `message`, `round_complete`, `meeting_complete`, `error` (`INTERJECTION_REJECTED`, `DATABASE_UNAVAILABLE`).",
    'A refused command gets `{"type":"error","code","message"}` (no `seq`): BAD_FRAME, FRAME_TOO_LARGE, VALIDATION_FAILED (NUL or unpaired surrogate), UNKNOWN_COMMAND, FORBIDDEN, INVALID_STATE, QUEUE_FULL, INTERJECTION_LIMIT, INTERNAL.',
    "Full reference: README.md, “Meeting socket protocol”.",
  ].join("\n\n"),
  responses: {
    101: { description: "Switching protocols" },
    401: { description: "Not authenticated" },
    404: { description: "No such meeting" },
  },
});
app.openAPIRegistry.registerPath({
  method: "get",
  path: "/api/v1/desktops/{sessionId}/ws",
  tags: ["desktops"],
  summary:
    "Desktop viewer WebSocket (upgrade) with `?ticket=` (single use, 60 s). Binary frames are RFB both ways; text frames are JSON control frames (`state`, `ready`, `role`, `error`; up: `ping`, `take_control`). Opening a hibernated desktop wakes it.",
  responses: {
    101: { description: "Switching protocols" },
    401: { description: "TICKET_INVALID" },
    409: { description: "The desktop is stopped" },
  },
});
app.openAPIRegistry.registerPath({
  method: "get",
  path: "/api/v1/desktops/{sessionId}/bridge-data",
  tags: ["bridges"],
  summary:
    "A bridge's data socket for a session (upgrade), `Authorization: Bearer <dataToken>` from the start / wake command. `?conn=primary` carries JSON control frames (`open` / `close` a viewer's connection); `?conn=<connId>` carries one viewer's RFB bytes (plus `pause` / `resume`).",
  responses: {
    101: { description: "Switching protocols" },
    401: { description: "DATA_TOKEN_INVALID" },
    404: { description: "No such desktop or viewer connection" },
  },
});
app.openAPIRegistry.registerPath({
  method: "get",
  path: "/api/v1/bridges/connect",
  tags: ["bridges"],
  summary:
    "A bridge's control WebSocket (upgrade), `Authorization: Bearer <bridge token>`: hello, heartbeats, commands (durable-objects/bridge/protocol.ts)",
  responses: { 101: { description: "Switching protocols" }, 401: { description: "BRIDGE_TOKEN_INVALID" } },
});
app.get("/api/docs", swaggerUI({ url: "/api/openapi.json" }));

app.notFound((c) => c.json(errorBody("NOT_FOUND", `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`), 404));

/** The one error handler: ApiErrors as their shape, framework errors as 4xx, anything else logged (safely) as a 500. */
export function handleError(err: Error, c: Context<AppEnv>): Response {
  if (err instanceof ApiError) {
    for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
    return c.json(errorBody(err.code, err.message, err.details), err.status);
  }
  if (err instanceof HTTPException) {
    if (err.status === 400) return c.json(errorBody("INVALID_JSON", "The request body is not valid JSON."), 400);
    if (err.status === 413) return c.json(errorBody("PAYLOAD_TOO_LARGE", "The request body is too large."), 413);
    if (err.status === 415) return c.json(errorBody("UNSUPPORTED_MEDIA_TYPE", "Send JSON (Content-Type: application/json)."), 415);
    console.error("HTTP exception", err.status, err.message);
    return c.json(errorBody("BAD_REQUEST", err.message || "Bad request."), 400);
  }
  // Unknown errors are logged (never with request bodies or tokens) and become a generic 500.
  console.error("unhandled error", c.req.method, new URL(c.req.url).pathname, loggableError(err));
  return c.json(errorBody("INTERNAL", "Something went wrong on our side."), 500);
}
app.onError(handleError);
