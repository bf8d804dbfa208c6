/**
 * The Postgres schema (system of record). drizzle-kit generates the SQL migrations in this
 * folder from this file; runtime-neutral so the Worker, the DOs and Node scripts share it.
 */
import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { PLATFORMS } from "../durable-objects/bridge/protocol.ts";
import { DESKTOP_STATES } from "../durable-objects/desktop/protocol.ts";
import { MEETING_STATUSES } from "../durable-objects/meeting/protocol.ts";

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp("updated_at", { withTimezone: true }).notNull().defaultNow();

/** Token counts and cost of one model call (a meeting turn, a ledger row). */
const usageColumns = () => ({
  inputTokens: integer("input_tokens").notNull().default(0),
  outputTokens: integer("output_tokens").notNull().default(0),
  cacheCreationTokens: integer("cache_creation_tokens").notNull().default(0),
  cacheReadTokens: integer("cache_read_tokens").notNull().default(0),
  costUsd: real("cost_usd").notNull().default(0),
});

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    username: text("username").notNull(),
    email: text("email").notNull(),
    displayName: text("display_name").notNull(),
    passwordHash: text("password_hash").notNull(),
    isAdmin: boolean("is_admin").notNull().default(false),
    isActive: boolean("is_active").notNull().default(true),
    mustChangePassword: boolean("must_change_password").notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    lastLoginAt: timestamp("last_login_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("users_username_lower_idx").on(sql`lower(${t.username})`),
    uniqueIndex("users_email_lower_idx").on(sql`lower(${t.email})`),
  ],
);

/** One family per login; every refresh rotates the token inside its family. */
export const refreshTokenFamilies = pgTable(
  "refresh_token_families",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    revokedReason: text("revoked_reason"),
    userAgent: text("user_agent"),
    ip: text("ip"),
  },
  (t) => [index("refresh_token_families_user_idx").on(t.userId)],
);

/** Every refresh token ever issued, by SHA-256 hash; a used one presented again is reuse. */
export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    familyId: uuid("family_id")
      .notNull()
      .references(() => refreshTokenFamilies.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    usedAt: timestamp("used_at", { withTimezone: true }),
  },
  (t) => [index("refresh_tokens_family_idx").on(t.familyId)],
);

export const SOCKET_ROOM_KINDS = ["team", "meeting", "desktop"] as const;
export type SocketRoomKind = (typeof SOCKET_ROOM_KINDS)[number];

/**
 * Which rooms a user has opened sockets to, per login session: when their access changes (team
 * role change or removal, deactivation, logout) the Worker tells exactly these Durable Objects to
 * re-authorize or close the user's sockets. Written on every socket upgrade; a row is pruned when
 * a revocation finds no socket of the user left in that room. `teamId` is the team whose role
 * governs the room (none for desktops); no foreign keys on room ids, since a deleted team's rows
 * must still be readable to close its sockets.
 */
export const socketRooms = pgTable(
  "socket_rooms",
  {
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** refresh-token family of the session that opened the socket */
    familyId: text("family_id").notNull(),
    kind: text("kind", { enum: SOCKET_ROOM_KINDS }).notNull(),
    roomId: uuid("room_id").notNull(),
    teamId: uuid("team_id"),
    connectedAt: timestamp("connected_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.kind, t.roomId, t.familyId] }),
    index("socket_rooms_team_idx").on(t.teamId),
    check("socket_rooms_kind_check", sql`${t.kind} in ('team', 'meeting', 'desktop')`),
  ],
);

export const teams = pgTable("teams", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  description: text("description").notNull().default(""),
  createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const TEAM_ROLES = ["owner", "editor", "viewer"] as const;
export type TeamRole = (typeof TEAM_ROLES)[number];

export const teamMembers = pgTable(
  "team_members",
  {
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role", { enum: TEAM_ROLES }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.teamId, t.userId] }),
    index("team_members_user_idx").on(t.userId),
    check("team_members_role_check", sql`${t.role} in ('owner', 'editor', 'viewer')`),
  ],
);

export const agents = pgTable(
  "agents",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    expertise: text("expertise").notNull(),
    goal: text("goal").notNull(),
    role: text("role").notNull(),
    model: text("model").notNull(),
    temperature: real("temperature"),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("agents_team_idx").on(t.teamId)],
);

export const auditLog = pgTable(
  "audit_log",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    actorId: uuid("actor_id").references(() => users.id, { onDelete: "set null" }),
    actorName: text("actor_name"),
    action: text("action").notNull(),
    targetType: text("target_type"),
    targetId: text("target_id"),
    ip: text("ip"),
    detail: jsonb("detail").$type<Record<string, unknown>>().notNull().default({}),
    seq: integer("seq").generatedAlwaysAsIdentity(),
  },
  (t) => [
    index("audit_log_at_idx").on(t.at),
    index("audit_log_action_idx").on(t.action, t.at),
    index("audit_log_actor_idx").on(t.actorId, t.at),
  ],
);

