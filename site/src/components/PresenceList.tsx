/**
 * "Viewing now": everyone who has this team open, live over the team's presence socket.
 * The socket lives as long as this component.
 */
import { createSignal, For, onCleanup, onMount, Show } from "solid-js";
import type { PresenceEntry } from "../api/types.ts";
import { connectPresence, type PresenceSocket, type PresenceStatus } from "../lib/presence-socket.ts";
import { Avatar } from "./Avatar.tsx";

export interface PresenceListProps {
  teamId: string;
  selfId: string | undefined;
  /** see PresenceSocketOptions.beforeReconnect */
  beforeReconnect?: () => Promise<void>;
}

const STATUS_TEXT: Record<PresenceStatus, string> = {
  connecting: "Connecting…",
  open: "Live",
  reconnecting: "Reconnecting…",
  closed: "Offline",
};

export function PresenceList(props: PresenceListProps) {
  const [viewers, setViewers] = createSignal<PresenceEntry[]>([]);
  const [status, setStatus] = createSignal<PresenceStatus>("connecting");
  let socket: PresenceSocket | undefined;

  onMount(() => {
    socket = connectPresence({
      teamId: props.teamId,
      onPresence: setViewers,
      onStatus: setStatus,
      ...(props.beforeReconnect && { beforeReconnect: props.beforeReconnect }),
    });
  });
  onCleanup(() => socket?.close());

  return (
    <section class="presence" aria-labelledby="presence-label">
      <span class="presence-label" id="presence-label">
        Viewing now:
      </span>
      <ul class="presence-list" data-testid="presence">
        <For each={viewers()}>
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
      </ul>
      <span class="presence-status" classList={{ "presence-live": status() === "open" }} role="status">
        {STATUS_TEXT[status()]}
      </span>
    </section>
  );
}
