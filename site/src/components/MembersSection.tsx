/**
 * A team's members and their roles. Owners add members, change roles and remove people;
 * everyone may leave. The API refuses to leave a team without an owner (LAST_OWNER), and
 * that refusal is shown in words.
 */
import { createSignal, createUniqueId, For, Show } from "solid-js";
import { addMember, changeMemberRole, removeMember } from "../api/teams-api.ts";
import { TEAM_ROLES, type TeamMember, type TeamRole } from "../api/types.ts";
import { formatDate } from "../lib/format.ts";
import { ActionFeedback } from "./ActionFeedback.tsx";
import { Avatar } from "./Avatar.tsx";
import { ConfirmButton } from "./ConfirmButton.tsx";
import { LoadState } from "./LoadState.tsx";
import { RoleBadge } from "./RoleBadge.tsx";

export interface MembersSectionProps {
  teamId: string;
  members: TeamMember[] | undefined;
  loadError: unknown;
  isOwner: boolean;
  selfId: string | undefined;
  /** after any change to the member list (roles may have changed, including the caller's) */
  onChanged: () => void;
  /** after the caller left the team */
  onLeft: () => void;
}

export function MembersSection(props: MembersSectionProps) {
  const [error, setError] = createSignal<unknown>();
  const [notice, setNotice] = createSignal<string>();
  const [adding, setAdding] = createSignal(false);
  const roleHint = createUniqueId();

  async function run(action: () => Promise<string | undefined>) {
    setError(undefined);
    setNotice(undefined);
    try {
      setNotice(await action());
    } catch (e: unknown) {
      setError(e);
    }
  }

  async function onAdd(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    setAdding(true);
    await run(async () => {
      const member = await addMember(props.teamId, String(data.get("user") ?? "").trim(), String(data.get("role")) as TeamRole);
      form.reset();
      props.onChanged();
      // Names stay out of notices so each member's name appears once in this section.
      return `Member added as ${member.role}.`;
    });
    setAdding(false);
  }

  function onRoleChange(member: TeamMember, select: HTMLSelectElement) {
    const role = select.value as TeamRole;
    void run(async () => {
      try {
        await changeMemberRole(props.teamId, member.userId, role);
      } catch (e: unknown) {
        select.value = member.role;
        throw e;
      }
      props.onChanged();
      return `Role changed to ${role}.`;
    });
  }

  function onRemove(member: TeamMember) {
    const self = member.userId === props.selfId;
    return run(async () => {
      await removeMember(props.teamId, member.userId);
      if (self) {
        props.onLeft();
        return undefined;
      }
      props.onChanged();
      return "Member removed.";
    });
  }

  return (
    <section class="card" aria-labelledby="members-heading" data-testid="members">
      <h2 id="members-heading">Members</h2>
      <LoadState error={props.loadError} value={props.members} errorTitle="Could not load the members." loadingText="Loading members…">
        {(members) => (
          <ul class="member-list" data-testid="member-list">
            <For each={members()}>
              {(member) => {
                const isSelf = () => member.userId === props.selfId;
                return (
                  <li class="member" data-testid="member" data-username={member.username}>
                    <span class="person">
                      <Avatar id={member.userId} name={member.displayName || member.username} size="small" />
                      <span class="member-name">
                        <span>
                          {member.displayName} <span class="muted">@{member.username}</span>
                          <Show when={isSelf()}>
                            {" "}
                            <span class="badge badge-you">you</span>
                          </Show>
                        </span>
                        <span class="member-joined muted">joined {formatDate(member.joinedAt)}</span>
                      </span>
                    </span>
                    <span class="member-controls">
                      <Show when={props.isOwner} fallback={<RoleBadge role={member.role} />}>
                        <select aria-label={`Role of ${member.username}`} onChange={(e) => onRoleChange(member, e.currentTarget)}>
                          <For each={TEAM_ROLES}>
                            {(role) => (
                              <option value={role} selected={role === member.role}>
                                {role}
                              </option>
                            )}
                          </For>
                        </select>
                      </Show>
                      <Show
                        when={isSelf()}
                        fallback={
                          <Show when={props.isOwner}>
                            <ConfirmButton
                              label="Remove"
                              size="small"
                              ariaLabel={`Remove ${member.username}`}
                              confirmLabel="Yes, remove"
                              onConfirm={() => onRemove(member)}
                            />
                          </Show>
                        }
                      >
                        <ConfirmButton label="Leave team" size="small" confirmLabel="Yes, leave" onConfirm={() => onRemove(member)} />
                      </Show>
                    </span>
                  </li>
                );
              }}
            </For>
          </ul>
        )}
      </LoadState>
      <ActionFeedback error={error()} notice={notice()} />
      <Show when={props.isOwner}>
        <form class="form form-inline" aria-label="Add member" data-testid="add-member-form" onSubmit={onAdd}>
          <h3>Add member</h3>
          <div class="form-row">
            <label class="field">
              <span class="field-label">Username or email</span>
              <input name="user" type="text" required maxLength={254} autocomplete="off" />
            </label>
            <label class="field field-short">
              <span class="field-label">Member role</span>
              {/* Least privilege first: it is also what form.reset() returns to. */}
              <select name="role" aria-describedby={roleHint}>
                <For each={[...TEAM_ROLES].reverse()}>{(role) => <option value={role}>{role}</option>}</For>
              </select>
            </label>
            <button type="submit" class="button button-primary" disabled={adding()}>
              {adding() ? "Adding…" : "Add member"}
            </button>
          </div>
          <p class="field-hint" id={roleHint}>
            Owners manage members and the team; editors change agents; viewers read.
          </p>
        </form>
      </Show>
    </section>
  );
}
