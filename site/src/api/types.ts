/**
 * The API's request and response shapes as the site sees them, mirrored by hand from the zod
 * schemas in worker/routes/*.ts (the Worker's `AppType` cannot be imported here: it pulls
 * Workers-only globals into the DOM program). Keep these in step with the schemas.
 */
import type { PresenceEntry } from "../../../durable-objects/room/protocol.ts";

export type { PresenceEntry };

/** worker/routes/teams.ts `TeamRole` (same values as the room roles). */
export type TeamRole = PresenceEntry["role"];
export const TEAM_ROLES: readonly TeamRole[] = ["owner", "editor", "viewer"];

/** worker/routes/auth.ts `UserSchema`. Timestamps are ISO 8601 strings. */
export interface User {
  id: string;
  username: string;
  email: string;
  displayName: string;
  isAdmin: boolean;
  isActive: boolean;
  mustChangePassword: boolean;
  createdAt: string;
  lastLoginAt: string | null;
}

/** `SessionSchema` in cookie mode: the tokens themselves stay in httpOnly cookies. */
export interface Session {
  user: User;
  tokenType: "Bearer";
  expiresIn: number;
}

export interface AuthConfig {
  authEnabled: boolean;
}

export interface LoginInput {
  login: string;
  password: string;
}

export interface RegisterInput {
  username: string;
  email: string;
  password: string;
  displayName?: string;
}

export interface PasswordChangeInput {
  currentPassword: string;
  newPassword: string;
}

/** worker/routes/teams.ts `TeamSchema`; `role` is the caller's. */
export interface Team {
  id: string;
  name: string;
  description: string;
  role: TeamRole;
  createdAt: string;
  updatedAt: string;
}

export interface TeamInput {
  name: string;
  description?: string;
}

/** `MemberSchema`. */
export interface TeamMember {
  userId: string;
  username: string;
  displayName: string;
  role: TeamRole;
  joinedAt: string;
}

/** worker/routes/agents.ts `AgentSchema`. */
export interface Agent {
  id: string;
  teamId: string;
  title: string;
  expertise: string;
  goal: string;
  role: string;
  model: string;
  temperature: number | null;
  createdAt: string;
  updatedAt: string;
}

/** `AgentInput`; `temperature: null` clears it. */
export interface AgentInput {
  title: string;
  expertise: string;
  goal: string;
  role: string;
  model: string;
  temperature?: number | null;
}

export type UserStatusFilter = "active" | "inactive" | "all";

export interface UserListQuery {
  q?: string;
  status?: UserStatusFilter;
  limit?: number;
  offset?: number;
}

export interface UserPage {
  users: User[];
  total: number;
}

export interface UserUpdate {
  isActive?: boolean;
  isAdmin?: boolean;
}

/** worker/routes/admin.ts `AuditEntrySchema`. */
export interface AuditEntry {
  id: string;
  seq: number;
  at: string;
  actorId: string | null;
  actorName: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  detail: Record<string, unknown>;
}

export interface AuditQuery {
  /** exact action, or a prefix ending in "." such as "auth." */
  action?: string;
  actor?: string;
  targetId?: string;
  /** ISO 8601 with offset */
  from?: string;
  to?: string;
  before?: number;
  limit?: number;
}

export interface AuditPage {
  entries: AuditEntry[];
  nextBefore: number | null;
}
