/**
 * Placement (pure): which bridge a new desktop goes to. Only bridges that are online, not
 * draining, of the asked platform and with a free slot qualify; among them the asked region
 * wins, then the least loaded bridge (so sessions spread), then the id (so the choice is stable).
 */
import type { Platform } from "../bridge/protocol.ts";

export interface BridgeCandidate {
  id: string;
  platform: Platform;
  region: string;
  capacity: number;
  /** sessions on it in an active state */
  active: number;
}

export interface PlacementPreference {
  platform?: Platform | undefined;
  region?: string | undefined;
}

export function chooseBridge(candidates: readonly BridgeCandidate[], pref: PlacementPreference): BridgeCandidate | undefined {
  const fits = candidates.filter((b) => b.active < b.capacity && (!pref.platform || b.platform === pref.platform));
  const inRegion = (b: BridgeCandidate) => (pref.region !== undefined && b.region === pref.region ? 0 : 1);
  return [...fits].sort(
    (a, b) => inRegion(a) - inRegion(b) || a.active / a.capacity - b.active / b.capacity || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  )[0];
}
