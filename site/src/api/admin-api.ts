/** /api/v1/admin: user administration, the audit log and meeting limits (administrators only). */
import { apiRequest } from "./http.ts";
import type { AuditPage, AuditQuery, MeetingSettings, User, UserListQuery, UserPage, UserUpdate } from "./types.ts";

const BASE = "/api/v1/admin";

export function listUsers(query: UserListQuery): Promise<UserPage> {
  return apiRequest<UserPage>("GET", `${BASE}/users`, { query: { ...query } });
}

export async function updateUser(userId: string, update: UserUpdate): Promise<User> {
  return (await apiRequest<{ user: User }>("PATCH", `${BASE}/users/${encodeURIComponent(userId)}`, { body: update })).user;
}

export function listAudit(query: AuditQuery): Promise<AuditPage> {
  return apiRequest<AuditPage>("GET", `${BASE}/audit`, { query: { ...query } });
}

export async function getMeetingSettings(): Promise<MeetingSettings> {
  return (await apiRequest<{ settings: MeetingSettings }>("GET", `${BASE}/meeting-settings`)).settings;
}

export async function saveMeetingSettings(settings: MeetingSettings): Promise<MeetingSettings> {
  return (await apiRequest<{ settings: MeetingSettings }>("PUT", `${BASE}/meeting-settings`, { body: settings })).settings;
}
