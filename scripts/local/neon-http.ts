/**
 * Local stand-in for Neon's SQL-over-HTTP endpoint: what `neon()` from @neondatabase/serverless
 * 1.2.0 POSTs to (`neonConfig.fetchEndpoint`). Production calls Neon directly; this gives local
 * runs, tests and the benchmark the same code path over a local Postgres (or PGlite).
 *
 * Owns the HTTP protocol and the `pg` pools behind it:
 * - POST /sql, body {query, params} or {queries: [{query, params}, ...]} (a batch is one
 *   transaction, honouring Neon-Batch-Isolation-Level / -Read-Only / -Deferrable, rolled back on
 *   any error);
 * - headers: Neon-Connection-String picks the database (one lazily created pool per distinct
 *   string), Neon-Array-Mode: true gives rows as arrays (objects otherwise);
 * - values always come back as Postgres text (what the driver asks for with
 *   Neon-Raw-Text-Output: true, and parses itself), NULL as null, with `fields` as Neon sends them;
 * - a Postgres error is HTTP 400 with the fields the driver copies onto NeonDbError (code = SQLSTATE).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { DatabaseError, Pool, type PoolClient, type QueryResult } from "pg";

export type NeonHttpOptions = {
  /** 0 or absent picks a free port. */
  port?: number;
  host?: string;
  /** Which Neon-Connection-String values may be used; default: loopback hosts only. */
  allow?: (connectionString: string) => boolean;
  /** Pool size per connection string (default 10). */
  maxConnections?: number;
  log?: (msg: string) => void;
};

export type NeonHttp = { port: number; url: string; close(): Promise<void> };

type Statement = { query: string; params?: unknown[] };

/** The NeonDbError fields, copied from pg's DatabaseError (same names). */
const ERROR_FIELDS = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

const ISOLATION: Record<string, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};

// Identity parsers for these pools only: the driver parses the text itself, like with Neon
const identity = (value: string) => value;
const RAW_TEXT = { getTypeParser: () => identity };
const MAX_BODY = 64 * 1024 * 1024;
const NOOP = () => {};

class HttpError extends Error {
  status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export async function startNeonHttp(options: NeonHttpOptions = {}): Promise<NeonHttp> {
  const host = options.host ?? "127.0.0.1";
  const allow = options.allow ?? isLoopback;
  const maxConnections = options.maxConnections ?? 10;
  const log = options.log ?? NOOP;
  const pools = new Map<string, Pool>();

  function poolFor(connectionString: string): Pool {
    let pool = pools.get(connectionString);
    if (!pool) {
      pool = new Pool({
        connectionString,
        max: maxConnections,
        types: RAW_TEXT,
        idleTimeoutMillis: 0, // long-lived: a new backend per request is the cost we avoid
        connectionTimeoutMillis: 10_000,
        keepAlive: true,
      });
      // An idle connection dropped by the server (restart, DROP DATABASE) must not crash us
      pool.on("error", (err) => log(`neon-http: idle connection error: ${err.message}`));
      pools.set(connectionString, pool);
    }
    return pool;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? "";
    if (path !== "/sql" && !path.startsWith("/sql?")) throw new HttpError(404, "not found: use POST /sql");
    if (req.method !== "POST") throw new HttpError(405, "method not allowed: use POST /sql");
    const connectionString = req.headers["neon-connection-string"];
    if (typeof connectionString !== "string" || connectionString === "") {
      throw new HttpError(400, "missing Neon-Connection-String header");
    }
    if (!allow(connectionString)) throw new HttpError(403, "this connection string is not allowed here");

    const body = await readBody(req);
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      throw new HttpError(400, "request body is not valid JSON");
    }
    const arrayMode = req.headers["neon-array-mode"] === "true";
    const pool = poolFor(connectionString);

    if (isObject(payload) && Array.isArray(payload.queries)) {
      const statements = payload.queries.map(statementOf);
      const begin = beginStatement(req);
      const results = await runBatch(pool, begin, statements, arrayMode);
      sendJson(res, 200, `{"results":[${results.join(",")}]}`);
    } else {
      const statement = statementOf(payload);
      const result = await pool.query(queryConfig(statement, arrayMode));
      sendJson(res, 200, resultJson(result, arrayMode));
    }
  }