/** A Virtual Lab meeting. Its live state is in its MeetingRoom DO; this row is the record. */
export const meetings = pgTable(
  "meetings",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    title: text("title").notNull(),
    type: text("type", { enum: ["team", "individual"] }).notNull(),
    /** the validated MeetingConfig (agents copied in, so later agent edits don't change it) */
    config: jsonb("config").$type<Record<string, unknown>>().notNull(),
    status: text("status", { enum: MEETING_STATUSES }).notNull().default("pending"),
    /** which model answers: "anthropic" with a key, or the clearly labelled offline model */
    provider: text("provider", { enum: ["anthropic", "offline"] }),
    totalTurns: integer("total_turns").notNull(),
    completedTurns: integer("completed_turns").notNull().default(0),
    costUsd: real("cost_usd").notNull().default(0),
    inputTokens: integer("input_tokens").notNull().default(0),
    outputTokens: integer("output_tokens").notNull().default(0),
    summaryText: text("summary_text"),
    summary: jsonb("summary").$type<Record<string, unknown>>(),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    /** branch: the meeting and turn this one starts from (transcript up to it is shared) */
    parentMeetingId: uuid("parent_meeting_id"),
    branchTurnIndex: integer("branch_turn_index"),
    /** parallel-and-merge: copies and their merge meeting share a group id */
    mergeGroupId: uuid("merge_group_id"),
    mergeRole: text("merge_role", { enum: ["copy", "merge"] }),
    createdAt: createdAt(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    completedAt: timestamp("completed_at", { withTimezone: true }),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("meetings_team_idx").on(t.teamId, t.createdAt),
    index("meetings_merge_group_idx").on(t.mergeGroupId),
    // The per-user daily meeting count (meeting-limits.ts) reads a user's recent meetings.
    index("meetings_created_by_idx").on(t.createdBy, t.createdAt),
    // At most one merge meeting per parallel group, however many copies finish at once.
    uniqueIndex("meetings_one_merge_per_group_idx").on(t.mergeGroupId).where(sql`merge_role = 'merge'`),
  ],
);

/** Every finished turn and human interjection of a meeting, in order (`position`). */
export const meetingMessages = pgTable(
  "meeting_messages",
  {
    meetingId: uuid("meeting_id")
      .notNull()
      .references(() => meetings.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
    /** index in the turn plan; null for an interjection */
    turnIndex: integer("turn_index"),
    round: integer("round"),
    kind: text("kind").notNull(),
    speaker: text("speaker").notNull(),
    authorId: uuid("author_id").references(() => users.id, { onDelete: "set null" }),
    text: text("text").notNull(),
    model: text("model"),
    ...usageColumns(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.meetingId, t.position] })],
);

