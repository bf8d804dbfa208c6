/** The caller's teams, and a form to create one. */
import { A } from "@solidjs/router";
import { createResource, createSignal, For, Show } from "solid-js";
import { createTeam, listTeams } from "../api/teams-api.ts";
import type { Team } from "../api/types.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { LoadState } from "../components/LoadState.tsx";
import { RoleBadge } from "../components/RoleBadge.tsx";
import { createAction } from "../lib/action.ts";
import { usePageTitle } from "../lib/page-title.ts";

export function TeamsPage() {
  usePageTitle(() => "Teams");
  const [teams, { refetch, mutate }] = createResource(listTeams);
  const { busy, error, run } = createAction();
  const [created, setCreated] = createSignal<Team>();

  async function onCreate(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const description = String(data.get("description") ?? "").trim();
    setCreated(undefined);
    await run(async () => {
      const team = await createTeam({ name: String(data.get("name") ?? "").trim(), ...(description && { description }) });
      mutate((list) => [...(list ?? []), team].sort((a, b) => a.name.localeCompare(b.name)));
      setCreated(team);
      form.reset();
    });
  }

  return (
    <div class="page">
      <section aria-labelledby="teams-heading" class="card">
        <h1 id="teams-heading">Teams</h1>
        <LoadState
          error={teams.error}
          value={teams.latest}
          errorTitle="Could not load your teams."
          loadingText="Loading teams…"
          emptyText="You are not in any team yet. Create one below, or ask a team owner to add you."
          onRetry={refetch}
        >
          {(list) => (
            <ul class="team-list" data-testid="team-list">
              <For each={list()}>
                {(team) => (
                  <li class="team-item">
                    <div>
                      <A href={`/teams/${team.id}`} class="team-link">
                        {team.name}
                      </A>
                      <Show when={team.description}>
                        <p class="muted team-description">{team.description}</p>
                      </Show>
                    </div>
                    <RoleBadge role={team.role} />
                  </li>
                )}
              </For>
            </ul>
          )}
        </LoadState>
      </section>

      <section aria-labelledby="create-team" class="card">
        <h2 id="create-team">Create team</h2>
        <form class="form" aria-label="Create team" data-testid="create-team-form" onSubmit={onCreate}>
          <label class="field">
            <span class="field-label">Team name</span>
            <input name="name" type="text" required maxLength={100} />
          </label>
          <label class="field">
            <span class="field-label">Description</span>
            <textarea name="description" rows={2} maxLength={2000} placeholder="Optional: what this team works on" />
          </label>
          <ErrorAlert error={error()} title="Could not create the team." />
          <Show when={created()}>
            {(team) => (
              <p class="alert alert-success" role="status">
                Team “{team().name}” created. Open it from the list above.
              </p>
            )}
          </Show>
          <div class="form-actions">
            <button type="submit" class="button button-primary" disabled={busy()}>
              {busy() ? "Creating…" : "Create team"}
            </button>
          </div>
        </form>
      </section>
    </div>
  );
}
