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
  /**
   * whether opening a hibernated desktop with this ticket wakes it: yes when someone opens the
   * viewer, no for a viewer's automatic reconnect (or a desktop the idle reaper just hibernated
   * would wake again at once) and for share links (a teammate does not spend the owner's quota)
   */
  wake: boolean;
}

interface Row extends Record<string, SqlStorageValue> {
  user_id: string;
  view_only: number;
  share_id: string | null;
  wake: number;
  expires_at: number;
}

export class TicketStore {
  readonly #sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(
      "CREATE TABLE IF NOT EXISTS tickets (hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, view_only INTEGER NOT NULL, share_id TEXT, expires_at INTEGER NOT NULL)",
    );
    sql.exec("CREATE TABLE IF NOT EXISTS revoked_shares (share_id TEXT PRIMARY KEY)");
    // Objects created before tickets carried `wake` get the column (their tickets woke desktops).
    if (
      !sql
        .exec<{ name: string }>("PRAGMA table_info(tickets)")
        .toArray()
        .some((c) => c.name === "wake")
    ) {
      sql.exec("ALTER TABLE tickets ADD COLUMN wake INTEGER NOT NULL DEFAULT 1");
    }
  }

  /**
   * A share link was revoked: its unused tickets die now, and no ticket is issued or accepted for
   * it again (also not one whose request read the share before the revocation landed).
   */
  revokeShare(shareId: string): void {
    this.#sql.exec("INSERT OR IGNORE INTO revoked_shares (share_id) VALUES (?)", shareId);
    this.#sql.exec("DELETE FROM tickets WHERE share_id = ?", shareId);
  }

  /** Whether `shareId` (null: no share link) was revoked. */
  isRevoked(shareId: string | null): boolean {
    return this.#revoked(shareId);
  }

  #revoked(shareId: string | null): boolean {
    return shareId !== null && this.#sql.exec("SELECT 1 FROM revoked_shares WHERE share_id = ?", shareId).toArray().length > 0;
  }

  /** A ticket for `grant`, or undefined when it comes from a revoked share link. */
  async issue(grant: TicketGrant, now = Date.now()): Promise<{ ticket: string; expiresAt: number } | undefined> {
    if (this.#revoked(grant.shareId)) return undefined;
    this.#sql.exec("DELETE FROM tickets WHERE expires_at <= ?", now);
    const ticket = `vtk_${randomToken(24)}`;
    const expiresAt = now + TICKET_TTL_MS;
    this.#sql.exec(
      "INSERT INTO tickets (hash, user_id, view_only, share_id, wake, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      await sha256Hex(ticket),
      grant.userId,
      grant.viewOnly ? 1 : 0,
      grant.shareId,
      grant.wake ? 1 : 0,
      expiresAt,
    );
    return { ticket, expiresAt };
  }

  /** The ticket's grant if it is valid now; the ticket is used up either way. */
  async consume(ticket: string, now = Date.now()): Promise<TicketGrant | undefined> {
    const hash = await sha256Hex(ticket);
    const row = this.#sql
      .exec<Row>("DELETE FROM tickets WHERE hash = ? RETURNING user_id, view_only, share_id, wake, expires_at", hash)
      .toArray()[0];
    if (!row || row.expires_at <= now || this.#revoked(row.share_id)) return undefined;
    return { userId: row.user_id, viewOnly: row.view_only === 1, shareId: row.share_id, wake: row.wake === 1 };
  }
}
