/**
 * The deployment's meeting limits, against a Worker that holds a deployment Anthropic key (the
 * stand-in's; see the "workers-deployment-key" project in vitest.config.ts, which also gives this
 * file a database of its own, since the limits it sets are deployment-wide).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createTeam, expectError, expectStatus, makeAdmin, openSocket, registerUser, sampleAgent, type TestUser } from "./helpers.ts";
import { script, standInRequests } from "./anthropic-stand-in.ts";

const DEPLOYMENT_KEY = env.ANTHROPIC_API_KEY ?? "";

interface Limits {
  meetingsPerUserPerDay: number;
  dailySpendUsdPerUser: number;
  defaultMeetingBudgetUsd: number;
  maxMeetingBudgetUsd: number;
}
const DEFAULTS: Limits = { meetingsPerUserPerDay: 20, dailySpendUsdPerUser: 5, defaultMeetingBudgetUsd: 1, maxMeetingBudgetUsd: 10 };

let adminPromise: Promise<TestUser> | undefined;
const admin = () => {
  adminPromise ??= registerUser("mla").then(makeAdmin);
  return adminPromise;
};

async function setLimits(patch: Partial<Limits>): Promise<void> {
  const res = await call("PUT", "/api/v1/admin/meeting-settings", { token: (await admin()).accessToken, body: { ...DEFAULTS, ...patch } });
  await expectStatus(res, 200);
}

async function teamWithAgent(owner: TestUser): Promise<{ teamId: string; agentId: string }> {
  const team = await createTeam(owner);
  const { agent } = await expectStatus(
    await call("POST", `/api/v1/teams/${team.id}/agents`, {
      token: owner.accessToken,
      body: { ...sampleAgent, model: "claude-sonnet-4-6" },
    }),
    201,
  );
  return { teamId: team.id, agentId: agent.id };
}

const meetingBody = (agentId: string, extra: Record<string, unknown> = {}) => ({
  type: "individual",
  agenda: "Limits",
  rounds: 1,
  memberAgentId: agentId,
  ...extra,
});

function createMeeting(user: TestUser, teamId: string, body: Record<string, unknown>): Promise<Response> {
  return call("POST", `/api/v1/teams/${teamId}/meetings`, { token: user.accessToken, body });
}

async function waitForStatus(user: TestUser, meetingId: string, status: string): Promise<Record<string, any>> {
  for (let i = 0; i < 400; i++) {
    const { meeting } = await expectStatus(await call("GET", `/api/v1/meetings/${meetingId}`, { token: user.accessToken }), 200);
    if (meeting.status === status) return meeting;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`meeting ${meetingId} never reached ${status}`);
}

async function allowance(user: TestUser): Promise<Record<string, any>> {
  return (await expectStatus(await call("GET", "/api/v1/usage", { token: user.accessToken }), 200)).allowance;
}

const reply = (text: string, usage = { input_tokens: 1000, output_tokens: 200 }) => ({ text, usage });
const SUMMARY = "### Agenda\nL.\n\n### Team Member Input\nOk.\n\n### Recommendation\nA.\n\n### Next Steps\nTest.";

describe("meeting limits", () => {
  it("an admin reads the defaults and changes the limits; others get 403; bad values get 400", async () => {
    const a = await admin();
    const user = await registerUser("mlu");
    const read = () => call("GET", "/api/v1/admin/meeting-settings", { token: a.accessToken });
    expect((await expectStatus(await read(), 200)).settings).toEqual(DEFAULTS);
    const set: Limits = { meetingsPerUserPerDay: 7, dailySpendUsdPerUser: 2.5, defaultMeetingBudgetUsd: 0.3, maxMeetingBudgetUsd: 1.7 };
    await expectStatus(await call("PUT", "/api/v1/admin/meeting-settings", { token: a.accessToken, body: set }), 200);
    expect((await expectStatus(await read(), 200)).settings).toEqual(set);
    // The user sees the new limits in their allowance.
    expect(await allowance(user)).toMatchObject({
      meetingsPerDay: 7,
      meetingsLeft: 7,
      dailySpendUsd: 2.5,
      spendLeftUsd: 2.5,
      spendLimitApplies: true,
    });
    for (const bad of [
      { ...set, defaultMeetingBudgetUsd: 5 },
      { ...set, meetingsPerUserPerDay: -1 },
      { ...set, maxMeetingBudgetUsd: 0 },
      { ...set, dailySpendUsdPerUser: "lots" },
    ]) {
      await expectError(await call("PUT", "/api/v1/admin/meeting-settings", { token: a.accessToken, body: bad }), 400, "VALIDATION_FAILED");
    }
    await expectError(await call("GET", "/api/v1/admin/meeting-settings", { token: user.accessToken }), 403, "FORBIDDEN");
    await expectError(await call("PUT", "/api/v1/admin/meeting-settings", { token: user.accessToken, body: DEFAULTS }), 403, "FORBIDDEN");
    await setLimits({});
  });

  it("refuses the N+1th meeting in 24 hours with DAILY_LIMIT_REACHED, also when the creates race; parallel copies count", async () => {
    await setLimits({ meetingsPerUserPerDay: 3 });
    try {
      const user = await registerUser("mln");
      const { teamId, agentId } = await teamWithAgent(user);
      const results = await Promise.all(Array.from({ length: 6 }, () => createMeeting(user, teamId, meetingBody(agentId))));
      expect(results.map((r) => r.status).sort()).toEqual([201, 201, 201, 429, 429, 429]);
      for (const r of results.filter((r) => r.status === 429)) {
        const body = await expectStatus<{ error: { code: string; details: unknown } }>(r, 429);
        expect(body.error).toMatchObject({ code: "DAILY_LIMIT_REACHED", details: { scope: "meetings", limit: 3, used: 3 } });
      }
      const { meetings } = await expectStatus(await call("GET", `/api/v1/teams/${teamId}/meetings`, { token: user.accessToken }), 200);
      expect(meetings).toHaveLength(3);
      expect(await allowance(user)).toMatchObject({ meetingsPerDay: 3, meetingsUsed: 3, meetingsLeft: 0 });

      // Another user has their own count.
      const other = await registerUser("mlo");
      const otherTeam = await teamWithAgent(other);
      await expectStatus(await createMeeting(other, otherTeam.teamId, meetingBody(otherTeam.agentId)), 201);

      // A parallel run takes all its copies or none.
      await setLimits({ meetingsPerUserPerDay: 4 });
      const parallel = (copies: number) =>
        call("POST", `/api/v1/teams/${teamId}/meetings/parallel`, {
          token: user.accessToken,
          body: { ...meetingBody(agentId), copies },
        });
      await expectError(await parallel(2), 429, "DAILY_LIMIT_REACHED");
      await setLimits({ meetingsPerUserPerDay: 5 });
      await expectStatus(await parallel(2), 201);
      await expectError(await createMeeting(user, teamId, meetingBody(agentId)), 429, "DAILY_LIMIT_REACHED");
      const after = await expectStatus(await call("GET", `/api/v1/teams/${teamId}/meetings`, { token: user.accessToken }), 200);
      expect(after.meetings).toHaveLength(5);
    } finally {
      await setLimits({});
    }
  });

  it("a meeting on the deployment's key without a budget runs with the deployment's default; one above the maximum is refused", async () => {
    await setLimits({ defaultMeetingBudgetUsd: 0.75, maxMeetingBudgetUsd: 2 });
    try {
      const user = await registerUser("mlb");
      const { teamId, agentId } = await teamWithAgent(user);
      const refused = await createMeeting(user, teamId, meetingBody(agentId, { maxCostUsd: 3, start: true }));
      await expectError(refused, 400, "VALIDATION_FAILED");
      await script(DEPLOYMENT_KEY, [reply("answer"), reply("critique"), reply(SUMMARY)]);
      const { meeting } = await expectStatus(await createMeeting(user, teamId, meetingBody(agentId, { start: true })), 201);
      expect(meeting.provider).toBe("anthropic");
      expect(meeting.config.maxCostUsd).toBe(0.75);
      const done = await waitForStatus(user, meeting.id, "completed");
      expect(done.config.maxCostUsd).toBe(0.75);
      // It was charged to the deployment's key, and counts towards the user's daily spend.
      const spent = (await allowance(user)).spentUsd as number;
      expect(spent).toBeCloseTo(done.costUsd, 6);
      expect(spent).toBeGreaterThan(0);
      // A branch is a meeting too: it counts towards the meetings per day.
      await setLimits({ defaultMeetingBudgetUsd: 0.75, maxMeetingBudgetUsd: 2, meetingsPerUserPerDay: 1 });
      const branch = await call("POST", `/api/v1/meetings/${meeting.id}/branch`, { token: user.accessToken, body: { fromTurnIndex: 0 } });
      await expectError(branch, 429, "DAILY_LIMIT_REACHED");
    } finally {
      await setLimits({});
    }
  });

  it("stops a running meeting at the turn that could pass the daily spend, then refuses new starts with 429", async () => {
    await setLimits({ dailySpendUsdPerUser: 0.5 });
    try {
      const user = await registerUser("mls");
      const { teamId, agentId } = await teamWithAgent(user);
      const before = (await standInRequests(DEPLOYMENT_KEY)).length;
      // The first turn costs $0.603 (1000 in, 40,000 out at $3 / $15 per million): past the $0.50 a day.
      await script(DEPLOYMENT_KEY, [reply("an expensive answer", { input_tokens: 1000, output_tokens: 40_000 })]);
      const { meeting } = await expectStatus(await createMeeting(user, teamId, meetingBody(agentId, { maxCostUsd: 5 })), 201);
      const watcher = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, user.accessToken);
      watcher.ws.send(JSON.stringify({ type: "start" }));
      const error = await watcher.next((f) => f.type === "error" && typeof f.seq === "number", 20_000);
      expect(error).toMatchObject({ code: "DAILY_LIMIT_REACHED", message: expect.stringContaining("per 24 hours") });
      const state = await watcher.next((f) => f.type === "meeting_state" && f.status === "failed");
      expect(state).toMatchObject({ errorCode: "DAILY_LIMIT_REACHED", completedTurns: 1 });
      watcher.close();
      const failed = await waitForStatus(user, meeting.id, "failed");
      expect(failed.errorCode).toBe("DAILY_LIMIT_REACHED");
      expect((await standInRequests(DEPLOYMENT_KEY)).length).toBe(before + 1);
      const { messages } = await expectStatus(
        await call("GET", `/api/v1/meetings/${meeting.id}/transcript`, { token: user.accessToken }),
        200,
      );
      expect(messages).toHaveLength(1);
      expect(await allowance(user)).toMatchObject({ spendLeftUsd: 0, spendLimitApplies: true });

      // Over the day's spend: starting at creation is refused before anything is created …
      const refused = await createMeeting(user, teamId, meetingBody(agentId, { start: true }));
      const body = await expectStatus<{ error: { code: string; details: { scope: string } } }>(refused, 429);
      expect(body.error).toMatchObject({ code: "DAILY_LIMIT_REACHED", details: { scope: "spend" } });
      const { meetings } = await expectStatus(await call("GET", `/api/v1/teams/${teamId}/meetings`, { token: user.accessToken }), 200);
      expect(meetings).toHaveLength(1);
      // … and a pending meeting cannot be started over the socket either.
      const { meeting: pending } = await expectStatus(await createMeeting(user, teamId, meetingBody(agentId)), 201);
      const s = await openSocket(`/api/v1/meetings/${pending.id}/ws`, user.accessToken);
      s.ws.send(JSON.stringify({ type: "start" }));
      expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "DAILY_LIMIT_REACHED" });
      s.close();
      expect((await waitForStatus(user, pending.id, "pending")).status).toBe("pending");
      expect((await standInRequests(DEPLOYMENT_KEY)).length).toBe(before + 1);
    } finally {
      await setLimits({});
    }
  });

  it("a user's own API key is not held by the deployment's spend limit or budget", async () => {
    await setLimits({ dailySpendUsdPerUser: 0 });
    try {
      const keyless = await registerUser("mlk");
      const k = await teamWithAgent(keyless);
      await expectError(await createMeeting(keyless, k.teamId, meetingBody(k.agentId, { start: true })), 429, "DAILY_LIMIT_REACHED");

      const owner = await registerUser("mlw");
      const apiKey = `sk-ant-test-${crypto.randomUUID()}`;
      await expectStatus(await call("PUT", "/api/v1/me/api-keys/anthropic", { token: owner.accessToken, body: { apiKey } }), 200);
      expect(await allowance(owner)).toMatchObject({ spendLimitApplies: false });
      const { teamId, agentId } = await teamWithAgent(owner);
      await script(apiKey, [reply("answer"), reply("critique"), reply(SUMMARY)]);
      const { meeting } = await expectStatus(
        await createMeeting(owner, teamId, meetingBody(agentId, { start: true, maxCostUsd: 50 })),
        201,
      );
      const done = await waitForStatus(owner, meeting.id, "completed");
      expect(done.config.maxCostUsd).toBe(50);
      expect(done.costUsd).toBeGreaterThan(0);
      expect((await standInRequests(apiKey)).length).toBe(3);
      // Their own key's spend is not the deployment's.
      expect(await allowance(owner)).toMatchObject({ spentUsd: 0 });
    } finally {
      await setLimits({});
    }
  });
});
