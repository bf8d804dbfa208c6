/**
 * The BridgeHub's outstanding commands, in its SQLite storage: what to (re)deliver after a
 * reconnect, which answers are duplicates, and which results still have to reach their
 * session. A command's payload (it carries the session's data token) is kept only until the
 * command is finished. Finished commands stay a day so a late duplicate `complete` is recognised.
 */
import type { CommandAction } from "./protocol.ts";

export type CommandStatus = "pending" | "sent" | "ack" | "completed" | "failed";

export interface QueuedCommand {
  id: string;
  sessionId: string;
  action: CommandAction;
  payload: Record<string, unknown> | null;
  /** a VM template's image: its signed link is made fresh at every delivery */
  imageId: string | null;
  /** the public origin the link points at */
  origin: string | null;
  status: CommandStatus;
  /** a finished command's answer, until its session has it */
  outcome: CommandOutcome | null;
  forwarded: boolean;
  createdAt: number;
  updatedAt: number;
}

export type CommandOutcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: { code: string; message: string } };

interface Row extends Record<string, SqlStorageValue> {
  id: string;
  session_id: string;
  action: string;
  payload: string | null;
  image_id: string | null;
  origin: string | null;
  status: string;
  outcome: string | null;
  forwarded: number;
  created_at: number;
  updated_at: number;
}

const OUTSTANDING = "('pending', 'sent', 'ack')";

function fromRow(r: Row): QueuedCommand {
  return {
    id: r.id,
    sessionId: r.session_id,
    action: r.action as CommandAction,
    payload: r.payload === null ? null : (JSON.parse(r.payload) as Record<string, unknown>),
    imageId: r.image_id,
    origin: r.origin,
    status: r.status as CommandStatus,
    outcome: r.outcome === null ? null : (JSON.parse(r.outcome) as CommandOutcome),
    forwarded: r.forwarded === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface NewCommand {
  id: string;
  sessionId: string;
  action: CommandAction;
  payload: Record<string, unknown>;
  imageId: string | null;
  origin: string | null;
}

export class CommandQueue {
  readonly #sql: SqlStorage;
  // Insertion order breaks ties between commands created in the same millisecond.
  #seq = 0;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS commands (
      id TEXT PRIMARY KEY,
      session_id TEXT NOT NULL,
      action TEXT NOT NULL,
      payload TEXT,
      image_id TEXT,
      origin TEXT,
      status TEXT NOT NULL,
      outcome TEXT,
      forwarded INTEGER NOT NULL DEFAULT 1,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      seq INTEGER NOT NULL DEFAULT 0
    )`);
    this.#seq = this.#sql.exec<{ s: number | null }>("SELECT max(seq) AS s FROM commands").one().s ?? 0;
  }

  get(id: string): QueuedCommand | undefined {
    const row = this.#sql.exec<Row>("SELECT * FROM commands WHERE id = ?", id).toArray()[0];
    return row ? fromRow(row) : undefined;
  }

  /** Adds a command; an id seen before is left as it is (ids are idempotency keys). Returns whether it was new. */
  add(cmd: NewCommand, now: number): boolean {
    if (this.get(cmd.id)) return false;
    this.#seq += 1;
    this.#sql.exec(
      "INSERT INTO commands (id, session_id, action, payload, image_id, origin, status, forwarded, created_at, updated_at, seq) VALUES (?, ?, ?, ?, ?, ?, 'pending', 1, ?, ?, ?)",
      cmd.id,
      cmd.sessionId,
      cmd.action,
      JSON.stringify(cmd.payload),
      cmd.imageId,
      cmd.origin,
      now,
      now,
      this.#seq,
    );
    return true;
  }

  /** Commands not finished yet, oldest first: what a (re)connected bridge is sent. */
  outstanding(): QueuedCommand[] {
    return this.#sql.exec<Row>(`SELECT * FROM commands WHERE status IN ${OUTSTANDING} ORDER BY seq`).toArray().map(fromRow);
  }

  busySessions(): Set<string> {
    return new Set(
      this.#sql
        .exec<{ session_id: string }>(`SELECT DISTINCT session_id FROM commands WHERE status IN ${OUTSTANDING}`)
        .toArray()
        .map((r) => r.session_id),
    );
  }

  /** pending → sent; returns whether it changed. */
  markSent(id: string, now: number): boolean {
    return (
      this.#sql.exec("UPDATE commands SET status = 'sent', updated_at = ? WHERE id = ? AND status = 'pending'", now, id).rowsWritten > 0
    );
  }

  /** pending|sent → ack; returns whether it changed. */
  markAcked(id: string, now: number): boolean {
    return (
      this.#sql.exec("UPDATE commands SET status = 'ack', updated_at = ? WHERE id = ? AND status IN ('pending', 'sent')", now, id)
        .rowsWritten > 0
    );
  }

  /** Finishes an outstanding command; false for unknown and already finished ones (duplicates). */
  finish(id: string, outcome: CommandOutcome, now: number): boolean {
    return (
      this.#sql.exec(
        `UPDATE commands SET status = ?, outcome = ?, payload = NULL, forwarded = 0, updated_at = ? WHERE id = ? AND status IN ${OUTSTANDING}`,
        outcome.ok ? "completed" : "failed",
        JSON.stringify(outcome),
        now,
        id,
      ).rowsWritten > 0
    );
  }

  /** Finished commands whose session has not confirmed the result yet. */
  unforwarded(): QueuedCommand[] {
    return this.#sql.exec<Row>("SELECT * FROM commands WHERE forwarded = 0 ORDER BY seq").toArray().map(fromRow);
  }

  markForwarded(id: string): void {
    this.#sql.exec("UPDATE commands SET forwarded = 1, outcome = NULL WHERE id = ?", id);
  }

  /** Forgets finished commands older than `before`; returns how many are left. */
  prune(before: number): number {
    this.#sql.exec(`DELETE FROM commands WHERE status NOT IN ${OUTSTANDING} AND forwarded = 1 AND updated_at < ?`, before);
    return this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM commands").one().n;
  }
}
