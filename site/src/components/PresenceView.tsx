/**
 * "Viewing now": the people connected to a room, with the connection's state. Presentational:
 * the team page feeds it from the team's presence socket, the meeting page from the meeting's.
 */
import { createUniqueId, For, Show } from "solid-js";
import type { PresenceEntry } from "../api/types.ts";
import type { RoomSocketStatus } from "../lib/room-socket.ts";
import { Avatar } from "./Avatar.tsx";

export interface PresenceViewProps {
  viewers: readonly PresenceEntry[];
  status: RoomSocketStatus;
  selfId: string | undefined;
  /** how many people in all, when the room names only the first of them */
  total?: number;
  /** defaults to "Viewing now:" */
  label?: string;
}

const STATUS_TEXT: Record<RoomSocketStatus, string> = {
  connecting: "Connecting…",
  open: "Live",
  reconnecting: "Reconnecting…",
  closed: "Offline",
};

export function PresenceView(props: PresenceViewProps) {
  const labelId = createUniqueId();
  return (
    <section class="presence" aria-labelledby={labelId}>
      <span class="presence-label" id={labelId}>
        {props.label ?? "Viewing now:"}
      </span>
      <ul class="presence-list" data-testid="presence">
        <For each={props.viewers}>
          {(viewer) => {
            const isSelf = () => viewer.userId === props.selfId;
            return (
              <li
                class="presence-user"
                classList={{ "presence-self": isSelf() }}
                data-testid="presence-user"
                data-user-id={viewer.userId}
                title={viewer.connections > 1 ? `${viewer.connections} tabs open` : undefined}
              >
                <Avatar id={viewer.userId} name={viewer.displayName || viewer.name} size="small" />
                <span class="presence-name">{viewer.displayName || viewer.name}</span>
                <span class="muted">@{viewer.name}</span>
                <Show when={isSelf()}>
                  <span class="badge badge-you">you</span>
                </Show>
              </li>
            );
          }}
        </For>
        <Show when={(props.total ?? 0) > props.viewers.length}>
          <li class="presence-more muted" data-testid="presence-more">
            and {(props.total ?? 0) - props.viewers.length} more
          </li>
        </Show>
      </ul>
      <span class="presence-status" classList={{ "presence-live": props.status === "open" }} role="status">
        {STATUS_TEXT[props.status]}
      </span>
    </section>
  );
}
