/**
 * The lab-desktop API's shapes as the site sees them, mirrored by hand from the zod schemas in
 * worker/routes/desktops.ts, admin-desktops.ts, admin-bridges.ts and admin-images.ts (see
 * types.ts for why they are not imported). Timestamps are ISO 8601 strings.
 */
import type { DesktopState } from "../../../durable-objects/desktop/protocol.ts";

export type { DesktopState };

export const PLATFORMS = ["kubernetes", "docker", "local"] as const;
export type Platform = (typeof PLATFORMS)[number];

export const TEMPLATE_KINDS = ["container", "vm"] as const;
export type TemplateKind = (typeof TEMPLATE_KINDS)[number];

/** `DesktopTemplateSummary`: what users see in the gallery. */
export interface DesktopTemplateSummary {
  id: string;
  name: string;
  description: string;
  kind: TemplateKind;
  cpu: number;
  memoryMb: number;
  persistentHome: boolean;
  /** only administrators are shown it */
  adminOnly: boolean;
}

/** `DesktopSession`. */
export interface DesktopSession {
  id: string;
  userId: string;
  templateId: string | null;
  templateName: string;
  bridgeId: string | null;
  platform: Platform | null;
  state: DesktopState;
  stateDetail: string | null;
  lastInputAt: string | null;
  createdAt: string;
  updatedAt: string;
  stoppedAt: string | null;
}

export interface StartDesktopInput {
  templateId: string;
  platform?: Platform;
  region?: string;
}

/** `DesktopTicket`: a single-use viewer ticket (60 s) and where to open the socket with it. */
export interface DesktopTicket {
  ticket: string;
  expiresAt: string;
  viewOnly: boolean;
  wsPath: string;
}

/** The answer to redeeming a share link. */
export interface SharedDesktopTicket extends DesktopTicket {
  session: { id: string; templateName: string; state: DesktopState; ownerName: string };
}

/** `DesktopShare`. */
export interface DesktopShare {
  id: string;
  sessionId: string;
  /** who may redeem it (while still a teammate): fixed when the link was made */
  recipients: { id: string; displayName: string }[];
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

export interface CreatedShare {
  share: DesktopShare;
  /** shown once */
  token: string;
  /** `<origin>/desktops/shared#token=…` */
  link: string;
}

/** `DesktopTemplate` (admin view). */
export interface DesktopTemplate extends DesktopTemplateSummary {
  image: string;
  runtimeClass: string | null;
  env: Record<string, string>;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface DesktopTemplateInput {
  name: string;
  description: string;
  kind: TemplateKind;
  image: string;
  cpu: number;
  memoryMb: number;
  runtimeClass: string | null;
  env: Record<string, string>;
  persistentHome: boolean;
  enabled: boolean;
  /** only site administrators see and start it */
  adminOnly: boolean;
}

/** `DesktopSettings`. */
export interface DesktopSettings {
  maxConcurrentSessions: number;
  perUserSessionLimit: number;
  idleTimeoutMinutes: number;
}

/** An admin's row of the sessions list: a session and its owner's username. */
export interface AdminDesktopSession extends DesktopSession {
  username: string;
}

export interface AdminSessionQuery {
  bridgeId?: string;
  platform?: Platform;
  userId?: string;
  state?: DesktopState;
  limit?: number;
  offset?: number;
}

export const BRIDGE_STATUSES = ["registered", "online", "offline", "draining"] as const;
export type BridgeStatus = (typeof BRIDGE_STATUSES)[number];

/** `Bridge`. */
export interface Bridge {
  id: string;
  name: string;
  platform: Platform;
  region: string;
  status: BridgeStatus;
  /** drained by an administrator */
  draining: boolean;
  capacity: number;
  activeSessions: number;
  version: string | null;
  lastHeartbeatAt: string | null;
  heartbeatAgeSeconds: number | null;
  createdAt: string;
}

export interface BridgeQuery {
  platform?: Platform;
  status?: BridgeStatus;
  region?: string;
}

export interface BridgeInput {
  name: string;
  platform: Platform;
  region?: string;
}

export interface BridgeWithToken {
  bridge: Bridge;
  /** shown only in this answer */
  token: string;
}

/** `VmImage`. */
export interface VmImage {
  id: string;
  name: string;
  filename: string;
  format: string;
  sizeBytes: number;
  status: "uploading" | "ready";
  createdBy: string | null;
  createdAt: string;
  completedAt: string | null;
}

export interface VmImageUpload {
  image: VmImage;
  minPartBytes: number;
  maxPartBytes: number;
  maxParts: number;
}

/** `VmImagePart`. */
export interface VmImagePart {
  partNumber: number;
  etag: string;
  sizeBytes: number;
  uploadedAt: string;
}