  const server = createServer({ keepAliveTimeout: 60_000, noDelay: true }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return res.destroy();
      if (err instanceof HttpError) return sendJson(res, err.status, JSON.stringify({ message: err.message }));
      sendJson(res, 400, errorJson(err));
    });
  });
  server.headersTimeout = 65_000; // must exceed keepAliveTimeout for clean keep-alive reuse

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log(`neon-http: ${err.message}`));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/sql`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      const all = [...pools.values()];
      pools.clear();
      await Promise.all(all.map((pool) => pool.end().catch(NOOP)));
    },
  };
}

async function runBatch(pool: Pool, begin: string, statements: Statement[], arrayMode: boolean): Promise<string[]> {
  const client: PoolClient = await pool.connect();
  let broken = false;
  try {
    await client.query(begin);
    const results: string[] = [];
    try {
      for (const statement of statements) {
        results.push(resultJson(await client.query(queryConfig(statement, arrayMode)), arrayMode));
      }
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {
        broken = true; // don't hand a connection in an unknown state to the next request
      });
      throw err;
    }
    return results;
  } finally {
    client.release(broken);
  }
}

function beginStatement(req: IncomingMessage): string {
  let begin = "BEGIN";
  const isolation = req.headers["neon-batch-isolation-level"];
  if (typeof isolation === "string") {
    const level = ISOLATION[isolation];
    if (!level) throw new HttpError(400, `invalid Neon-Batch-Isolation-Level: ${isolation}`);
    begin += ` ISOLATION LEVEL ${level}`;
  }
  const readOnly = flag(req, "neon-batch-read-only");
  if (readOnly !== undefined) begin += readOnly ? " READ ONLY" : " READ WRITE";
  const deferrable = flag(req, "neon-batch-deferrable");
  if (deferrable !== undefined) begin += deferrable ? " DEFERRABLE" : " NOT DEFERRABLE";
  return begin;
}

function flag(req: IncomingMessage, name: string): boolean | undefined {
  const value = req.headers[name];
  if (value === undefined) return undefined;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new HttpError(400, `invalid ${name} header: expected true or false`);
}

function statementOf(value: unknown): Statement {
  if (!isObject(value) || typeof value.query !== "string") {
    throw new HttpError(400, 'expected {"query": string, "params": [...]} or {"queries": [...]}');
  }
  if (value.params !== undefined && value.params !== null && !Array.isArray(value.params)) {
    throw new HttpError(400, "params must be an array");
  }
  return { query: value.query, params: (value.params as unknown[] | null | undefined) ?? [] };
}

function queryConfig(statement: Statement, arrayMode: boolean) {
  return {
    text: statement.query,
    values: statement.params,
    // Neon runs every statement with the extended protocol (so one statement per query, like Neon)
    queryMode: "extended" as const,
    ...(arrayMode ? { rowMode: "array" as const } : {}),
  };
}

function resultJson(result: QueryResult, arrayMode: boolean): string {
  return JSON.stringify({
    fields: result.fields,
    command: result.command,
    rowCount: result.rowCount,
    rows: result.rows,
    rowAsArray: arrayMode,
  });
}

function errorJson(err: unknown): string {
  if (err instanceof DatabaseError) {
    const body: Record<string, unknown> = { message: err.message };
    for (const field of ERROR_FIELDS) if (err[field] !== undefined) body[field] = err[field];
    return JSON.stringify(body);
  }
  // Not from Postgres (e.g. it is unreachable): still a 400 so the driver raises a NeonDbError
  const message = err instanceof Error ? err.message : String(err);
  return JSON.stringify({ message: `Error connecting to database: ${message}` });
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, "request body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** Default allow-list: databases on this machine only. */
export function isLoopback(connectionString: string): boolean {
  try {
    const host = new URL(connectionString).hostname;
    return host === "127.0.0.1" || host === "localhost" || host === "[::1]" || host === "::1";
  } catch {
    return false;
  }
}
