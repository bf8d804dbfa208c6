/**
 * The room wire protocol shared by every room Durable Object, the Worker and the site:
 * identities passed from the Worker, the base client frames, and the error frame.
 * Runtime-neutral: no `cloudflare:*`, `node:*` or DOM imports.
 */
import { z } from "zod";

export const ROOM_ROLES = ["owner", "editor", "viewer"] as const;
export type RoomRole = (typeof ROOM_ROLES)[number];

/** Who a socket belongs to; set by the Worker after it authenticated the upgrade. */
export const RoomIdentitySchema = z.object({
  userId: z.string().min(1).max(100),
  name: z.string().min(1).max(100),
  displayName: z.string().max(100).optional(),
  role: z.enum(ROOM_ROLES),
  /** login session (refresh-token family) the socket was opened under, so a logout closes only its sockets */
  familyId: z.string().max(100).optional(),
});
export type RoomIdentity = z.infer<typeof RoomIdentitySchema>;

/** Header through which the Worker hands the authenticated identity to the room. */
export const IDENTITY_HEADER = "X-Atrium-Identity";
/** Subprotocol the server selects when the client offers it (required when a bearer protocol is offered). */
export const ROOM_SUBPROTOCOL = "atrium.v1";

export const PingFrameSchema = z.object({ type: z.literal("ping") });

/** Stable codes of `{ type: "error" }` frames. */
export type RoomErrorCode =
  | "BAD_FRAME"
  | "FRAME_TOO_LARGE"
  /** a string in the frame contains NUL (U+0000) or an unpaired UTF-16 surrogate */
  | "VALIDATION_FAILED"
  | "UNKNOWN_COMMAND"
  | "FORBIDDEN"
  | "RATE_LIMITED"
  | "INTERNAL"
  /** sent just before the server closes the socket (1008): the user's access to the room ended */
  | "ACCESS_REVOKED";

/** What the Worker tells a room when a user's access changes (RoomBase.changeAccess). */
export interface AccessChange {
  userId: string;
  /** only the sockets of this login session (logout); all of the user's otherwise */
  familyId?: string;
  /** the user's new role: sockets stay open under it. Without one, they are closed. */
  role?: RoomRole;
  /** why, for the error frame and close reason */
  reason: string;
}

/** Close code of a socket whose access was revoked (policy violation). */
export const ACCESS_REVOKED_CLOSE = 1008;

export interface RoomErrorFrame {
  type: "error";
  code: RoomErrorCode;
  message: string;
}

/** Every logged server event carries its `seq`; clients de-duplicate by it. */
export interface RoomEventFrame {
  seq: number;
  type: string;
  at: number;
  [key: string]: unknown;
}

/** A presence entry: one per connected user (several tabs count once). */
export const PresenceEntrySchema = z.object({
  userId: z.string(),
  name: z.string(),
  displayName: z.string().optional(),
  role: z.enum(ROOM_ROLES),
  connections: z.number().int().min(1),
});
export type PresenceEntry = z.infer<typeof PresenceEntrySchema>;

/** A presence event names at most this many people; it always carries the totals. */
export const PRESENCE_LIST_LIMIT = 50;

/** Who is in a room: the first PRESENCE_LIST_LIMIT people by name, and how many in all. */
export const PresenceBodySchema = z.object({
  viewers: z.array(PresenceEntrySchema),
  users: z.number().int(),
  connections: z.number().int(),
});
export type PresenceBody = z.infer<typeof PresenceBodySchema>;

export const PresenceEventSchema = z.object({
  seq: z.number().int(),
  type: z.literal("presence"),
  at: z.number(),
  ...PresenceBodySchema.shape,
});
export type PresenceEvent = z.infer<typeof PresenceEventSchema>;
