/** A team role as a small label. */
import type { TeamRole } from "../api/types.ts";

export function RoleBadge(props: { role: TeamRole; label?: string }) {
  return <span class={`badge badge-${props.role}`}>{props.label ?? props.role}</span>;
}
