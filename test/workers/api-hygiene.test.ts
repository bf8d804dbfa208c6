import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index.ts";
import { BASE, call, expectError, expectStatus } from "./helpers.ts";

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
