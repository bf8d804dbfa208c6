/** A round avatar with a person's initials on a colour of their own. */
import { hueOf, initialsOf } from "../lib/format.ts";

export interface AvatarProps {
  id: string;
  name: string;
  size?: "small" | "medium";
}

export function Avatar(props: AvatarProps) {
  return (
    <span
      class="avatar"
      classList={{ "avatar-small": props.size === "small" }}
      style={{ "--avatar-hue": String(hueOf(props.id)) }}
      aria-hidden="true"
    >
      {initialsOf(props.name)}
    </span>
  );
}
