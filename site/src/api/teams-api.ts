/** /api/v1/teams: teams, members and agents. */
import { apiRequest } from "./http.ts";
import type { Agent, AgentInput, Team, TeamInput, TeamMember, TeamRole } from "./types.ts";

const BASE = "/api/v1/teams";
const team = (teamId: string) => `${BASE}/${encodeURIComponent(teamId)}`;

export async function listTeams(): Promise<Team[]> {
  return (await apiRequest<{ teams: Team[] }>("GET", BASE)).teams;
}

export async function createTeam(input: TeamInput): Promise<Team> {
  return (await apiRequest<{ team: Team }>("POST", BASE, { body: input })).team;
}

export async function getTeam(teamId: string): Promise<Team> {
  return (await apiRequest<{ team: Team }>("GET", team(teamId))).team;
}

export async function updateTeam(teamId: string, input: Partial<TeamInput>): Promise<Team> {
  return (await apiRequest<{ team: Team }>("PATCH", team(teamId), { body: input })).team;
}

export function deleteTeam(teamId: string): Promise<void> {
  return apiRequest<void>("DELETE", team(teamId));
}

export async function listMembers(teamId: string): Promise<TeamMember[]> {
  return (await apiRequest<{ members: TeamMember[] }>("GET", `${team(teamId)}/members`)).members;
}

/** `user` is a username or an email address. */
export async function addMember(teamId: string, user: string, role: TeamRole): Promise<TeamMember> {
  return (await apiRequest<{ member: TeamMember }>("POST", `${team(teamId)}/members`, { body: { user, role } })).member;
}

export async function changeMemberRole(teamId: string, userId: string, role: TeamRole): Promise<TeamMember> {
  const path = `${team(teamId)}/members/${encodeURIComponent(userId)}`;
  return (await apiRequest<{ member: TeamMember }>("PATCH", path, { body: { role } })).member;
}

/** Removes a member (owners), or leaves the team when `userId` is the caller. */
export function removeMember(teamId: string, userId: string): Promise<void> {
  return apiRequest<void>("DELETE", `${team(teamId)}/members/${encodeURIComponent(userId)}`);
}

export async function listAgents(teamId: string): Promise<Agent[]> {
  return (await apiRequest<{ agents: Agent[] }>("GET", `${team(teamId)}/agents`)).agents;
}

export async function createAgent(teamId: string, input: AgentInput): Promise<Agent> {
  return (await apiRequest<{ agent: Agent }>("POST", `${team(teamId)}/agents`, { body: input })).agent;
}

export async function updateAgent(teamId: string, agentId: string, input: Partial<AgentInput>): Promise<Agent> {
  const path = `${team(teamId)}/agents/${encodeURIComponent(agentId)}`;
  return (await apiRequest<{ agent: Agent }>("PATCH", path, { body: input })).agent;
}

export function deleteAgent(teamId: string, agentId: string): Promise<void> {
  return apiRequest<void>("DELETE", `${team(teamId)}/agents/${encodeURIComponent(agentId)}`);
}
