/**
 * The authorization matrix: every API route × {admin, owner, editor, viewer, outsider,
 * anonymous}. "admin" is a site administrator who is not in the team: team content stays
 * private to members, so admins get 404 there like any outsider.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { createTemplate, eventually, GENEROUS_SETTINGS, openRaw, putSettings, TestBridge, upgrade } from "./desktop-helpers.ts";
import {
  addMember,
  BASE,
  call,
  createTeam,
  expectStatus,
  makeAdmin,
  openSocket,
  registerUser,
  sampleAgent,
  type TestUser,
} from "./helpers.ts";

type Who = "admin" | "owner" | "editor" | "viewer" | "outsider" | "anonymous";
const WHO: Who[] = ["admin", "owner", "editor", "viewer", "outsider", "anonymous"];

interface Fixture {
  users: Record<Exclude<Who, "anonymous">, TestUser>;
  teamId: string;
  agentId: string;
  target: TestUser;
  /** a finished offline meeting of the team */
  meetingId: string;
  desktop: DesktopFixture;
}

interface DesktopFixture {
  templateId: string;
  /** an online bridge that runs every command it gets */
  bridge: TestBridge;
  /** the owner's running desktop, and a share link of it for teammates */
  sessionId: string;
  shareToken: string;
  /** a VM image being uploaded, and a ready one */
  uploadingImageId: string;
  readyImageId: string;
}

interface Case {
  method: string;
  /** OpenAPI-style path, matched against the spec to prove every route is covered */
  route: string;
  /** builds the concrete request; may create fresh resources so destructive calls don't interfere */
  request: (fx: Fixture) => Promise<{ path: string; body?: unknown }>;
  expect: Record<Who, number>;
}

const PUBLIC_AUTH = 401;
const members = (ok: number) => ({ admin: 404, owner: ok, editor: ok, viewer: ok, outsider: 404, anonymous: PUBLIC_AUTH });
const editors = (ok: number) => ({ admin: 404, owner: ok, editor: ok, viewer: 403, outsider: 404, anonymous: PUBLIC_AUTH });
const owners = (ok: number) => ({ admin: 404, owner: ok, editor: 403, viewer: 403, outsider: 404, anonymous: PUBLIC_AUTH });
const anyUser = (ok: number) => ({ admin: ok, owner: ok, editor: ok, viewer: ok, outsider: ok, anonymous: PUBLIC_AUTH });
const adminsOnly = (ok: number) => ({ admin: ok, owner: 403, editor: 403, viewer: 403, outsider: 403, anonymous: PUBLIC_AUTH });
/** A desktop session is its owner's alone: everyone else, admins and teammates included, gets 404. */
const sessionOwner = (ok: number) => ({ admin: 404, owner: ok, editor: 404, viewer: 404, outsider: 404, anonymous: PUBLIC_AUTH });

async function freshTeam(fx: Fixture): Promise<string> {
  const team = await createTeam(fx.users.owner);
  await addMember(fx.users.owner, team.id, fx.users.editor, "editor");
  await addMember(fx.users.owner, team.id, fx.users.viewer, "viewer");
  await addMember(fx.users.owner, team.id, fx.target, "viewer");
  return team.id;
}

async function freshAgent(fx: Fixture): Promise<string> {
  const res = await call("POST", `/api/v1/teams/${fx.teamId}/agents`, { token: fx.users.owner.accessToken, body: sampleAgent });
  return (await expectStatus<{ agent: { id: string } }>(res, 201)).agent.id;
}

