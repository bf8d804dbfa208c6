/** One team: its details, who is viewing it now, its meetings, its members and its agents. */
import { A, useNavigate, useParams } from "@solidjs/router";
import { createResource, Match, Show, Switch } from "solid-js";
import { isApiError } from "../api/http.ts";
import { getTeam, listAgents, listMembers } from "../api/teams-api.ts";
import { AgentsSection } from "../components/AgentsSection.tsx";
import { LoadError } from "../components/LoadError.tsx";
import { MeetingsSection } from "../components/MeetingsSection.tsx";
import { MembersSection } from "../components/MembersSection.tsx";
import { PresenceList } from "../components/PresenceList.tsx";
import { TeamSettings } from "../components/TeamSettings.tsx";
import { usePageTitle } from "../lib/page-title.ts";
import { currentUser } from "../session/session.ts";

export function TeamPage() {
  const params = useParams<{ teamId: string }>();
  const navigate = useNavigate();
  const teamId = () => params.teamId;
  const [team, { mutate: setTeam, refetch: refetchTeam }] = createResource(teamId, getTeam);
  const [members, { refetch: refetchMembers }] = createResource(teamId, listMembers);
  const [agents, { mutate: setAgents }] = createResource(teamId, listAgents);

  // Reading a resource that failed throws; these read it safely.
  const loadedTeam = () => (team.state === "ready" || team.state === "refreshing" ? team.latest : undefined);
  const membersValue = () => (members.state === "errored" ? undefined : members.latest);
  const agentsValue = () => (agents.state === "errored" ? undefined : agents.latest);
  const role = () => loadedTeam()?.role;
  const notFound = () => isApiError(team.error, "TEAM_NOT_FOUND") || isApiError(team.error, "VALIDATION_FAILED");

  usePageTitle(() => loadedTeam()?.name ?? "Team");

  async function checkTeamBeforeReconnect(): Promise<void> {
    try {
      setTeam(await getTeam(teamId()));
    } catch (e: unknown) {
      // Removed from the team meanwhile: show that instead of retrying forever.
      if (isApiError(e, "TEAM_NOT_FOUND")) void refetchTeam();
      throw e;
    }
  }

  return (
    <div class="page">
      <p class="breadcrumbs">
        <A href="/teams">← All teams</A>
      </p>
      <Switch>
        <Match when={notFound()}>
          <section class="card narrow">
            <h1>Team not found</h1>
            <p>This team does not exist, or you are not a member of it.</p>
          </section>
        </Match>
        <Match when={team.error}>
          <LoadError error={team.error} title="Could not load the team." onRetry={refetchTeam} />
        </Match>
        <Match when={!loadedTeam()}>
          <p class="muted" role="status">
            Loading team…
          </p>
        </Match>
        <Match when={loadedTeam()}>
          {(t) => (
            <>
              <TeamSettings team={t()} onUpdated={(updated) => setTeam(updated)} onDeleted={() => navigate("/teams", { replace: true })} />
              <Show when={teamId()} keyed>
                {(id) => <PresenceList teamId={id} selfId={currentUser()?.id} beforeReconnect={checkTeamBeforeReconnect} />}
              </Show>
              <MeetingsSection teamId={t().id} canEdit={role() === "owner" || role() === "editor"} />
              <div class="team-columns">
                <AgentsSection
                  teamId={t().id}
                  agents={agentsValue()}
                  loadError={agents.error}
                  canEdit={role() === "owner" || role() === "editor"}
                  onChange={(list) => setAgents(list)}
                />
                <MembersSection
                  teamId={t().id}
                  members={membersValue()}
                  loadError={members.error}
                  isOwner={role() === "owner"}
                  selfId={currentUser()?.id}
                  onChanged={() => {
                    void refetchMembers();
                    void refetchTeam();
                  }}
                  onLeft={() => navigate("/teams", { replace: true })}
                />
              </div>
            </>
          )}
        </Match>
      </Switch>
    </div>
  );
}
