/**
 * Serves one embedded PGlite over the Postgres wire protocol to many local clients (the HTTP
 * stand-in's pool, the relay's WebSocket sessions, migrations). Owns session arbitration:
 * PGlite is ONE Postgres session, so a client keeps it from its first message until the backend
 * is idle again (ReadyForQuery 'I'). An extended-protocol batch (Parse/Bind/Execute/Sync) or an
 * open transaction is therefore never interleaved with another client's messages.
 *
 * Why not PGLiteSocketServer from @electric-sql/pglite-socket 0.2.17: it queues single protocol
 * messages and only keeps a client's turn during an explicit transaction, so two clients' Parse
 * and Bind messages interleave; with a few concurrent `pg` clients it returned other clients'
 * rows, "unnamed prepared statement does not exist" and hung.
 */
import { createServer, type Socket } from "node:net";
import type { PGlite } from "@electric-sql/pglite";

export type PgliteServerOptions = {
  db: PGlite;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Concurrent client connections; they share (and queue for) the one PGlite session. */
  maxConnections?: number;
  log?: (msg: string) => void;
};

export type PgliteServer = { host: string; port: number; close(): Promise<void> };

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
const MSG_QUERY = 0x51; // 'Q'
const MSG_SYNC = 0x53; // 'S'
const MSG_TERMINATE = 0x58; // 'X'
const MAX_MESSAGE = 256 * 1024 * 1024;
const WAIT_WARN_MS = 10_000;
const SYNC = Buffer.from([MSG_SYNC, 0, 0, 0, 4]);
const ROLLBACK = queryMessage("ROLLBACK");
const NOOP = () => {};

type Conn = {
  id: number;
  socket: Socket;
  /** Bytes not yet framed into whole messages, and how many the next message needs in all. */
  pending: Buffer[];
  buffered: number;
  need: number;
  started: boolean;
  /** Whole messages waiting for this client's turn; a startup packet is always alone. */
  ready: Buffer[];
  /** True once the last batch ended in ReadyForQuery 'I': nothing of this client is in flight. */
  idle: boolean;
  gone: boolean;
  waitTimer: NodeJS.Timeout | undefined;
};