/** One row per model call, charged to the user whose key (or the deployment's) paid for it. */
export const usageLedger = pgTable(
  "usage_ledger",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id").references(() => users.id, { onDelete: "set null" }),
    meetingId: uuid("meeting_id").references(() => meetings.id, { onDelete: "set null" }),
    turnIndex: integer("turn_index"),
    model: text("model").notNull(),
    keySource: text("key_source", { enum: ["user", "deployment", "offline"] }).notNull(),
    ...usageColumns(),
    createdAt: createdAt(),
  },
  (t) => [
    index("usage_ledger_user_idx").on(t.userId, t.createdAt),
    uniqueIndex("usage_ledger_meeting_turn_idx").on(t.meetingId, t.turnIndex),
  ],
);

/** Per-user provider API keys, AES-GCM encrypted under a versioned, per-user derived key. */
export const userApiKeys = pgTable(
  "user_api_keys",
  {
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    provider: text("provider", { enum: ["anthropic"] }).notNull(),
    ciphertext: text("ciphertext").notNull(),
    /** last four characters, to recognise the key in the UI */
    hint: text("hint").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.provider] })],
);

export type MeetingRowType = typeof meetings.$inferSelect;

/**
 * Deployment-wide meeting limits (one row, id = 1; the defaults apply until an admin saves).
 * Amounts are double precision so what an admin saves reads back exactly.
 * "Per day" is the last 24 hours. See durable-objects/meeting/meeting-limits.ts.
 */
export const meetingSettings = pgTable("meeting_settings", {
  id: integer("id").primaryKey().default(1),
  /** meetings a user may create in 24 h (every user, whichever key pays) */
  meetingsPerUserPerDay: integer("meetings_per_user_per_day").notNull().default(20),
  /** USD a user's meetings may spend on the deployment's Anthropic key in 24 h */
  dailySpendUsdPerUser: doublePrecision("daily_spend_usd_per_user").notNull().default(5),
  /** the budget of a meeting on the deployment's key that sets none */
  defaultMeetingBudgetUsd: doublePrecision("default_meeting_budget_usd").notNull().default(1),
  /** the largest budget a meeting on the deployment's key may have */
  maxMeetingBudgetUsd: doublePrecision("max_meeting_budget_usd").notNull().default(10),
  updatedAt: updatedAt(),
});

// ── Lab desktops ──────────────────────────────────────────────────────────────────────────

/** Admin-managed desktop templates users start sessions from. */
export const desktopTemplates = pgTable("desktop_templates", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  description: text("description").notNull().default(""),
  kind: text("kind", { enum: ["container", "vm"] }).notNull(),
  /** container image reference, or a vm_images id for a VM */
  image: text("image").notNull(),
  cpu: real("cpu").notNull().default(1),
  memoryMb: integer("memory_mb").notNull().default(2048),
  runtimeClass: text("runtime_class"),
  env: jsonb("env").$type<Record<string, string>>().notNull().default({}),
  persistentHome: boolean("persistent_home").notNull().default(false),
  enabled: boolean("enabled").notNull().default(true),
  /** only site administrators see and start it (e.g. a desktop that is a shell on the bridge's host) */
  adminOnly: boolean("admin_only").notNull().default(false),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

/** Uploaded VM disk images, stored in R2 (multipart uploads). */
export const vmImages = pgTable("vm_images", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  filename: text("filename").notNull(),
  sizeBytes: real("size_bytes").notNull().default(0),
  objectKey: text("object_key").notNull(),
  uploadId: text("upload_id"),
  status: text("status", { enum: ["uploading", "ready"] })
    .notNull()
    .default("uploading"),
  createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
  createdAt: createdAt(),
  completedAt: timestamp("completed_at", { withTimezone: true }),
});

/**
 * The parts uploaded so far of an image's multipart upload. R2's Worker binding cannot list the
 * parts of an upload, so a client resuming an interrupted upload learns here what to skip.
 */