/** A one-round individual meeting on the offline model, run to completion. */
async function finishedMeeting(fx: Fixture): Promise<string> {
  const res = await call("POST", `/api/v1/teams/${fx.teamId}/meetings`, {
    token: fx.users.owner.accessToken,
    body: { type: "individual", agenda: "Fixture meeting", rounds: 1, memberAgentId: fx.agentId, critic: false, start: true },
  });
  const { meeting } = await expectStatus<{ meeting: { id: string } }>(res, 201);
  for (let i = 0; i < 200; i++) {
    const got = await expectStatus<{ meeting: { status: string } }>(
      await call("GET", `/api/v1/meetings/${meeting.id}`, { token: fx.users.owner.accessToken }),
      200,
    );
    if (got.meeting.status === "completed") return meeting.id;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("fixture meeting did not finish");
}

const desktops = () => ({
  async session(fx: Fixture, state: "running" | "hibernated" | "stopped"): Promise<string> {
    const token = fx.users.owner.accessToken;
    const { session } = await expectStatus<{ session: { id: string } }>(
      await call("POST", "/api/v1/desktops", { token, body: { templateId: fx.desktop.templateId, region: fx.desktop.bridge.region } }),
      201,
    );
    const reach = async (want: string) =>
      eventually(
        async () =>
          (await expectStatus<{ session: { state: string } }>(await call("GET", `/api/v1/desktops/${session.id}`, { token }), 200)).session
            .state,
        (s) => s === want,
        `fixture desktop ${want}`,
      );
    await reach("running");
    if (state === "hibernated") {
      await expectStatus(await call("POST", `/api/v1/desktops/${session.id}/hibernate`, { token }), 202);
      await reach("hibernated");
    }
    if (state === "stopped") {
      await expectStatus(await call("POST", `/api/v1/desktops/${session.id}/stop`, { token }), 202);
      await reach("stopped");
    }
    return session.id;
  },
  async image(fx: Fixture, parts: number): Promise<string> {
    const token = fx.users.admin.accessToken;
    const { image } = await expectStatus<{ image: { id: string } }>(
      await call("POST", "/api/v1/admin/images", { token, body: { name: "matrix", filename: "matrix.img" } }),
      201,
    );
    for (let n = 1; n <= parts; n++) {
      await expectStatus(
        await exports.default.fetch(
          new Request(`${BASE}/api/v1/admin/images/${image.id}/parts/${n}`, {
            method: "PUT",
            headers: { Authorization: `Bearer ${token}` },
            body: new Uint8Array(128),
          }),
        ),
        200,
      );
    }
    return image.id;
  },
  async bridge(fx: Fixture): Promise<string> {
    return (await TestBridge.register(fx.users.admin)).id;
  },
});

const cases: Case[] = [
  { method: "GET", route: "/api/v1/auth/me", request: async () => ({ path: "/api/v1/auth/me" }), expect: anyUser(200) },
  // Wrong current password: authenticated callers reach the check (401 INVALID_CREDENTIALS), anonymous ones don't.
  {
    method: "POST",
    route: "/api/v1/auth/password",
    request: async () => ({
      path: "/api/v1/auth/password",
      body: { currentPassword: "not-it-at-all", newPassword: "whatever long enough" },
    }),
    expect: anyUser(401),
  },
  { method: "GET", route: "/api/v1/teams", request: async () => ({ path: "/api/v1/teams" }), expect: anyUser(200) },
  {
    method: "POST",
    route: "/api/v1/teams",
    request: async () => ({ path: "/api/v1/teams", body: { name: "matrix team" } }),
    expect: anyUser(201),
  },
  { method: "GET", route: "/api/v1/teams/{teamId}", request: async (fx) => ({ path: `/api/v1/teams/${fx.teamId}` }), expect: members(200) },
  {
    method: "PATCH",
    route: "/api/v1/teams/{teamId}",
    request: async (fx) => ({ path: `/api/v1/teams/${fx.teamId}`, body: { description: "edited" } }),
    expect: owners(200),
  },
  {
    method: "DELETE",
    route: "/api/v1/teams/{teamId}",
    request: async (fx) => ({ path: `/api/v1/teams/${await freshTeam(fx)}` }),
    expect: owners(204),
  },
  {
    method: "GET",
    route: "/api/v1/teams/{teamId}/members",
    request: async (fx) => ({ path: `/api/v1/teams/${fx.teamId}/members` }),
    expect: members(200),
  },
  {
    method: "POST",
    route: "/api/v1/teams/{teamId}/members",
    request: async (fx) => {
      const teamId = await freshTeam(fx);
      await call("DELETE", `/api/v1/teams/${teamId}/members/${fx.target.id}`, { token: fx.users.owner.accessToken });
      return { path: `/api/v1/teams/${teamId}/members`, body: { user: fx.target.username, role: "viewer" } };
    },
    expect: owners(201),
  },
  {
    method: "PATCH",
    route: "/api/v1/teams/{teamId}/members/{userId}",
    request: async (fx) => ({ path: `/api/v1/teams/${fx.teamId}/members/${fx.target.id}`, body: { role: "viewer" } }),
    expect: owners(200),
  },
  {
    method: "DELETE",
    route: "/api/v1/teams/{teamId}/members/{userId}",
    request: async (fx) => ({ path: `/api/v1/teams/${await freshTeam(fx)}/members/${fx.target.id}` }),
    expect: owners(204),
  },
  {
    method: "GET",
    route: "/api/v1/teams/{teamId}/agents",
    request: async (fx) => ({ path: `/api/v1/teams/${fx.teamId}/agents` }),
    expect: members(200),
  },
  {
    method: "POST",
    route: "/api/v1/teams/{teamId}/agents",
    request: async (fx) => ({ path: `/api/v1/teams/${fx.teamId}/agents`, body: sampleAgent }),
    expect: editors(201),
  },
  {
    method: "GET",
    route: "/api/v1/teams/{teamId}/agents/{agentId}",
    request: async (fx) => ({ path: `/api/v1/teams/${fx.teamId}/agents/${fx.agentId}` }),
    expect: members(200),
  },
  {
    method: "PATCH",
    route: "/api/v1/teams/{teamId}/agents/{agentId}",
    request: async (fx) => ({ path: `/api/v1/teams/${fx.teamId}/agents/${fx.agentId}`, body: { goal: "a sharper goal" } }),
    expect: editors(200),
  },
  {
    method: "DELETE",
    route: "/api/v1/teams/{teamId}/agents/{agentId}",
    request: async (fx) => ({ path: `/api/v1/teams/${fx.teamId}/agents/${await freshAgent(fx)}` }),
    expect: editors(204),
  },
  {
    method: "POST",
    route: "/api/v1/teams/{teamId}/meetings",
    request: async (fx) => ({
      path: `/api/v1/teams/${fx.teamId}/meetings`,
      body: { type: "individual", agenda: "matrix", rounds: 1, memberAgentId: fx.agentId },
    }),
    expect: editors(201),
  },
  {
    method: "POST",
    route: "/api/v1/teams/{teamId}/meetings/parallel",
    request: async (fx) => ({
      path: `/api/v1/teams/${fx.teamId}/meetings/parallel`,
      body: { type: "individual", agenda: "matrix", rounds: 1, memberAgentId: fx.agentId, copies: 2 },
    }),
    expect: editors(201),
  },
  {
    method: "GET",
    route: "/api/v1/teams/{teamId}/meetings",
    request: async (fx) => ({ path: `/api/v1/teams/${fx.teamId}/meetings` }),
    expect: members(200),
  },
  {
    method: "GET",
    route: "/api/v1/meetings/{meetingId}",
    request: async (fx) => ({ path: `/api/v1/meetings/${fx.meetingId}` }),
    expect: members(200),
  },
  {
    method: "GET",
    route: "/api/v1/meetings/{meetingId}/transcript",
    request: async (fx) => ({ path: `/api/v1/meetings/${fx.meetingId}/transcript` }),
    expect: members(200),
  },
  {
    method: "GET",
    route: "/api/v1/meetings/{meetingId}/summary",
    request: async (fx) => ({ path: `/api/v1/meetings/${fx.meetingId}/summary` }),
    expect: members(200),
  },
  {
    method: "GET",
    route: "/api/v1/meetings/{meetingId}/export",
    request: async (fx) => ({ path: `/api/v1/meetings/${fx.meetingId}/export?format=md` }),
    expect: members(200),
  },
  {
    method: "GET",
    route: "/api/v1/meetings/{meetingId}/usage",
    request: async (fx) => ({ path: `/api/v1/meetings/${fx.meetingId}/usage` }),
    expect: members(200),
  },
  {
    method: "POST",
    route: "/api/v1/meetings/{meetingId}/branch",
    request: async (fx) => ({ path: `/api/v1/meetings/${fx.meetingId}/branch`, body: { fromTurnIndex: 0 } }),
    expect: editors(201),
  },
  { method: "GET", route: "/api/v1/usage", request: async () => ({ path: "/api/v1/usage" }), expect: anyUser(200) },
  { method: "GET", route: "/api/v1/me/api-keys", request: async () => ({ path: "/api/v1/me/api-keys" }), expect: anyUser(200) },
  {
    method: "PUT",
    route: "/api/v1/me/api-keys/{provider}",
    request: async () => ({ path: "/api/v1/me/api-keys/anthropic", body: { apiKey: "sk-ant-test-matrix-0000000000000000" } }),
    expect: anyUser(200),
  },
  {
    method: "DELETE",
    route: "/api/v1/me/api-keys/{provider}",
    request: async () => ({ path: "/api/v1/me/api-keys/anthropic" }),
    expect: anyUser(204),
  },
  { method: "GET", route: "/api/v1/admin/users", request: async () => ({ path: "/api/v1/admin/users" }), expect: adminsOnly(200) },
  {
    method: "PATCH",
    route: "/api/v1/admin/users/{userId}",
    request: async (fx) => ({ path: `/api/v1/admin/users/${fx.target.id}`, body: { isActive: true } }),
    expect: adminsOnly(200),
  },
  {
    method: "GET",
    route: "/api/v1/admin/audit",
    request: async () => ({ path: "/api/v1/admin/audit?action=auth." }),
    expect: adminsOnly(200),
  },
  // ── lab desktops ──
  { method: "GET", route: "/api/v1/desktop-templates", request: async () => ({ path: "/api/v1/desktop-templates" }), expect: anyUser(200) },
  {
    method: "POST",
    route: "/api/v1/desktops",
    request: async (fx) => ({ path: "/api/v1/desktops", body: { templateId: fx.desktop.templateId, region: fx.desktop.bridge.region } }),
    expect: anyUser(201),
  },
  { method: "GET", route: "/api/v1/desktops", request: async () => ({ path: "/api/v1/desktops" }), expect: anyUser(200) },
  {
    method: "GET",
    route: "/api/v1/desktops/{sessionId}",
    request: async (fx) => ({ path: `/api/v1/desktops/${fx.desktop.sessionId}` }),
    expect: sessionOwner(200),
  },
  {
    method: "POST",
    route: "/api/v1/desktops/{sessionId}/stop",
    request: async (fx) => ({ path: `/api/v1/desktops/${await desktops().session(fx, "running")}/stop` }),
    expect: sessionOwner(202),
  },
  {
    method: "POST",
    route: "/api/v1/desktops/{sessionId}/hibernate",
    request: async (fx) => ({ path: `/api/v1/desktops/${await desktops().session(fx, "running")}/hibernate` }),
    expect: sessionOwner(202),
  },
  {
    method: "POST",
    route: "/api/v1/desktops/{sessionId}/wake",
    request: async (fx) => ({ path: `/api/v1/desktops/${await desktops().session(fx, "hibernated")}/wake` }),
    expect: sessionOwner(202),
  },
  {
    method: "DELETE",
    route: "/api/v1/desktops/{sessionId}",
    request: async (fx) => ({ path: `/api/v1/desktops/${await desktops().session(fx, "stopped")}` }),
    expect: sessionOwner(204),
  },
  {
    method: "POST",
    route: "/api/v1/desktops/{sessionId}/ticket",
    request: async (fx) => ({ path: `/api/v1/desktops/${fx.desktop.sessionId}/ticket` }),
    expect: sessionOwner(201),
  },
  {
    method: "POST",
    route: "/api/v1/desktops/{sessionId}/shares",
    request: async (fx) => ({ path: `/api/v1/desktops/${fx.desktop.sessionId}/shares`, body: { expiresInHours: 1 } }),
    expect: sessionOwner(201),
  },
  {
    method: "GET",
    route: "/api/v1/desktops/{sessionId}/shares",
    request: async (fx) => ({ path: `/api/v1/desktops/${fx.desktop.sessionId}/shares` }),
    expect: sessionOwner(200),
  },
  {
    method: "DELETE",
    route: "/api/v1/desktops/{sessionId}/shares/{shareId}",
    request: async (fx) => {
      const res = await call("POST", `/api/v1/desktops/${fx.desktop.sessionId}/shares`, { token: fx.users.owner.accessToken, body: {} });
      const { share } = await expectStatus<{ share: { id: string } }>(res, 201);
      return { path: `/api/v1/desktops/${fx.desktop.sessionId}/shares/${share.id}` };
    },
    expect: sessionOwner(204),
  },
  // Teammates of the owner redeem a share link for a view-only ticket; nobody else can.
  {
    method: "POST",
    route: "/api/v1/desktop-shares/ticket",
    request: async (fx) => ({ path: "/api/v1/desktop-shares/ticket", body: { token: fx.desktop.shareToken } }),
    expect: members(200),
  },
  {
    method: "GET",
    route: "/api/v1/admin/desktop-templates",
    request: async () => ({ path: "/api/v1/admin/desktop-templates" }),
    expect: adminsOnly(200),
  },
  {
    method: "POST",
    route: "/api/v1/admin/desktop-templates",
    request: async () => ({
      path: "/api/v1/admin/desktop-templates",
      body: { name: "matrix", kind: "container", image: "ghcr.io/lab/matrix:1" },
    }),
    expect: adminsOnly(201),
  },
  {
    method: "PATCH",
    route: "/api/v1/admin/desktop-templates/{templateId}",
    request: async (fx) => ({
      path: `/api/v1/admin/desktop-templates/${fx.desktop.templateId}`,
      body: { description: "edited by the matrix" },
    }),
    expect: adminsOnly(200),
  },
  {
    method: "DELETE",
    route: "/api/v1/admin/desktop-templates/{templateId}",
    request: async (fx) => ({ path: `/api/v1/admin/desktop-templates/${(await createTemplate(fx.users.admin)).id}` }),
    expect: adminsOnly(204),
  },
  {
    method: "GET",
    route: "/api/v1/admin/desktop-settings",
    request: async () => ({ path: "/api/v1/admin/desktop-settings" }),
    expect: adminsOnly(200),
  },
  {
    method: "PUT",
    route: "/api/v1/admin/desktop-settings",
    request: async () => ({ path: "/api/v1/admin/desktop-settings", body: GENEROUS_SETTINGS }),
    expect: adminsOnly(200),
  },
  {
    method: "GET",
    route: "/api/v1/admin/meeting-settings",
    request: async () => ({ path: "/api/v1/admin/meeting-settings" }),
    expect: adminsOnly(200),
  },
  {
    method: "PUT",
    route: "/api/v1/admin/meeting-settings",
    // The defaults: other files share this database and its deployment-wide limits.
    request: async () => ({
      path: "/api/v1/admin/meeting-settings",
      body: { meetingsPerUserPerDay: 20, dailySpendUsdPerUser: 5, defaultMeetingBudgetUsd: 1, maxMeetingBudgetUsd: 10 },
    }),
    expect: adminsOnly(200),
  },
  {
    method: "GET",
    route: "/api/v1/admin/desktop-sessions",
    request: async () => ({ path: "/api/v1/admin/desktop-sessions?state=running" }),
    expect: adminsOnly(200),
  },
  {
    method: "POST",
    route: "/api/v1/admin/desktop-sessions/{sessionId}/stop",
    request: async (fx) => ({ path: `/api/v1/admin/desktop-sessions/${await desktops().session(fx, "running")}/stop` }),
    expect: adminsOnly(202),
  },
  {
    method: "GET",
    route: "/api/v1/admin/bridges",
    request: async () => ({ path: "/api/v1/admin/bridges?platform=docker" }),
    expect: adminsOnly(200),
  },
  {
    method: "POST",
    route: "/api/v1/admin/bridges",
    request: async () => ({ path: "/api/v1/admin/bridges", body: { name: "matrix", platform: "docker", region: "matrix" } }),
    expect: adminsOnly(201),
  },
  {
    method: "DELETE",
    route: "/api/v1/admin/bridges/{bridgeId}",
    request: async (fx) => ({ path: `/api/v1/admin/bridges/${await desktops().bridge(fx)}` }),
    expect: adminsOnly(204),
  },
  {
    method: "POST",
    route: "/api/v1/admin/bridges/{bridgeId}/drain",
    request: async (fx) => ({ path: `/api/v1/admin/bridges/${await desktops().bridge(fx)}/drain` }),
    expect: adminsOnly(200),
  },
  {
    method: "POST",
    route: "/api/v1/admin/bridges/{bridgeId}/undrain",
    request: async (fx) => ({ path: `/api/v1/admin/bridges/${await desktops().bridge(fx)}/undrain` }),
    expect: adminsOnly(200),
  },
  {
    method: "POST",
    route: "/api/v1/admin/bridges/{bridgeId}/rotate-token",
    request: async (fx) => ({ path: `/api/v1/admin/bridges/${await desktops().bridge(fx)}/rotate-token` }),
    expect: adminsOnly(200),
  },
  { method: "GET", route: "/api/v1/admin/images", request: async () => ({ path: "/api/v1/admin/images" }), expect: adminsOnly(200) },
  {
    method: "POST",
    route: "/api/v1/admin/images",
    request: async () => ({ path: "/api/v1/admin/images", body: { name: "matrix", filename: "matrix.iso" } }),
    expect: adminsOnly(201),
  },
  {
    method: "GET",
    route: "/api/v1/admin/images/{imageId}/parts",
    request: async (fx) => ({ path: `/api/v1/admin/images/${fx.desktop.uploadingImageId}/parts` }),
    expect: adminsOnly(200),
  },
  {
    method: "PUT",
    route: "/api/v1/admin/images/{imageId}/parts/{partNumber}",
    request: async (fx) => ({ path: `/api/v1/admin/images/${fx.desktop.uploadingImageId}/parts/1`, body: { any: "bytes" } }),
    expect: adminsOnly(200),
  },
  {
    method: "POST",
    route: "/api/v1/admin/images/{imageId}/complete",
    request: async (fx) => ({ path: `/api/v1/admin/images/${await desktops().image(fx, 1)}/complete` }),
    expect: adminsOnly(200),
  },
  {
    method: "DELETE",
    route: "/api/v1/admin/images/{imageId}",
    request: async (fx) => ({ path: `/api/v1/admin/images/${await desktops().image(fx, 0)}` }),
    expect: adminsOnly(204),
  },
  {
    method: "POST",
    route: "/api/v1/admin/images/{imageId}/link",
    request: async (fx) => ({ path: `/api/v1/admin/images/${fx.desktop.readyImageId}/link` }),
    expect: adminsOnly(200),
  },
];

/** Routes that bridges call with their own credentials (bridge token, data token, signed link); checked separately below. */
const MACHINE_ROUTES = [
  "GET /api/v1/bridges/connect",
  "GET /api/v1/desktops/{sessionId}/bridge-data",
  "GET /api/v1/images/{imageId}/download",
];

/** Routes that need no account at all; checked separately below. */
const PUBLIC_ROUTES = [
  "POST /api/v1/auth/register",
  "POST /api/v1/auth/login",
  "POST /api/v1/auth/refresh",
  "POST /api/v1/auth/logout",
  "GET /api/v1/auth/config",
];

describe("authorization matrix", () => {
  let fx: Fixture;

  beforeAll(async () => {
    const [owner, editor, viewer, outsider, adminUser, target] = await Promise.all([
      registerUser("own"),
      registerUser("edi"),
      registerUser("vie"),
      registerUser("out"),
      registerUser("adm"),
      registerUser("tgt"),
    ]);
    const admin = await makeAdmin(adminUser);
    const team = await createTeam(owner);
    await addMember(owner, team.id, editor, "editor");
    await addMember(owner, team.id, viewer, "viewer");
    await addMember(owner, team.id, target, "viewer");
    fx = {
      users: { owner, editor, viewer, outsider, admin },
      teamId: team.id,
      agentId: "",
      target,
      meetingId: "",
      desktop: {} as DesktopFixture,
    };
    fx.agentId = await freshAgent(fx);
    fx.meetingId = await finishedMeeting(fx);
    await putSettings(admin, GENEROUS_SETTINGS);
    const bridge = await TestBridge.online(admin, { capacity: 10_000 });
    bridge.autopilot();
    fx.desktop = {
      templateId: (await createTemplate(admin)).id,
      bridge,
      sessionId: "",
      shareToken: "",
      uploadingImageId: "",
      readyImageId: "",
    };
    fx.desktop.sessionId = await desktops().session(fx, "running");
    const share = await call("POST", `/api/v1/desktops/${fx.desktop.sessionId}/shares`, { token: owner.accessToken, body: {} });
    fx.desktop.shareToken = (await expectStatus<{ token: string }>(share, 201)).token;
    fx.desktop.uploadingImageId = await desktops().image(fx, 0);
    const ready = await desktops().image(fx, 1);
    await expectStatus(await call("POST", `/api/v1/admin/images/${ready}/complete`, { token: admin.accessToken }), 200);
    fx.desktop.readyImageId = ready;
  });

  it("covers every route in the OpenAPI document", async () => {
    const spec = await expectStatus<{ paths: Record<string, Record<string, unknown>> }>(await call("GET", "/api/openapi.json"), 200);
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(documented.length).toBeGreaterThanOrEqual(cases.length);
    const covered = new Set([
      ...cases.map((c) => `${c.method} ${c.route}`),
      ...PUBLIC_ROUTES,
      ...MACHINE_ROUTES,
      "GET /api/v1/teams/{teamId}/ws",
      "GET /api/v1/meetings/{meetingId}/ws",
      "GET /api/v1/desktops/{sessionId}/ws",
    ]);
    expect(documented.filter((r) => !covered.has(r))).toEqual([]);
  });

  for (const c of cases) {
    for (const who of WHO) {
      it(`${c.method} ${c.route} as ${who} → ${c.expect[who]}`, async () => {
        const { path, body } = await c.request(fx);
        const token = who === "anonymous" ? undefined : fx.users[who].accessToken;
        const res = await call(c.method, path, { token, ...(body !== undefined && { body }) });
        const text = await res.text();
        expect(res.status, text).toBe(c.expect[who]);
        if (res.status >= 400) {
          const parsed = JSON.parse(text) as { error: { code: string } };
          if (who === "anonymous") expect(parsed.error.code).toBe("UNAUTHENTICATED");
          if (res.status === 404) expect(parsed.error.code).toMatch(/_NOT_FOUND$/);
        }
      });
    }
  }

  for (const who of WHO) {
    const expected = { admin: 404, owner: 101, editor: 101, viewer: 101, outsider: 404, anonymous: 401 }[who];
    it(`GET /api/v1/meetings/{meetingId}/ws (meeting socket) as ${who} → ${expected}`, async () => {
      const token = who === "anonymous" ? undefined : fx.users[who].accessToken;
      if (expected === 101) {
        const socket = await openSocket(`/api/v1/meetings/${fx.meetingId}/ws`, token);
        await socket.next((f) => f.type === "meeting_complete");
        socket.close();
      } else {
        const headers: Record<string, string> = { Upgrade: "websocket" };
        if (token) headers["Sec-WebSocket-Protocol"] = `atrium.v1, atrium.bearer.${token}`;
        await expectStatus(await call("GET", `/api/v1/meetings/${fx.meetingId}/ws`, { headers }), expected);
      }
    });
    it(`GET /api/v1/teams/{teamId}/ws (presence socket) as ${who} → ${expected}`, async () => {
      const token = who === "anonymous" ? undefined : fx.users[who].accessToken;
      if (expected === 101) {
        const socket = await openSocket(`/api/v1/teams/${fx.teamId}/ws`, token);
        socket.close();
      } else {
        const headers: Record<string, string> = { Upgrade: "websocket" };
        if (token) headers["Sec-WebSocket-Protocol"] = `atrium.v1, atrium.bearer.${token}`;
        const res = await call("GET", `/api/v1/teams/${fx.teamId}/ws`, { headers });
        await expectStatus(res, expected);
      }
    });
  }

  for (const who of WHO) {
    const ticketStatus = { admin: 404, owner: 201, editor: 404, viewer: 404, outsider: 404, anonymous: 401 }[who];
    it(`GET /api/v1/desktops/{sessionId}/ws (desktop viewer) as ${who}: ticket → ${ticketStatus}, and no socket without one`, async () => {
      const token = who === "anonymous" ? undefined : fx.users[who].accessToken;
      const res = await call("POST", `/api/v1/desktops/${fx.desktop.sessionId}/ticket`, { token });
      const body = await expectStatus<{ wsPath: string }>(res, ticketStatus);
      if (ticketStatus === 201) {
        const viewer = await openRaw(body.wsPath);
        await viewer.texts.next((f) => f.type === "state");
        viewer.close();
      }
      const headers: Record<string, string> = token ? { "Sec-WebSocket-Protocol": `atrium.v1, atrium.bearer.${token}` } : {};
      const refused = await expectStatus<{ error: { code: string } }>(
        await upgrade(`/api/v1/desktops/${fx.desktop.sessionId}/ws`, headers),
        401,
      );
      expect(refused.error.code).toBe("TICKET_INVALID");
    });

    it(`bridge sockets and image downloads refuse a user's token (${who})`, async () => {
      const auth: Record<string, string> = who === "anonymous" ? {} : { Authorization: `Bearer ${fx.users[who].accessToken}` };
      const connect = await expectStatus<{ error: { code: string } }>(await upgrade("/api/v1/bridges/connect", auth), 401);
      expect(connect.error.code).toBe("BRIDGE_TOKEN_INVALID");
      const data = await expectStatus<{ error: { code: string } }>(
        await upgrade(`/api/v1/desktops/${fx.desktop.sessionId}/bridge-data?conn=primary`, auth),
        401,
      );
      expect(data.error.code).toBe("DATA_TOKEN_INVALID");
      const download = await call("GET", `/api/v1/images/${fx.desktop.readyImageId}/download?expires=9999999999&sig=forged`, {
        token: who === "anonymous" ? undefined : fx.users[who].accessToken,
      });
      expect(download.status).toBe(403);
    });
  }

  it("a signed image link works for whoever holds it, with no account", async () => {
    const { url } = await expectStatus<{ url: string }>(
      await call("POST", `/api/v1/admin/images/${fx.desktop.readyImageId}/link`, { token: fx.users.admin.accessToken }),
      200,
    );
    const res = await exports.default.fetch(new Request(url));
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(128);
  });

  it("the bridge's own token opens its control socket", async () => {
    const bridge = await TestBridge.register(fx.users.admin);
    await bridge.connect();
    await bridge.hello();
    await bridge.disconnect();
  });
});