export async function startPgliteServer(options: PgliteServerOptions): Promise<PgliteServer> {
  const { db } = options;
  const host = options.host ?? "127.0.0.1";
  const maxConnections = options.maxConnections ?? 100;
  const log = options.log ?? NOOP;
  const conns = new Set<Conn>();
  const waiting: Conn[] = [];
  let owner: Conn | null = null;
  let pumping: Promise<void> | null = null;
  let nextId = 1;

  await db.waitReady;

  const server = createServer({ noDelay: true }, (socket) => {
    socket.on("error", NOOP); // 'close' follows; a reset client is normal
    if (conns.size >= maxConnections) {
      socket.end(errorResponse("53300", "sorry, too many clients already (PGlite server limit)"));
      return;
    }
    const conn: Conn = {
      id: nextId++,
      socket,
      pending: [],
      buffered: 0,
      need: 0,
      started: false,
      ready: [],
      idle: true,
      gone: false,
      waitTimer: undefined,
    };
    conns.add(conn);
    socket.on("data", (chunk: Buffer) => onData(conn, chunk));
    socket.on("close", () => onGone(conn));
  });

  function onData(conn: Conn, chunk: Buffer): void {
    if (conn.gone) return;
    conn.pending.push(chunk);
    conn.buffered += chunk.length;
    // A large message arrives in many chunks: join them once, not once per chunk
    if (conn.buffered < conn.need) return;
    const buf = conn.pending.length === 1 ? chunk : Buffer.concat(conn.pending, conn.buffered);
    let off = 0;
    while (!conn.gone) {
      if (!conn.started) {
        if (buf.length - off < 8) break;
        const len = buf.readInt32BE(off);
        const code = buf.readInt32BE(off + 4);
        if (len < 8 || len > 10_000) {
          fail(conn, "invalid startup packet length");
          return;
        }
        if (buf.length - off < len) break;
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          conn.socket.write("N"); // no TLS locally; the client continues in clear text
        } else if (code === CANCEL_REQUEST) {
          conn.socket.destroy(); // PGlite cannot cancel a running statement
          return;
        } else if (code === PROTOCOL_3) {
          conn.ready.push(buf.subarray(off, off + len));
          conn.started = true;
        } else {
          fail(conn, `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}`);
          return;
        }
        off += len;
        continue;
      }
      if (buf.length - off < 5) break;
      const len = buf.readInt32BE(off + 1);
      if (len < 4 || len > MAX_MESSAGE) {
        fail(conn, "invalid message length");
        return;
      }
      if (buf.length - off < len + 1) break;
      if (buf[off] === MSG_TERMINATE) {
        // PGlite itself ignores 'X'; the client is done, give back the session
        conn.socket.end();
        onGone(conn);
        return;
      }
      conn.ready.push(buf.subarray(off, off + len + 1));
      off += len + 1;
    }
    const rest = buf.length - off;
    conn.pending = rest === 0 ? [] : [buf.subarray(off)];
    conn.buffered = rest;
    const need = !conn.started ? (rest >= 4 ? buf.readInt32BE(off) : 0) : rest >= 5 ? buf.readInt32BE(off + 1) + 1 : 0;
    conn.need = need > 0 && need <= MAX_MESSAGE ? need : 0; // a bogus length fails on the next parse
    if (conn.ready.length > 0) schedule(conn);
  }

  function fail(conn: Conn, message: string): void {
    log(`pglite-server: connection ${conn.id}: ${message}`);
    conn.socket.end(errorResponse("08P01", message));
    onGone(conn);
  }

  function onGone(conn: Conn): void {
    if (conn.gone) return;
    conn.gone = true;
    conns.delete(conn);
    conn.ready = [];
    clearTimeout(conn.waitTimer);
    const i = waiting.indexOf(conn);
    if (i >= 0) waiting.splice(i, 1);
    // The owner may have left mid-batch or mid-transaction: the pump cleans the session up
    if (owner === conn) pump();
  }

  function schedule(conn: Conn): void {
    if (owner === null) owner = conn;
    if (owner === conn) {
      pump();
    } else if (!waiting.includes(conn)) {
      waiting.push(conn);
      const holder = owner;
      conn.waitTimer = setTimeout(() => {
        log(
          `pglite-server: connection ${conn.id} has waited ${WAIT_WARN_MS / 1000}s for the PGlite ` +
            `session held by connection ${holder.id} (its open transaction or long statement blocks every other client)`,
        );
      }, WAIT_WARN_MS);
      conn.waitTimer.unref();
    }
  }

  function release(): void {
    owner = waiting.shift() ?? null;
    if (owner) clearTimeout(owner.waitTimer);
  }

  function pump(): void {
    if (pumping) return;
    pumping = drive()
      .catch((err: Error) => log(`pglite-server: ${err.message}`))
      .finally(() => {
        pumping = null;
        // drive() may have finished synchronously while a schedule() found `pumping` still set
        if (owner && (owner.gone || owner.ready.length > 0)) pump();
      });
  }

  async function drive(): Promise<void> {
    while (owner) {
      const conn = owner;
      if (conn.gone) {
        if (!conn.idle) await resetSession(conn);
        release();
      } else if (conn.ready.length > 0) {
        const batch = conn.ready;
        conn.ready = [];
        conn.idle = await execute(conn, batch);
        if (conn.idle) {
          release();
          // Fair turns: a client with more work queues behind the ones already waiting
          if (conn.ready.length > 0 && !conn.gone) schedule(conn);
        }
      } else {
        return; // the owner is mid-batch or in a transaction: keep the session for it
      }
    }
  }

  /** Runs a batch of this client's messages; true when the backend ended idle. */
  async function execute(conn: Conn, batch: Buffer[]): Promise<boolean> {
    // PGlite recognises a startup packet (first byte 0: the high byte of its length) only at
    // the start of a call, so it goes alone
    const startup = batch[0]?.[0] === 0 ? batch[0] : null;
    const rest = startup ? batch.slice(1) : batch;
    let tail = Buffer.alloc(0);
    const onRawData = (bytes: Uint8Array) => {
      // `bytes` is a view into PGlite's wasm memory: copy before the write is queued
      const copy = Buffer.from(bytes);
      tail = copy.length >= 6 ? copy : Buffer.concat([tail, copy]).subarray(-6);
      if (!conn.gone) conn.socket.write(copy);
    };
    conn.socket.cork();
    try {
      await db.runExclusive(async () => {
        if (startup) await db.execProtocolRawStream(startup, { onRawData });
        if (rest.length > 0) {
          const bytes = rest.length === 1 ? (rest[0] as Buffer) : Buffer.concat(rest);
          await db.execProtocolRawStream(bytes, { onRawData });
        }
      });
    } catch (err) {
      log(`pglite-server: connection ${conn.id}: PGlite failed: ${(err as Error).message}`);
      conn.socket.destroy();
      return false;
    } finally {
      conn.socket.uncork(); // one writev for the whole batch's output
    }
    const last = rest.length > 0 ? rest[rest.length - 1]?.[0] : MSG_SYNC;
    return (last === MSG_SYNC || last === MSG_QUERY) && isReadyIdle(tail);
  }

  /** After a client vanished mid-batch or mid-transaction: end the batch, roll back. */
  async function resetSession(conn: Conn): Promise<void> {
    try {
      await db.runExclusive(async () => {
        await db.execProtocolRawStream(SYNC, { onRawData: NOOP });
        if (db.isInTransaction()) {
          await db.execProtocolRawStream(ROLLBACK, { onRawData: NOOP });
          log(`pglite-server: rolled back the open transaction of closed connection ${conn.id}`);
        }
      });
    } catch (err) {
      log(`pglite-server: reset after connection ${conn.id} failed: ${(err as Error).message}`);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log(`pglite-server: ${err.message}`));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    host,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const conn of [...conns]) {
        conn.socket.destroy();
        onGone(conn);
      }
      while (pumping) await pumping; // lets an interrupted transaction roll back before PGlite closes
      await closed;
    },
  };
}

/** ReadyForQuery with transaction status 'I' (idle, not in a transaction block). */
function isReadyIdle(tail: Buffer): boolean {
  const n = tail.length;
  return (
    n >= 6 &&
    tail[n - 6] === 0x5a &&
    tail[n - 5] === 0 &&
    tail[n - 4] === 0 &&
    tail[n - 3] === 0 &&
    tail[n - 2] === 5 &&
    tail[n - 1] === 0x49
  );
}

function queryMessage(sql: string): Buffer {
  const text = Buffer.from(`${sql}\0`);
  const head = Buffer.alloc(5);
  head[0] = MSG_QUERY;
  head.writeInt32BE(text.length + 4, 1);
  return Buffer.concat([head, text]);
}

function errorResponse(code: string, message: string): Buffer {
  const body = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`);
  const head = Buffer.alloc(5);
  head[0] = 0x45; // 'E'
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
