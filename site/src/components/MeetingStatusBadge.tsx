/** A meeting's status as a coloured label ("running", "completed", …). */
import type { MeetingStatus } from "../api/types.ts";

export function MeetingStatusBadge(props: { status: MeetingStatus; testId?: string }) {
  return (
    <span class={`badge badge-status badge-status-${props.status}`} data-testid={props.testId} data-status={props.status}>
      {props.status}
    </span>
  );
}
