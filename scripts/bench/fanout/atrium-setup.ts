/**
 * Sets Atrium up for the fan-out section through its public REST API, as a user would: an
 * account, a team with one agent, the account's Anthropic key (the stand-in's), and one fresh
 * individual meeting (1 round, no critic) per measured case.
 */
import { randomUUID } from "node:crypto";

export interface AtriumSetup {
  accessToken: string;
  teamId: string;
  agentId: string;
}

async function api<T>(baseUrl: string, method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      ...(opts.body !== undefined && { "content-type": "application/json" }),
      ...(opts.token && { authorization: `Bearer ${opts.token}` }),
    },
    ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : {}) as T;
}

export async function setUpAtrium(baseUrl: string, apiKey: string): Promise<AtriumSetup> {
  const username = `fanout${randomUUID().slice(0, 8)}`;
  const { accessToken } = await api<{ accessToken: string }>(baseUrl, "POST", "/api/v1/auth/register", {
    body: { username, email: `${username}@bench.invalid`, password: "fan-out benchmark password" },
  });
  const { team } = await api<{ team: { id: string } }>(baseUrl, "POST", "/api/v1/teams", {
    token: accessToken,
    body: { name: `Fan-out ${username}` },
  });
  const { agent } = await api<{ agent: { id: string } }>(baseUrl, "POST", `/api/v1/teams/${team.id}/agents`, {
    token: accessToken,
    body: { title: "Streamer", expertise: "long answers", goal: "stream tokens", role: "answer", model: "claude-sonnet-4-6" },
  });
  await api(baseUrl, "PUT", "/api/v1/me/api-keys/anthropic", { token: accessToken, body: { apiKey } });
  return { accessToken, teamId: team.id, agentId: agent.id };
}

/** A pending meeting whose first turn (turnIndex 0) will stream the model's reply. */
export async function createMeeting(baseUrl: string, setup: AtriumSetup, agenda: string): Promise<string> {
  const { meeting } = await api<{ meeting: { id: string } }>(baseUrl, "POST", `/api/v1/teams/${setup.teamId}/meetings`, {
    token: setup.accessToken,
    body: { type: "individual", agenda, rounds: 1, memberAgentId: setup.agentId, critic: false },
  });
  return meeting.id;
}

export function meetingSocketUrl(baseUrl: string, meetingId: string, since?: number): string {
  const ws = baseUrl.replace(/^http/, "ws");
  return `${ws}/api/v1/meetings/${meetingId}/ws${since === undefined ? "" : `?since=${since}`}`;
}
