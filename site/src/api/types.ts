/**
 * The API's request and response shapes as the site sees them, mirrored by hand from the zod
 * schemas in worker/routes/*.ts (the Worker's `AppType` cannot be imported here: it pulls
 * Workers-only globals into the DOM program). Keep these in step with the schemas.
 */
import type { MeetingConfig } from "../../../durable-objects/meeting/meeting-config.ts";
import type { MeetingMessage, MeetingStatus } from "../../../durable-objects/meeting/protocol.ts";
import type { PresenceEntry } from "../../../durable-objects/room/protocol.ts";

export type { MeetingConfig, MeetingMessage, MeetingStatus, PresenceEntry };

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

export type MeetingType = "team" | "individual";
export type MeetingProvider = "anthropic" | "offline";

/** worker/routes/meetings.ts `MeetingSchema`. */
export interface Meeting {
  id: string;
  teamId: string;
  title: string;
  type: MeetingType;
  status: MeetingStatus;
  provider: MeetingProvider | null;
  totalTurns: number;
  completedTurns: number;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  summaryText: string | null;
  /** the structured summary (durable-objects/meeting/summary.ts `MeetingSummarySchema`) */
  summary: Record<string, unknown> | null;
  errorCode: string | null;
  errorMessage: string | null;
  parentMeetingId: string | null;
  branchTurnIndex: number | null;
  mergeGroupId: string | null;
  mergeRole: "copy" | "merge" | null;
  config: MeetingConfig;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  createdBy: string | null;
}

/** `CreateMeetingInput`. Agents are referred to by id; `builtin:*` ids name the built-in agents. */
export interface MeetingInput {
  type: MeetingType;
  agenda: string;
  agendaQuestions?: string[];
  agendaRules?: string[];
  contexts?: string[];
  /** finished meetings of this team whose summaries feed this one */
  earlierMeetingIds?: string[];
  rounds: number;
  temperature?: number;
  /** team meetings */
  leadAgentId?: string;
  memberAgentIds?: string[];
  /** individual meetings */
  memberAgentId?: string;
  critic?: boolean;
  criticAgentId?: string;
  maxCostUsd?: number;
  start?: boolean;
}

/** `ParallelMeetingInput`: K copies at a creative temperature, merged when all finish. */
export interface ParallelMeetingInput extends MeetingInput {
  copies: number;
}

export interface ParallelMeetings {
  groupId: string;
  meetings: Meeting[];
}

/** `BranchInput`: a new meeting continuing from a finished turn with changed parameters. */
export interface BranchInput {
  fromTurnIndex: number;
  rounds?: number;
  temperature?: number;
  agenda?: string;
  agendaQuestions?: string[];
  agendaRules?: string[];
  contexts?: string[];
  maxCostUsd?: number;
  start?: boolean;
}

export interface MeetingWithRole {
  meeting: Meeting;
  role: TeamRole;
}

export interface MeetingSummaryResponse {
  summaryText: string | null;
  summary: Record<string, unknown> | null;
}

export interface MeetingUsage {
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  calls: number;
}

/** `MeetingAllowance`: what is left of the deployment's meeting limits (the last 24 hours). */
export interface MeetingAllowance {
  windowHours: number;
  meetingsPerDay: number;
  meetingsUsed: number;
  meetingsLeft: number;
  /** false when the user's own key pays (or the deployment has none): no spend limit then */
  spendLimitApplies: boolean;
  dailySpendUsd: number;
  spentUsd: number;
  spendLeftUsd: number;
  defaultMeetingBudgetUsd: number;
  maxMeetingBudgetUsd: number;
}

export interface UserUsage extends MeetingUsage {
  byModel: { model: string; costUsd: number; calls: number }[];
  allowance: MeetingAllowance;
}

/** `MeetingSettings` (admin): the deployment's meeting limits. */
export interface MeetingSettings {
  meetingsPerUserPerDay: number;
  dailySpendUsdPerUser: number;
  defaultMeetingBudgetUsd: number;
  maxMeetingBudgetUsd: number;
}

export type ApiKeyProvider = "anthropic";

/** worker/routes/api-keys.ts: the key itself is never returned, only its last characters. */
export interface ApiKeyInfo {
  provider: ApiKeyProvider;
  hint: string;
  updatedAt: string;
}

export interface ApiKeyList {
  keys: ApiKeyInfo[];
  /** whether the deployment has its own Anthropic key to fall back on */
  deploymentKey: boolean;
}
