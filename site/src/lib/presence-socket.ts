/**
 * A team's live presence socket: a room socket (reconnects, resumes, de-duplicates) whose
 * presence frames are checked against the room protocol's schema.
 */
import { type PresenceEntry, PresenceEventSchema } from "../../../durable-objects/room/protocol.ts";
import { connectRoom, type RoomSocketStatus } from "./room-socket.ts";

export type PresenceStatus = RoomSocketStatus;

export interface PresenceSocketOptions {
  teamId: string;
  /** the first people in the room, and how many there are in all */
  onPresence(viewers: PresenceEntry[], users: number): void;
  onStatus(status: PresenceStatus): void;
  /** see RoomSocketOptions.beforeReconnect */
  beforeReconnect?: () => Promise<void>;
}

export interface PresenceSocket {
  close(): void;
}

export function connectPresence(options: PresenceSocketOptions): PresenceSocket {
  const socket = connectRoom({
    path: `/api/v1/teams/${encodeURIComponent(options.teamId)}/ws`,
    onStatus: options.onStatus,
    onEvent(event) {
      const presence = PresenceEventSchema.safeParse(event);
      if (presence.success) options.onPresence(presence.data.viewers, presence.data.users);
    },
    onError(code, message) {
      console.warn("presence socket error frame", code, message);
    },
    ...(options.beforeReconnect && { beforeReconnect: options.beforeReconnect }),
  });
  return { close: () => socket.close() };
}
