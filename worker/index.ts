/** The Worker entry: the Hono app plus the Durable Object classes it binds. */
import { app } from "./app.ts";

export { BridgeHub } from "../durable-objects/bridge/bridge-hub.ts";
export { DesktopSession } from "../durable-objects/desktop/desktop-session.ts";
export { MeetingRoom } from "../durable-objects/meeting/meeting-room.ts";
export { RateLimiter } from "../durable-objects/rate-limiter/rate-limiter.ts";
export { TeamPresenceRoom } from "../durable-objects/team-presence/team-presence-room.ts";
export type { AppType } from "./app.ts";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
