/** Desktop states and refusals in words, shared by the desktop pages. */
import type { DesktopState } from "../api/desktop-types.ts";
import { isApiError } from "../api/http.ts";
import { describeError } from "./errors.ts";

export const STATE_LABELS: Record<DesktopState, string> = {
  requested: "Requested",
  starting: "Starting…",
  running: "Running",
  hibernating: "Hibernating…",
  hibernated: "Hibernated",
  waking: "Waking…",
  stopping: "Stopping…",
  stopped: "Stopped",
  failed: "Failed",
};

/** What the viewer shows while the desktop is not up yet. */
export const PROGRESS_TEXT: Partial<Record<DesktopState, string>> = {
  requested: "Starting your desktop… waiting for a bridge to pick it up.",
  starting: "Starting your desktop…",
  waking: "Waking your desktop…",
  hibernating: "The desktop is hibernating.",
  hibernated: "The desktop is hibernated. Opening it wakes it up…",
  stopping: "The desktop is stopping.",
};

/** A badge class per state (reuses the meeting status colours). */
export function stateBadgeClass(state: DesktopState): string {
  switch (state) {
    case "running":
      return "badge badge-status-completed";
    case "failed":
      return "badge badge-status-failed";
    case "stopped":
      return "badge";
    case "hibernated":
    case "hibernating":
      return "badge badge-status-paused";
    default:
      return "badge badge-status-running";
  }
}

/** A refused start or wake in words: quotas and capacity get a plain explanation first. */
export function describeDesktopError(error: unknown): string {
  const detail = describeError(error).message;
  if (isApiError(error, "QUOTA_EXCEEDED")) return `Desktop quota reached. ${detail}`;
  if (isApiError(error, "NO_CAPACITY")) return `No desktop capacity is available right now. ${detail}`;
  if (isApiError(error, "HIBERNATE_UNSUPPORTED")) return `This desktop cannot hibernate. ${detail}`;
  return detail;
}
