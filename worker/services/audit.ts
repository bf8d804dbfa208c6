/**
 * The audit log: who did what to whom, from where, and when. Entries are built here and
 * written in the same batch as the change they describe where possible.
 */
import { auditLog } from "../../migrations/schema.ts";
import type { Db } from "../db/client.ts";

export type AuditAction =
  | "auth.register"
  | "auth.login.success"
  | "auth.login.failure"
  | "auth.login.rate_limited"
  | "auth.refresh.reuse_detected"
  | "auth.logout"
  | "auth.password.change"
  | "admin.user.deactivate"
  | "admin.user.reactivate"
  | "admin.user.grant_admin"
  | "admin.user.revoke_admin"
  | "team.create"
  | "team.update"
  | "team.delete"
  | "team.member.add"
  | "team.member.role_change"
  | "team.member.remove"
  | "team.member.leave"
  | "admin.desktop_template.create"
  | "admin.desktop_template.update"
  | "admin.desktop_template.delete"
  | "admin.desktop_settings.update"
  | "admin.meeting_settings.update"
  | "admin.desktop.stop"
  | "admin.image.create"
  | "admin.image.complete"
  | "admin.image.delete"
  | "admin.bridge.register"
  | "admin.bridge.deregister"
  | "admin.bridge.drain"
  | "admin.bridge.undrain"
  | "admin.bridge.rotate_token"
  | "desktop.share.create"
  | "desktop.share.revoke";

export interface AuditEntry {
  actorId: string | null;
  actorName: string | null;
  action: AuditAction;
  targetType?:
    | "user"
    | "team"
    | "member"
    | "agent"
    | "desktop_template"
    | "desktop_settings"
    | "meeting_settings"
    | "desktop"
    | "image"
    | "bridge"
    | "desktop_share"
    | null;
  targetId?: string | null;
  ip?: string | null;
  detail?: Record<string, unknown>;
}

/** The insert statement for an entry, to run alone or inside a batch. */
export function auditInsert(db: Db, entry: AuditEntry) {
  return db.insert(auditLog).values({
    actorId: entry.actorId,
    actorName: entry.actorName,
    action: entry.action,
    targetType: entry.targetType ?? null,
    targetId: entry.targetId ?? null,
    ip: entry.ip ?? null,
    detail: entry.detail ?? {},
  });
}

export async function recordAudit(db: Db, entry: AuditEntry): Promise<void> {
  await auditInsert(db, entry);
}
