/**
 * Property-based bad input: whatever JSON (or non-JSON) arrives at any body, query or path,
 * the answer is never a 500, and every error uses the one error shape with a stable code.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTemplate, GENEROUS_SETTINGS, putSettings, runningSession, TestBridge, upgrade } from "./desktop-helpers.ts";
import { addMember, call, createTeam, expectStatus, freshIp, makeAdmin, registerUser, sampleAgent, type TestUser } from "./helpers.ts";

interface Target {
  method: string;
  path: () => string;
  token: () => string | undefined;
  /** a valid body, used to build near-misses (one field replaced by garbage) */
  valid: Record<string, unknown>;
}

let owner: TestUser;
let admin: TestUser;
let member: TestUser;
let teamId: string;
let agentId: string;
let templateId: string;
let sessionId: string;

const targets: Record<string, Target> = {
  register: {
    method: "POST",
    path: () => "/api/v1/auth/register",
    token: () => undefined,
    valid: { username: "fuzzuser", email: "f@example.test", password: "long enough password" },
  },
  login: { method: "POST", path: () => "/api/v1/auth/login", token: () => undefined, valid: { login: "someone", password: "pw" } },
  refresh: { method: "POST", path: () => "/api/v1/auth/refresh", token: () => undefined, valid: { refreshToken: "rt_x" } },
  logout: { method: "POST", path: () => "/api/v1/auth/logout", token: () => undefined, valid: { refreshToken: "rt_x" } },
  password: {
    method: "POST",
    path: () => "/api/v1/auth/password",
    token: () => owner.accessToken,
    valid: { currentPassword: "nope-not-it", newPassword: "another long password" },
  },
  createTeam: { method: "POST", path: () => "/api/v1/teams", token: () => owner.accessToken, valid: { name: "t", description: "d" } },
  updateTeam: { method: "PATCH", path: () => `/api/v1/teams/${teamId}`, token: () => owner.accessToken, valid: { name: "renamed" } },
  addMember: {
    method: "POST",
    path: () => `/api/v1/teams/${teamId}/members`,
    token: () => owner.accessToken,
    valid: { user: "nobody", role: "viewer" },
  },
  changeRole: {
    method: "PATCH",
    path: () => `/api/v1/teams/${teamId}/members/${member.id}`,
    token: () => owner.accessToken,
    valid: { role: "viewer" },
  },
  createAgent: { method: "POST", path: () => `/api/v1/teams/${teamId}/agents`, token: () => owner.accessToken, valid: sampleAgent },
  updateAgent: {
    method: "PATCH",
    path: () => `/api/v1/teams/${teamId}/agents/${agentId}`,
    token: () => owner.accessToken,
    valid: { goal: "g" },
  },
  updateUser: {
    method: "PATCH",
    path: () => `/api/v1/admin/users/${member.id}`,
    token: () => admin.accessToken,
    valid: { isActive: true },
  },
  createTemplate: {
    method: "POST",
    path: () => "/api/v1/admin/desktop-templates",
    token: () => admin.accessToken,
    valid: {
      name: "fuzz",
      description: "d",
      kind: "container",
      image: "ghcr.io/lab/x:1",
      cpu: 1,
      memoryMb: 1024,
      runtimeClass: null,
      env: { A: "b" },
      persistentHome: false,
      enabled: false,
    },
  },
  updateTemplate: {
    method: "PATCH",
    path: () => `/api/v1/admin/desktop-templates/${templateId}`,
    token: () => admin.accessToken,
    valid: { description: "d", kind: "container", image: "a/b" },
  },
  desktopSettings: {
    method: "PUT",
    path: () => "/api/v1/admin/desktop-settings",
    token: () => admin.accessToken,
    valid: { ...GENEROUS_SETTINGS },
  },
  registerBridge: {
    method: "POST",
    path: () => "/api/v1/admin/bridges",
    token: () => admin.accessToken,
    valid: { name: "fuzz", platform: "docker", region: "fuzz" },
  },
  createImage: {
    method: "POST",
    path: () => "/api/v1/admin/images",
    token: () => admin.accessToken,
    valid: { name: "fuzz", filename: "fuzz.qcow2" },
  },
  startDesktop: {
    method: "POST",
    path: () => "/api/v1/desktops",
    token: () => owner.accessToken,
    valid: { templateId: "00000000-0000-4000-8000-000000000000", platform: "docker", region: "nowhere" },
  },
  desktopTicket: {
    method: "POST",
    path: () => `/api/v1/desktops/${sessionId}/ticket`,
    token: () => owner.accessToken,
    valid: { viewOnly: true },
  },
  createShare: {
    method: "POST",
    path: () => `/api/v1/desktops/${sessionId}/shares`,
    token: () => owner.accessToken,
    valid: { userId: "00000000-0000-4000-8000-0000000000aa", expiresInHours: 2 },
  },
  redeemShare: {
    method: "POST",
    path: () => "/api/v1/desktop-shares/ticket",
    token: () => member.accessToken,
    valid: { token: "dsh_nothing" },
  },
};

