/** Pure presence bookkeeping: many sockets (tabs) of one user collapse into one entry. */
import type { PresenceEntry, RoomIdentity } from "./protocol.ts";

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
