/** The team's name and description; owners may edit them or delete the team. */
import { createSignal, Show } from "solid-js";
import { deleteTeam, updateTeam } from "../api/teams-api.ts";
import type { Team } from "../api/types.ts";
import { createAction } from "../lib/action.ts";
import { ConfirmButton } from "./ConfirmButton.tsx";
import { ErrorAlert } from "./ErrorAlert.tsx";
import { RoleBadge } from "./RoleBadge.tsx";

export interface TeamSettingsProps {
  team: Team;
  onUpdated: (team: Team) => void;
  onDeleted: () => void;
}

export function TeamSettings(props: TeamSettingsProps) {
  const [editing, setEditing] = createSignal(false);
  const { busy, error, setError, run } = createAction();
  const isOwner = () => props.team.role === "owner";

  async function onSave(event: SubmitEvent) {
    event.preventDefault();
    const data = new FormData(event.currentTarget as HTMLFormElement);
    await run(async () => {
      const team = await updateTeam(props.team.id, {
        name: String(data.get("name") ?? "").trim(),
        description: String(data.get("description") ?? "").trim(),
      });
      props.onUpdated(team);
      setEditing(false);
    });
  }

  async function onDelete() {
    setError(undefined);
    try {
      await deleteTeam(props.team.id);
      props.onDeleted();
    } catch (e: unknown) {
      setError(e);
    }
  }

  return (
    <Show
      when={editing()}
      fallback={
        <div class="team-heading">
          <div>
            <h1>{props.team.name}</h1>
            <Show when={props.team.description} fallback={<p class="muted">No description.</p>}>
              <p class="team-description">{props.team.description}</p>
            </Show>
            <p class="muted">
              Your role: <RoleBadge role={props.team.role} />
            </p>
          </div>
          <Show when={isOwner()}>
            <div class="form-actions">
              <button type="button" class="button" onClick={() => setEditing(true)}>
                Edit team
              </button>
              <ConfirmButton label="Delete team" confirmLabel="Delete team and its agents" onConfirm={onDelete} />
            </div>
          </Show>
          <ErrorAlert error={error()} />
        </div>
      }
    >
      <form class="form card" aria-label="Edit team" data-testid="edit-team-form" onSubmit={onSave}>
        <h1>Edit team</h1>
        <label class="field">
          <span class="field-label">Team name</span>
          <input name="name" type="text" required maxLength={100} value={props.team.name} />
        </label>
        <label class="field">
          <span class="field-label">Description</span>
          <textarea name="description" rows={3} maxLength={2000}>
            {props.team.description}
          </textarea>
        </label>
        <ErrorAlert error={error()} />
        <div class="form-actions">
          <button type="submit" class="button button-primary" disabled={busy()}>
            {busy() ? "Saving…" : "Save"}
          </button>
          <button type="button" class="button" onClick={() => setEditing(false)}>
            Cancel
          </button>
        </div>
      </form>
    </Show>
  );
}
