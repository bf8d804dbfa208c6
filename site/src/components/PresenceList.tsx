/**
 * Who has this team open, live over the team's presence socket. The socket lives as long as
 * this component.
 */
import { createSignal, onCleanup, onMount } from "solid-js";
import type { PresenceEntry } from "../api/types.ts";
import { connectPresence, type PresenceSocket, type PresenceStatus } from "../lib/presence-socket.ts";
import { PresenceView } from "./PresenceView.tsx";

export interface PresenceListProps {
  teamId: string;
  selfId: string | undefined;
  /** see PresenceSocketOptions.beforeReconnect */
  beforeReconnect?: () => Promise<void>;
}

export function PresenceList(props: PresenceListProps) {
  const [viewers, setViewers] = createSignal<PresenceEntry[]>([]);
  const [total, setTotal] = createSignal(0);
  const [status, setStatus] = createSignal<PresenceStatus>("connecting");
  let socket: PresenceSocket | undefined;

  onMount(() => {
    socket = connectPresence({
      teamId: props.teamId,
      onPresence: (list, users) => {
        setViewers(list);
        setTotal(users);
      },
      onStatus: setStatus,
      ...(props.beforeReconnect && { beforeReconnect: props.beforeReconnect }),
    });
  });
  onCleanup(() => socket?.close());

  return <PresenceView viewers={viewers()} total={total()} status={status()} selfId={props.selfId} />;
}