export const vmImageParts = pgTable(
  "vm_image_parts",
  {
    imageId: uuid("image_id")
      .notNull()
      .references(() => vmImages.id, { onDelete: "cascade" }),
    partNumber: integer("part_number").notNull(),
    etag: text("etag").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    uploadedAt: timestamp("uploaded_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.imageId, t.partNumber] })],
);

/** Deployment-wide desktop settings (one row, id = 1). */
export const desktopSettings = pgTable("desktop_settings", {
  id: integer("id").primaryKey().default(1),
  maxConcurrentSessions: integer("max_concurrent_sessions").notNull().default(50),
  perUserSessionLimit: integer("per_user_session_limit").notNull().default(2),
  idleTimeoutMinutes: integer("idle_timeout_minutes").notNull().default(30),
  updatedAt: updatedAt(),
});

export const BRIDGE_STATUSES = ["registered", "online", "offline", "draining"] as const;

/**
 * A node-bridge: one per cluster / Docker host; only its token's hash is stored. `status` is the
 * connection as the bridge's hub sees it ("draining" = the bridge itself announced a shutdown,
 * cleared by its next hello); `draining` is the administrator's drain, kept until undone.
 */
export const bridges = pgTable(
  "bridges",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    platform: text("platform", { enum: PLATFORMS }).notNull(),
    region: text("region").notNull().default("default"),
    tokenHash: text("token_hash").notNull(),
    status: text("status", { enum: BRIDGE_STATUSES }).notNull().default("registered"),
    draining: boolean("draining").notNull().default(false),
    capacity: integer("capacity").notNull().default(0),
    version: text("version"),
    lastHeartbeatAt: timestamp("last_heartbeat_at", { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("bridges_token_hash_idx").on(t.tokenHash)],
);

export { DESKTOP_STATES };

export const desktopSessions = pgTable(
  "desktop_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    templateId: uuid("template_id").references(() => desktopTemplates.id, { onDelete: "set null" }),
    templateName: text("template_name").notNull(),
    bridgeId: uuid("bridge_id").references(() => bridges.id, { onDelete: "set null" }),
    platform: text("platform", { enum: PLATFORMS }),
    state: text("state", { enum: DESKTOP_STATES }).notNull().default("requested"),
    stateDetail: text("state_detail"),
    lastInputAt: timestamp("last_input_at", { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    stoppedAt: timestamp("stopped_at", { withTimezone: true }),
  },
  (t) => [
    index("desktop_sessions_user_idx").on(t.userId, t.state),
    index("desktop_sessions_bridge_idx").on(t.bridgeId, t.state),
    index("desktop_sessions_state_idx").on(t.state),
  ],
);

/**
 * View-only share links of a desktop session. The link's token is shown once; only its SHA-256
 * hash is kept. Only its recipients (desktop_share_recipients, fixed when the owner made the
 * link) may redeem it, and only while they still share a team with the owner: someone who joins
 * one of the owner's teams later is not let in without the owner's say.
 */
export const desktopShares = pgTable(
  "desktop_shares",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => desktopSessions.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull(),
    createdBy: uuid("created_by")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
  },
  (t) => [uniqueIndex("desktop_shares_token_hash_idx").on(t.tokenHash), index("desktop_shares_session_idx").on(t.sessionId)],
);

/** Who may redeem a share link: the teammates the owner named, or all of them at the link's creation. */
export const desktopShareRecipients = pgTable(
  "desktop_share_recipients",
  {
    shareId: uuid("share_id")
      .notNull()
      .references(() => desktopShares.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.shareId, t.userId] })],
);

export const COMMAND_STATUSES = ["pending", "sent", "ack", "completed", "failed"] as const;

/** Commands to bridges; the id is the idempotency key the bridge sees. */
export const bridgeCommands = pgTable(
  "bridge_commands",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    bridgeId: uuid("bridge_id")
      .notNull()
      .references(() => bridges.id, { onDelete: "cascade" }),
    sessionId: uuid("session_id").references(() => desktopSessions.id, { onDelete: "set null" }),
    action: text("action", { enum: ["start_session", "stop_session", "hibernate_session", "wake_session"] }).notNull(),
    status: text("status", { enum: COMMAND_STATUSES }).notNull().default("pending"),
    result: jsonb("result").$type<Record<string, unknown>>(),
    error: text("error"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index("bridge_commands_bridge_idx").on(t.bridgeId, t.status)],
);
