/**
 * A meeting's live socket: a room socket whose events are checked against the meeting
 * protocol's schema, and typed commands (start, pause, resume, cancel, interject).
 * A fresh connection replays the meeting's whole log, reconnects resume with `?since=`.
 */
import {
  type MeetingClientFrame,
  MeetingClientFrameSchema,
  type MeetingEvent,
  MeetingEventSchema,
} from "../../../durable-objects/meeting/protocol.ts";
import { connectRoom, type RoomSocketStatus } from "./room-socket.ts";

export interface MeetingSocketOptions {
  meetingId: string;
  onEvent(event: MeetingEvent): void;
  onStatus(status: RoomSocketStatus): void;
  /** the room refused one of this socket's commands */
  onCommandError(code: string, message: string): void;
  /** see RoomSocketOptions.beforeReconnect */
  beforeReconnect?: () => Promise<void>;
}

export interface MeetingSocket {
  /** Sends a command; false when it is invalid or the socket is not connected. */
  send(command: MeetingClientFrame): boolean;
  close(): void;
}

export function connectMeeting(options: MeetingSocketOptions): MeetingSocket {
  const socket = connectRoom({
    path: `/api/v1/meetings/${encodeURIComponent(options.meetingId)}/ws`,
    onStatus: options.onStatus,
    onEvent(raw) {
      const event = MeetingEventSchema.safeParse(raw);
      if (event.success) options.onEvent(event.data);
      else console.warn("meeting socket: unexpected event", raw.type, event.error.issues[0]?.message);
    },
    onError: options.onCommandError,
    ...(options.beforeReconnect && { beforeReconnect: options.beforeReconnect }),
  });
  return {
    send(command) {
      const frame = MeetingClientFrameSchema.safeParse(command);
      return frame.success && socket.send(frame.data);
    },
    close: () => socket.close(),
  };
}
