/**
 * TeamPresenceRoom: one per team. Everyone viewing the team page holds a socket here and
 * sees a live `presence` event listing who else is viewing. Built on RoomBase.
 */
import { z } from "zod";
import { PingFrameSchema, ROOM_ROLES, type RoomIdentity } from "../room/protocol.ts";
import { RoomBase } from "../room/room-base.ts";

export const TeamClientFrameSchema = z.discriminatedUnion("type", [PingFrameSchema]);
export type TeamClientFrame = z.infer<typeof TeamClientFrameSchema>;

export class TeamPresenceRoom extends RoomBase<TeamClientFrame> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env, {
      clientFrame: TeamClientFrameSchema,
      permissions: { ping: ROOM_ROLES },
      // Presence is state, not history: keep a short tail for reconnects, replay nothing to newcomers.
      maxEvents: 200,
      replayWithoutSince: "none",
    });
  }

  protected override onFrame(_ws: WebSocket, _frame: TeamClientFrame, _identity: RoomIdentity): void {
    // Pings and presence are the base's; presence rooms take no other commands.
  }
}
