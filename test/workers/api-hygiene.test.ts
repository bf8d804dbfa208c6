import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { Hono } from "hono";
import headersFile from "../../site/public/_headers?raw";
import { handleError } from "../../worker/app.ts";
import { getDb } from "../../worker/db/client.ts";
import type { AppEnv } from "../../worker/lib/router.ts";
import { loggableError } from "../../worker/lib/safe-log.ts";
import { API_CSP, SITE_CSP } from "../../worker/lib/security-headers.ts";
import worker from "../../worker/index.ts";
import { BASE, call, expectError, expectStatus, registerUser } from "./helpers.ts";

describe("API hygiene", () => {
  it("serves an OpenAPI 3.1 document describing the API, and interactive docs", async () => {
    const spec = await expectStatus(await call("GET", "/api/openapi.json"), 200);
    expect(spec.openapi).toBe("3.1.0");
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(["/api/v1/auth/login", "/api/v1/teams", "/api/v1/teams/{teamId}/agents/{agentId}", "/api/v1/admin/audit"]),
    );
    expect(spec.components.schemas.Error).toBeDefined();
    const docs = await call("GET", "/api/docs");
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("/api/openapi.json");
  });

  it("unknown API routes get the error shape with NOT_FOUND", async () => {
    await expectError(await call("GET", "/api/v1/nothing-here"), 404, "NOT_FOUND");
  });

  it("the site is served from assets with SPA fallback", async () => {
    const res = await env.ASSETS.fetch(new Request(`${BASE}/teams/some-team`));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<div id="root"');
  });

  it("every API answer carries the security headers and, unless a route says otherwise, Cache-Control: no-store", async () => {
    const user = await registerUser("hdr");
    const answers = [
      await call("GET", "/api/v1/teams", { token: user.accessToken }), // authenticated JSON
      await call("GET", "/api/v1/teams"), // 401
      await call("GET", "/api/v1/nothing-here"), // 404
      await call("POST", "/api/v1/teams", { token: user.accessToken, rawBody: "{", headers: { "Content-Type": "application/json" } }), // 400
      await call("GET", "/api/openapi.json"),
    ];
    for (const res of answers) {
      expect(res.headers.get("X-Content-Type-Options"), res.url).toBe("nosniff");
      expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
      expect(res.headers.get("X-Frame-Options")).toBe("DENY");
      expect(res.headers.get("Content-Security-Policy")).toBe(API_CSP);
      expect(res.headers.get("Cache-Control")).toBe("no-store");
      await res.body?.cancel();
    }
    expect(API_CSP).toContain("frame-ancestors 'none'");
    // The docs page runs Swagger UI (CDN + inline bootstrap): it may not be framed, nothing more.
    const docs = await call("GET", "/api/docs");
    expect(docs.headers.get("Content-Security-Policy")).toBe("frame-ancestors 'none'");
    expect(docs.headers.get("X-Content-Type-Options")).toBe("nosniff");
    await docs.body?.cancel();
  });

  it("the site's assets carry the site CSP from site/public/_headers", async () => {
    // The file the assets are served with states exactly SITE_CSP (what the README documents).
    const rules = headersFile.split("\n").map((l) => l.trim());
    expect(rules).toContain(`Content-Security-Policy: ${SITE_CSP}`);
    expect(rules).toContain("X-Content-Type-Options: nosniff");
    for (const directive of ["script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'self'"]) {
      expect(SITE_CSP).toContain(directive);
    }
    const res = await env.ASSETS.fetch(new Request(`${BASE}/teams/some-team`));
    expect(res.headers.get("Content-Security-Policy")).toBe(SITE_CSP);
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("X-Frame-Options")).toBe("DENY");
    await res.body?.cancel();
  });
});

describe("logged errors", () => {
  it("a failing query is logged with its text and SQLSTATE, never its parameters or the Postgres message quoting them", async () => {
    const secret = "pbkdf2-sha256$100000$not-for-logs";
    const failure = await getDb(env)
      .execute(sql`select ${secret}::int as n`)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(failure).toBeInstanceOf(Error);
    // drizzle's own message has the parameters: exactly what must not reach the logs.
    expect(String((failure as Error).message)).toContain(secret);
    expect(String((failure as Error).stack)).toContain(secret);
    const line = loggableError(failure);
    expect(line).not.toContain(secret);
    expect(line).not.toContain("not-for-logs");
    expect(line).toContain("query failed: select $1::int as n");
    expect(line).toContain("postgres error 22P02");
    expect(line).toMatch(/\n\s+at /); // still has its stack frames
    // Ordinary errors keep their message.
    expect(loggableError(new TypeError("x is not a function"))).toMatch(/^TypeError: x is not a function/);
  });

  it("the API's error handler logs a database failure without its parameters", async () => {
    const secret = "secret-param-for-the-handler";
    const logged: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => {
      logged.push(args.map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : String(a))).join(" "));
    };
    try {
      // A route whose query fails, behind the API's own error handler.
      const probe = new Hono<AppEnv>();
      probe.get("/q", async () => {
        await getDb(env).execute(sql`select ${secret}::int as n`);
        return new Response("unreachable");
      });
      probe.onError(handleError);
      const failed = await probe.request("/q", {}, env);
      expect(failed.status).toBe(500);
    } finally {
      console.error = original;
    }
    const line = logged.find((l) => l.startsWith("unhandled error"));
    expect(line).toBeDefined();
    expect(line).toContain("postgres error 22P02");
    expect(logged.join("\n")).not.toContain(secret);
  });
});

describe("single-user local mode (AUTH_ENABLED=false)", () => {
  async function localCall(method: string, path: string, body?: unknown) {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request(`${BASE}${path}`, {
        method,
        ...(body !== undefined && { body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }),
      }) as Request<unknown, IncomingRequestCfProperties>,
      { ...env, AUTH_ENABLED: "false" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    return res;
  }

  it("acts as one implicit local admin with no login", async () => {
    const config = await expectStatus(await localCall("GET", "/api/v1/auth/config"), 200);
    expect(config.authEnabled).toBe(false);
    const me = await expectStatus(await localCall("GET", "/api/v1/auth/me"), 200);
    expect(me.user).toMatchObject({ username: "local", isAdmin: true });
    const { team } = await expectStatus(await localCall("POST", "/api/v1/teams", { name: "Local lab" }), 201);
    const list = await expectStatus(await localCall("GET", "/api/v1/teams"), 200);
    expect(list.teams.map((t: { id: string }) => t.id)).toContain(team.id);
    await expectError(await localCall("POST", "/api/v1/auth/login", { login: "x", password: "y" }), 404, "AUTH_DISABLED");
  });
});
