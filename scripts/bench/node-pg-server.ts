/**
 * The baseline for the API read benchmark: a plain Node HTTP server answering
 * `GET /api/v1/teams` like the Worker does — the same JWT check (worker/lib/tokens.ts, jose
 * HS256), the same live-session lookup and the same SQL (built by drizzle from the same schema) — over one long-lived `pg`
 * Pool. Run as its own process: `node scripts/bench/node-pg-server.ts`.
 *
 * Environment: DATABASE_URL, JWT_SECRET, PORT, POOL_MAX (20). Prints "listening <port>".
 */
import http from "node:http";
import pg from "pg";
import { verifyAccessToken } from "../../worker/lib/tokens.ts";
import { LIVE_SESSION_CACHE_MS } from "../../worker/services/live-sessions.ts";
import { LIST_TEAMS_LIMIT, listTeamsSql } from "./teams-query.ts";

const databaseUrl = process.env.DATABASE_URL;
const secret = process.env.JWT_SECRET;
if (!databaseUrl || !secret) throw new Error("DATABASE_URL and JWT_SECRET are required");
const port = Number(process.env.PORT ?? 0);

const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.POOL_MAX ?? 20), idleTimeoutMillis: 0 });

type Row = [string, string, string, string | null, Date, Date, string];
const liveUntil = new Map<string, number>();

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}

const server = http.createServer((req, res) => {
  void (async () => {
    if (req.method !== "GET" || req.url !== "/api/v1/teams") return send(res, 404, { error: { code: "NOT_FOUND", message: "no route" } });
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    if (!token) return send(res, 401, { error: { code: "UNAUTHENTICATED", message: "Sign in to continue." } });
    let claims: { sub: string; fam: string };
    try {
      claims = await verifyAccessToken(secret, token);
    } catch {
      return send(res, 401, { error: { code: "INVALID_TOKEN", message: "The access token is not valid." } });
    }
    const userId = claims.sub;
    // The same live-session check as worker/services/live-sessions.ts: one primary-key join,
    // a positive answer remembered for LIVE_SESSION_CACHE_MS.
    const key = `${userId}|${claims.fam}`;
    if ((liveUntil.get(key) ?? 0) <= Date.now()) {
      const live = await pool.query(
        "select 1 from refresh_token_families f join users u on u.id = f.user_id where f.id = $1 and f.user_id = $2 and f.revoked_at is null and u.is_active limit 1",
        [claims.fam, userId],
      );
      if (live.rowCount === 0)
        return send(res, 401, { error: { code: "SESSION_REVOKED", message: "This session has ended. Sign in again." } });
      liveUntil.set(key, Date.now() + LIVE_SESSION_CACHE_MS);
    }
    const result = await pool.query<Row>({ text: listTeamsSql, values: [userId, LIST_TEAMS_LIMIT], rowMode: "array" });
    send(res, 200, {
      teams: result.rows.map((r) => ({
        id: r[0],
        name: r[1],
        description: r[2],
        role: r[6],
        createdAt: r[4].toISOString(),
        updatedAt: r[5].toISOString(),
      })),
    });
  })().catch((e: unknown) => {
    console.error("node-pg-server:", e);
    if (!res.headersSent) send(res, 500, { error: { code: "INTERNAL", message: "Something went wrong on our side." } });
  });
});
server.keepAliveTimeout = 60_000;

// Open the pool's connections up front, as a long-running server would have them.
await Promise.all(Array.from({ length: Number(process.env.POOL_MAX ?? 20) }, () => pool.connect())).then((clients) => {
  for (const c of clients) c.release();
});
server.listen(port, "127.0.0.1", () => {
  const addr = server.address();
  console.log(`listening ${typeof addr === "object" && addr ? addr.port : port}`);
});

const shutdown = () => {
  server.close();
  server.closeAllConnections();
  void pool.end().finally(() => process.exit(0));
};
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