async function assertNoServerError(res: Response): Promise<void> {
  const text = await res.text();
  expect(res.status, text).toBeLessThan(500);
  if (res.status >= 400) {
    const body = JSON.parse(text) as { error: { code: string; message: string } };
    expect(body.error.code).toMatch(/^[A-Z_]+$/);
    expect(body.error.message.length).toBeGreaterThan(0);
  }
}

describe("bad input never yields a 500", () => {
  beforeAll(async () => {
    owner = await registerUser("fz");
    member = await registerUser("fzm");
    admin = await makeAdmin(await registerUser("fza"));
    teamId = (await createTeam(owner)).id;
    await addMember(owner, teamId, member, "viewer");
    agentId = (
      await expectStatus<{ agent: { id: string } }>(
        await call("POST", `/api/v1/teams/${teamId}/agents`, { token: owner.accessToken, body: sampleAgent }),
        201,
      )
    ).agent.id;
    await putSettings(admin, GENEROUS_SETTINGS);
    templateId = (await createTemplate(admin)).id;
    const bridge = await TestBridge.online(admin);
    bridge.autopilot();
    sessionId = (await runningSession(owner, templateId, bridge)).id;
  });

  // The settings fuzz may leave any valid quota behind.
  afterAll(async () => {
    await putSettings(admin, GENEROUS_SETTINGS);
  });

  for (const [name, t] of Object.entries(targets)) {
    it(`${name}: arbitrary JSON bodies`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.jsonValue(), async (value) => {
          await assertNoServerError(await call(t.method, t.path(), { token: t.token(), body: value, ip: freshIp() }));
        }),
        { numRuns: 25 },
      );
    });

    it(`${name}: valid bodies with one field replaced by garbage`, async () => {
      const keys = Object.keys(t.valid);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...keys),
          fc.oneof(fc.jsonValue(), fc.string({ maxLength: 5000 }), fc.integer(), fc.constant(null)),
          async (key, garbage) => {
            await assertNoServerError(
              await call(t.method, t.path(), { token: t.token(), body: { ...t.valid, [key]: garbage }, ip: freshIp() }),
            );
          },
        ),
        { numRuns: 25 },
      );
    });
  }

  // Postgres refuses NUL in text and jsonb, and an unpaired surrogate has no UTF-8 form: every text
  // field of every route is refused with VALIDATION_FAILED at the edge (one check, not per field).
  describe("text with a NUL or an unpaired surrogate is refused with VALIDATION_FAILED", () => {
    const malformed = fc
      .tuple(fc.string({ maxLength: 30 }), fc.constantFrom("\u0000", "\uD800", "\uDBFF", "\uDC00", "\uDFFF"), fc.string({ maxLength: 30 }))
      .map(([a, bad, b]) => `${a}${bad}${b}`);
    const nul = fc.tuple(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 })).map(([a, b]) => `${a}\u0000${b}`);

    async function expectRefused(res: Response): Promise<void> {
      const text = await res.text();
      expect(res.status, text).toBe(400);
      expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe("VALIDATION_FAILED");
    }

    /** `value` with the string at `path` (dot-separated; a `{key}` segment renames that key) replaced by `bad`. */
    function withText(value: Record<string, unknown>, path: string, bad: string): Record<string, unknown> {
      const copy = structuredClone(value) as Record<string, any>;
      const keys = path.split(".");
      let node: any = copy;
      for (const k of keys.slice(0, -1)) node = node[k];
      const last = keys[keys.length - 1] as string;
      if (last === "{key}") node[bad] = "value";
      else node[last] = bad;
      return copy;
    }

    const meetingBody = () => ({
      type: "individual",
      agenda: "Design binders",
      agendaQuestions: ["Which scaffold?"],
      agendaRules: ["Be brief"],
      contexts: ["Earlier results"],
      rounds: 1,
      memberAgentId: agentId,
    });
    const fields: {
      name: string;
      method: string;
      path: () => string;
      token: () => string | undefined;
      body: () => Record<string, unknown>;
      texts: string[];
    }[] = [
      { name: "register", ...pick("register"), texts: ["username", "email", "password"] },
      { name: "login", ...pick("login"), texts: ["login", "password"] },
      { name: "createTeam", ...pick("createTeam"), texts: ["name", "description"] },
      { name: "updateTeam", ...pick("updateTeam"), texts: ["name"] },
      { name: "addMember", ...pick("addMember"), texts: ["user"] },
      { name: "createAgent", ...pick("createAgent"), texts: ["title", "expertise", "goal", "role", "model"] },
      { name: "updateAgent", ...pick("updateAgent"), texts: ["goal"] },
      {
        name: "createMeeting",
        method: "POST",
        path: () => `/api/v1/teams/${teamId}/meetings`,
        token: () => owner.accessToken,
        body: meetingBody,
        texts: ["agenda", "agendaQuestions.0", "agendaRules.0", "contexts.0", "memberAgentId"],
      },
      { name: "createTemplate", ...pick("createTemplate"), texts: ["name", "description", "image", "env.A", "env.{key}"] },
      { name: "registerBridge", ...pick("registerBridge"), texts: ["name", "region"] },
      { name: "createImage", ...pick("createImage"), texts: ["name", "filename"] },
    ];
    function pick(key: string) {
      const t = targets[key] as Target;
      return { method: t.method, path: t.path, token: t.token, body: () => t.valid };
    }

    for (const f of fields) {
      it(`${f.name}: ${f.texts.join(", ")}`, async () => {
        await fc.assert(
          fc.asyncProperty(fc.constantFrom(...f.texts), malformed, async (field, bad) => {
            await expectRefused(await call(f.method, f.path(), { token: f.token(), body: withText(f.body(), field, bad), ip: freshIp() }));
          }),
          { numRuns: 20 },
        );
      });
    }

    it("query strings and path parameters", async () => {
      await fc.assert(
        fc.asyncProperty(nul, async (bad) => {
          const q = encodeURIComponent(bad);
          await expectRefused(await call("GET", `/api/v1/admin/users?q=${q}`, { token: admin.accessToken }));
          await expectRefused(await call("GET", `/api/v1/admin/audit?action=${q}`, { token: admin.accessToken }));
          await expectRefused(await call("GET", `/api/v1/teams/${teamId}/meetings?${q}=1`, { token: owner.accessToken }));
          await expectRefused(await call("GET", `/api/v1/teams/${q}`, { token: owner.accessToken }));
          await expectRefused(
            await call("PATCH", `/api/v1/teams/${teamId}/agents/${q}`, { token: owner.accessToken, body: { goal: "g" } }),
          );
          await expectRefused(await upgrade(`/api/v1/meetings/${q}/ws`));
        }),
        { numRuns: 15 },
      );
    });
  });

  it("malformed JSON, wrong content types and oversized bodies get clear 4xx codes", async () => {
    const res = await call("POST", "/api/v1/teams", {
      token: owner.accessToken,
      rawBody: "{not json",
      headers: { "Content-Type": "application/json" },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("INVALID_JSON");
    const form = await call("POST", "/api/v1/teams", {
      token: owner.accessToken,
      rawBody: "name=x",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBeGreaterThanOrEqual(400);
    expect(form.status).toBeLessThan(500);
    const big = await call("POST", "/api/v1/teams", { token: owner.accessToken, body: { name: "x", description: "y".repeat(100_000) } });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("arbitrary path ids and query strings", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), async (id, q) => {
        const seg = encodeURIComponent(id) || "x";
        for (const path of [`/api/v1/teams/${seg}`, `/api/v1/teams/${teamId}/agents/${seg}`, `/api/v1/teams/${seg}/members`]) {
          await assertNoServerError(await call("GET", path, { token: owner.accessToken }));
        }
        const query = new URLSearchParams({ q, limit: q, offset: q, status: q }).toString();
        await assertNoServerError(await call("GET", `/api/v1/admin/users?${query}`, { token: admin.accessToken }));
        const audit = new URLSearchParams({ action: q, actor: q, from: q, before: q, limit: q }).toString();
        await assertNoServerError(await call("GET", `/api/v1/admin/audit?${audit}`, { token: admin.accessToken }));
        for (const path of [`/api/v1/desktops/${seg}`, `/api/v1/desktops/${seg}/shares`, `/api/v1/admin/images/${seg}/parts`]) {
          await assertNoServerError(await call("GET", path, { token: owner.accessToken }));
          await assertNoServerError(await call("GET", path, { token: admin.accessToken }));
        }
        await assertNoServerError(await call("POST", `/api/v1/desktops/${seg}/wake`, { token: owner.accessToken }));
        await assertNoServerError(
          await call("PATCH", `/api/v1/admin/desktop-templates/${seg}`, { token: admin.accessToken, body: { enabled: true } }),
        );
        const sessions = new URLSearchParams({ bridgeId: q, platform: q, userId: q, state: q, limit: q, offset: q }).toString();
        await assertNoServerError(await call("GET", `/api/v1/admin/desktop-sessions?${sessions}`, { token: admin.accessToken }));
        await assertNoServerError(
          await call("GET", `/api/v1/admin/bridges?${new URLSearchParams({ platform: q, status: q, region: q })}`, {
            token: admin.accessToken,
          }),
        );
        await assertNoServerError(
          await call("GET", `/api/v1/desktops?${new URLSearchParams({ state: q, limit: q })}`, { token: owner.accessToken }),
        );
        await assertNoServerError(await call("GET", `/api/v1/images/${seg}/download?${new URLSearchParams({ expires: q, sig: q })}`));
        await assertNoServerError(await upgrade(`/api/v1/desktops/${seg}/ws?${new URLSearchParams({ ticket: q })}`));
        await assertNoServerError(
          await upgrade(`/api/v1/desktops/${sessionId}/bridge-data?${new URLSearchParams({ conn: q })}`, {
            Authorization: `Bearer ${q || "x"}`,
          }),
        );
        await assertNoServerError(await upgrade("/api/v1/bridges/connect", { Authorization: `Bearer ${q || "x"}` }));
      }),
      { numRuns: 30 },
    );
  });
});
