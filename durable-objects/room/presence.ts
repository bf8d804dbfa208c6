/** Pure presence bookkeeping: many sockets (tabs) of one user collapse into one entry. */
import { PRESENCE_LIST_LIMIT, type PresenceBody, type PresenceEntry, type RoomIdentity } from "./protocol.ts";

export function summarizePresence(identities: readonly RoomIdentity[]): PresenceEntry[] {
  const byUser = new Map<string, PresenceEntry>();
  for (const id of identities) {
    const entry = byUser.get(id.userId);
    if (entry) {
      entry.connections += 1;
    } else {
      byUser.set(id.userId, {
        userId: id.userId,
        name: id.name,
        ...(id.displayName !== undefined && { displayName: id.displayName }),
        role: id.role,
        connections: 1,
      });
    }
  }
  return [...byUser.values()].sort((a, b) => a.name.localeCompare(b.name) || a.userId.localeCompare(b.userId));
}

/** A presence event's body for everyone in `entries`: the first PRESENCE_LIST_LIMIT, and the totals. */
export function presenceBody(entries: readonly PresenceEntry[]): PresenceBody {
  return {
    viewers: entries.slice(0, PRESENCE_LIST_LIMIT),
    users: entries.length,
    connections: entries.reduce((n, v) => n + v.connections, 0),
  };
}
