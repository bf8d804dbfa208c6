/**
 * The room's append-only event log in the Durable Object's SQLite storage. `seq` only ever
 * grows, also across eviction and restarts; trimming keeps the newest `maxEvents`.
 * Frames are stored already serialized: replay sends them as they are.
 */

export interface StoredEvent {
  seq: number;
  frame: string;
}

export class EventLog {
  readonly #sql: SqlStorage;
  readonly #maxEvents: number;
  #lastSeq: number;

  constructor(sql: SqlStorage, maxEvents: number) {
    this.#sql = sql;
    this.#maxEvents = maxEvents;
    sql.exec(`CREATE TABLE IF NOT EXISTS room_events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      type TEXT NOT NULL,
      at INTEGER NOT NULL,
      frame TEXT NOT NULL
    )`);
    sql.exec("CREATE INDEX IF NOT EXISTS room_events_type_seq ON room_events (type, seq)");
    this.#lastSeq = sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM room_events").one().seq ?? 0;
  }

  /** Appends an event and returns its frame (with `seq` and `at`). */
  append(type: string, data: Record<string, unknown>, at = Date.now()): { seq: number; frame: string } {
    // A Durable Object runs one event at a time, so the cached counter cannot race.
    const seq = this.#lastSeq + 1;
    const frame = JSON.stringify({ ...data, seq, type, at });
    this.#sql.exec("INSERT INTO room_events (seq, type, at, frame) VALUES (?, ?, ?, ?)", seq, type, at, frame);
    this.#lastSeq = seq;
    if (this.#maxEvents > 0 && seq % 64 === 0) this.#trim(seq);
    return { seq, frame };
  }

  #trim(lastSeq: number): void {
    this.#sql.exec("DELETE FROM room_events WHERE seq <= ?", lastSeq - this.#maxEvents);
  }

  /** Events after `since`, oldest first. */
  after(since: number, batch = 500): Generator<StoredEvent> {
    return this.#rows(since, batch);
  }

  /**
   * A compact replay for a client that starts from nothing: every event, except those of a type in
   * `supersededBy` that are older than the newest event of the type it maps to (e.g. the `token`
   * deltas of turns whose final `message` is in the log, every `presence` but the last). The
   * result is what a full replay would leave the client with, in far fewer frames.
   */
  *compacted(supersededBy: Readonly<Record<string, string>>, batch = 500): Generator<StoredEvent> {
    const cutoffs = new Map<string, number>();
    for (const [type, by] of Object.entries(supersededBy)) {
      const row = this.#sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM room_events WHERE type = ?", by).one();
      cutoffs.set(type, row.seq ?? 0);
    }
    for (const event of this.#rows(0, batch)) {
      const cutoff = cutoffs.get(event.type);
      if (cutoff !== undefined && event.seq < cutoff) continue;
      yield { seq: event.seq, frame: event.frame };
    }
  }

  /**
   * Deletes from storage what `compacted` would skip (superseded deltas and presence), so a
   * long-lived room's log stays bounded. A reconnect with `since` then gets the superseding
   * event instead of the deleted ones, which leaves the client in the same state.
   */
  compact(supersededBy: Readonly<Record<string, string>>): void {
    for (const [type, by] of Object.entries(supersededBy)) {
      this.#sql.exec(
        "DELETE FROM room_events WHERE type = ? AND seq < (SELECT coalesce(max(seq), 0) FROM room_events WHERE type = ?)",
        type,
        by,
      );
    }
  }

  /** How many events the log holds. */
  size(): number {
    return this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM room_events").one().n;
  }

  *#rows(since: number, batch: number): Generator<StoredEvent & { type: string }> {
    let cursor = since;
    for (;;) {
      const rows = this.#sql
        .exec<{ seq: number; type: string; frame: string }>(
          "SELECT seq, type, frame FROM room_events WHERE seq > ? ORDER BY seq LIMIT ?",
          cursor,
          batch,
        )
        .toArray();
      for (const r of rows) yield r;
      if (rows.length < batch) return;
      cursor = rows[rows.length - 1]?.seq ?? cursor;
    }
  }

  lastSeq(): number {
    return this.#lastSeq;
  }
}
