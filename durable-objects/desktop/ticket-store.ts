/**
 * Viewer tickets of one desktop session, in its DO's SQLite: short-lived (TICKET_TTL_MS),
 * single-use, bound to the user (and a view-only flag, and the share link it came from). Only
 * SHA-256 hashes are stored; consuming deletes the row, so a ticket works at most once.
 */
import { randomToken, sha256Hex } from "../../worker/lib/bytes.ts";
import { TICKET_TTL_MS } from "./protocol.ts";

export interface TicketGrant {
  userId: string;
  viewOnly: boolean;
  /** the share link a teammate's ticket came from (its viewers close when it is revoked) */
  shareId: string | null;
}

interface Row extends Record<string, SqlStorageValue> {
  user_id: string;
  view_only: number;
  share_id: string | null;
  expires_at: number;
}

export class TicketStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(
      "CREATE TABLE IF NOT EXISTS tickets (hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, view_only INTEGER NOT NULL, share_id TEXT, expires_at INTEGER NOT NULL)",
    );
  }

  async issue(grant: TicketGrant, now = Date.now()): Promise<{ ticket: string; expiresAt: number }> {
    this.#sql.exec("DELETE FROM tickets WHERE expires_at <= ?", now);
    const ticket = `vtk_${randomToken(24)}`;
    const expiresAt = now + TICKET_TTL_MS;
    this.#sql.exec(
      "INSERT INTO tickets (hash, user_id, view_only, share_id, expires_at) VALUES (?, ?, ?, ?, ?)",
      await sha256Hex(ticket),
      grant.userId,
      grant.viewOnly ? 1 : 0,
      grant.shareId,
      expiresAt,
    );
    return { ticket, expiresAt };
  }

  /** The ticket's grant if it is valid now; the ticket is used up either way. */
  async consume(ticket: string, now = Date.now()): Promise<TicketGrant | undefined> {
    const hash = await sha256Hex(ticket);
    const row = this.#sql
      .exec<Row>("DELETE FROM tickets WHERE hash = ? RETURNING user_id, view_only, share_id, expires_at", hash)
      .toArray()[0];
    if (!row || row.expires_at <= now) return undefined;
    return { userId: row.user_id, viewOnly: row.view_only === 1, shareId: row.share_id };
  }
}
