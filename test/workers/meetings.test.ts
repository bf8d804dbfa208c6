/**
 * Live meetings in workerd: the MeetingRoom runs the plan against the offline model or the
 * Anthropic stand-in (through the real SDK), streams to sockets, and survives restarts.
 */
import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { userApiKeys } from "../../migrations/schema.ts";
import { getDb } from "../../worker/db/client.ts";
import {
  addMember,
  call,
  createTeam,
  expectError,
  expectStatus,
  openSocket,
  registerUser,
  type TestSocket,
  type TestUser,
} from "./helpers.ts";
import { script, standInRequests, useStandInKey } from "./anthropic-stand-in.ts";

type Frame = Record<string, unknown>;

async function teamWithAgents(owner: TestUser, n = 2) {
  const team = await createTeam(owner);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { agent } = await expectStatus(
      await call("POST", `/api/v1/teams/${team.id}/agents`, {
        token: owner.accessToken,
        body: {
          title: `Scientist ${i + 1}`,
          expertise: `field ${i + 1}`,
          goal: "find binders",
          role: "propose",
          model: "claude-sonnet-4-6",
        },
      }),
      201,
    );
    ids.push(agent.id);
  }
  return { team, agentIds: ids };
}

async function createMeeting(user: TestUser, teamId: string, body: Record<string, unknown>) {
  const res = await call("POST", `/api/v1/teams/${teamId}/meetings`, { token: user.accessToken, body });
  return (await expectStatus<{ meeting: { id: string; status: string; totalTurns: number; provider: string | null } }>(res, 201)).meeting;
}

async function waitFor(s: TestSocket, type: string, timeoutMs = 20_000): Promise<Frame> {
  return s.next((f) => f.type === type, timeoutMs);
}

async function waitForStatus(user: TestUser, meetingId: string, status: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 400; i++) {
    const { meeting } = await expectStatus(await call("GET", `/api/v1/meetings/${meetingId}`, { token: user.accessToken }), 200);
    if (meeting.status === status) return meeting;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`meeting ${meetingId} never reached ${status}`);
}

const reply = (text: string, extra: Record<string, unknown> = {}) => ({
  text,
  usage: { input_tokens: 1000, output_tokens: 200 },
  ...extra,
});
const SUMMARY =
  "### Agenda\nBinders.\n\n### Team Member Input\nAll agreed.\n\n### Recommendation\nUse design A.\n\n### Answers\n1. Which? A, because it binds.\n\n### Next Steps\nTest A.";

describe("meetings", () => {
  it("a team meeting on the offline model streams to watchers and stores N·(M+1)+1 turns with a structured summary", async () => {
    const owner = await registerUser("mt");
    const { team, agentIds } = await teamWithAgents(owner, 2);
    const meeting = await createMeeting(owner, team.id, {
      type: "team",
      agenda: "Design nanobodies for the new variant",
      agendaQuestions: ["Which scaffold?"],
      rounds: 2,
      memberAgentIds: agentIds,
      critic: false,
    });
    expect(meeting.totalTurns).toBe(2 * (2 + 1) + 1);
    const watcher = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
    watcher.ws.send(JSON.stringify({ type: "start" }));
    const done = await waitFor(watcher, "meeting_complete", 30_000);
    const messages = watcher.frames
      .filter((f) => f.type === "message")
      .map((f) => f.message as { turnIndex: number; speaker: string; text: string });
    expect(messages.map((m) => m.turnIndex)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(messages[0]?.speaker).toBe("Principal Investigator");
    expect(watcher.frames.filter((f) => f.type === "token").length).toBeGreaterThan(0);
    expect(watcher.frames.filter((f) => f.type === "round_start").map((f) => f.round)).toEqual([1, 2, 3]);
    expect(done.summaryText).toContain("Offline model");
    expect(done.summary).toMatchObject({ recommendation: expect.any(String), nextSteps: expect.any(String) });

    const seqs = watcher.frames.filter((f) => typeof f.seq === "number").map((f) => f.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);

    const stored = await waitForStatus(owner, meeting.id, "completed");
    expect(stored).toMatchObject({ provider: "offline", completedTurns: 7, costUsd: 0 });
    const { messages: transcript } = await expectStatus(
      await call("GET", `/api/v1/meetings/${meeting.id}/transcript`, { token: owner.accessToken }),
      200,
    );
    expect(transcript.map((m: { text: string }) => m.text)).toEqual(messages.map((m) => m.text));
    const md = await call("GET", `/api/v1/meetings/${meeting.id}/export?format=md`, { token: owner.accessToken });
    expect(md.headers.get("Content-Disposition")).toMatch(/attachment; filename=".+\.md"/);
    expect(await md.text()).toContain("## Transcript");
    watcher.close();
  });

  it("runs through the real Anthropic SDK with the user's key, pricing each turn from the API's usage", async () => {
    const owner = await registerUser("mk");
    const apiKey = await useStandInKey(owner);
    const { team, agentIds } = await teamWithAgents(owner, 1);
    await script(apiKey, [reply("My answer: scaffold A."), reply("Critique: check stability."), reply(SUMMARY)]);
    const meeting = await createMeeting(owner, team.id, {
      type: "individual",
      agenda: "Pick a scaffold",
      agendaQuestions: ["Which?"],
      agendaRules: ["Be brief"],
      rounds: 1,
      memberAgentId: agentIds[0],
      start: true,
    });
    expect(meeting.provider).toBe("anthropic");
    const done = await waitForStatus(owner, meeting.id, "completed");
    // 3 calls at $3 / $15 per million tokens: 1000 in + 200 out each.
    expect(done.costUsd as number).toBeCloseTo((3 * (1000 * 3 + 200 * 15)) / 1e6, 6);
    expect(done.summary).toMatchObject({ recommendation: expect.stringContaining("design A") });
    const requests = await standInRequests(apiKey);
    expect(requests).toHaveLength(3);
    const first = JSON.stringify(requests[0]?.body);
    expect(first).toContain("Pick a scaffold");
    expect(first).toContain("Be brief");
    const usage = await expectStatus(await call("GET", "/api/v1/usage", { token: owner.accessToken }), 200);
    expect(usage.calls).toBe(3);
    expect(usage.costUsd).toBeCloseTo(done.costUsd as number, 6);
    // The key itself is never returned and is not stored in plaintext.
    const keys = await expectStatus(await call("GET", "/api/v1/me/api-keys", { token: owner.accessToken }), 200);
    expect(JSON.stringify(keys)).not.toContain(apiKey);
    expect(keys.keys[0].hint).toBe(`…${apiKey.slice(-4)}`);
    const [row] = await getDb(env).select().from(userApiKeys).where(eq(userApiKeys.userId, owner.id));
    expect(row?.ciphertext).not.toContain(apiKey.slice(12));
  });

  it("a socket that reconnects with since=N gets exactly the events it missed, then live ones", async () => {
    const owner = await registerUser("ms");
    const apiKey = await useStandInKey(owner);
    const { team, agentIds } = await teamWithAgents(owner, 1);
    await script(apiKey, [
      reply("first answer with several words in it", { tokenDelayMs: 15 }),
      reply("a critique with words", { tokenDelayMs: 15 }),
      reply(SUMMARY, { tokenDelayMs: 5 }),
    ]);
    const meeting = await createMeeting(owner, team.id, { type: "individual", agenda: "Replay", rounds: 1, memberAgentId: agentIds[0] });
    const full = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
    const partial = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
    full.ws.send(JSON.stringify({ type: "start" }));
    const cut = await partial.next((f) => f.type === "message");
    partial.close();
    const resumed = await openSocket(`/api/v1/meetings/${meeting.id}/ws?since=${cut.seq as number}`, owner.accessToken);
    await waitFor(full, "meeting_complete", 30_000);
    await waitFor(resumed, "meeting_complete", 30_000);
    const seqsOf = (frames: Frame[]) =>
      frames.filter((f) => typeof f.seq === "number" && f.type !== "presence").map((f) => f.seq as number);
    const before = seqsOf(partial.frames).filter((s) => s <= (cut.seq as number));
    const after = seqsOf(resumed.frames);
    expect(after[0]).toBe((cut.seq as number) + 1);
    expect(new Set(after).size).toBe(after.length);
    // Together they are exactly what the uninterrupted socket saw.
    const fullSeqs = seqsOf(full.frames).filter((s) => s <= (after[after.length - 1] ?? 0));
    expect([...before.filter((s) => s >= (fullSeqs[0] ?? 0)), ...after].filter((s) => s >= (fullSeqs[0] ?? 0))).toEqual(
      fullSeqs.filter((s) => before.includes(s) || after.includes(s)),
    );
    expect(after.filter((s) => fullSeqs.includes(s))).toEqual(fullSeqs.filter((s) => s > (cut.seq as number)));
    full.close();
    resumed.close();
  });

  it("a late joiner gets each finished turn as one message (not every streamed delta) and the same transcript", async () => {
    const owner = await registerUser("ml");
    const apiKey = await useStandInKey(owner);
    const { team, agentIds } = await teamWithAgents(owner, 1);
    const long = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");
    await script(apiKey, [
      reply(long, { tokenDelayMs: 20 }),
      reply("a critique with words", { tokenDelayMs: 20 }),
      reply(SUMMARY, { tokenDelayMs: 2 }),
    ]);
    const meeting = await createMeeting(owner, team.id, { type: "individual", agenda: "Late", rounds: 1, memberAgentId: agentIds[0] });
    const early = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
    early.ws.send(JSON.stringify({ type: "start" }));
    await waitFor(early, "meeting_complete", 30_000);
    const late = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
    await waitFor(late, "meeting_complete");
    const messagesOf = (frames: Frame[]) => frames.filter((f) => f.type === "message").map((f) => f.message);
    expect(early.frames.filter((f) => f.type === "token").length).toBeGreaterThan(0);
    expect(late.frames.filter((f) => f.type === "token")).toEqual([]);
    expect(messagesOf(late.frames)).toEqual(messagesOf(early.frames));
    expect(late.frames.find((f) => f.type === "meeting_complete")).toEqual(early.frames.find((f) => f.type === "meeting_complete"));
    // Seqs still only grow, so a reconnect with since= continues from the last one.
    const seqs = late.frames.map((f) => f.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    early.close();
    late.close();
  });

  it("presence counts everyone watching, and a crowd arriving together is announced in a few events, not one per join", async () => {
    const owner = await registerUser("mp");
    const { team, agentIds } = await teamWithAgents(owner, 1);
    const meeting = await createMeeting(owner, team.id, { type: "individual", agenda: "Crowd", rounds: 1, memberAgentId: agentIds[0] });
    const first = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
    expect(await waitFor(first, "presence")).toMatchObject({ users: 1, connections: 1 });
    const crowd = await Promise.all(Array.from({ length: 20 }, () => openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken)));
    const settled = await first.next((f) => f.type === "presence" && f.connections === 21, 5_000);
    expect(settled).toMatchObject({ users: 1, viewers: [expect.objectContaining({ userId: owner.id, connections: 21 })] });
    expect(first.frames.filter((f) => f.type === "presence").length).toBeLessThanOrEqual(4);
    for (const s of crowd) s.close();
    expect(await first.next((f) => f.type === "presence" && f.connections === 1, 5_000)).toMatchObject({ users: 1 });
    first.close();
  });

  it("a viewer watches but cannot start or interject", async () => {
    const owner = await registerUser("mo");
    const viewer = await registerUser("mv");
    const { team, agentIds } = await teamWithAgents(owner, 1);
    await addMember(owner, team.id, viewer, "viewer");
    const meeting = await createMeeting(owner, team.id, {
      type: "individual",
      agenda: "Watch only",
      rounds: 1,
      memberAgentId: agentIds[0],
    });
    const s = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, viewer.accessToken);
    s.ws.send(JSON.stringify({ type: "start" }));
    expect(await waitFor(s, "error")).toMatchObject({ code: "FORBIDDEN" });
    s.ws.send(JSON.stringify({ type: "interject", text: "let me in" }));
    expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "FORBIDDEN" });
    const { meeting: still } = await expectStatus(await call("GET", `/api/v1/meetings/${meeting.id}`, { token: viewer.accessToken }), 200);
    expect(still.status).toBe("pending");
    await expectError(
      await call("POST", `/api/v1/teams/${team.id}/meetings`, {
        token: viewer.accessToken,
        body: { type: "individual", agenda: "x", rounds: 1, memberAgentId: agentIds[0] },
      }),
      403,
      "FORBIDDEN",
    );
    s.close();
  });

  it("an interjection lands at the next turn boundary, with the person's name, and the next speaker sees it", async () => {
    const owner = await registerUser("mi");
    const apiKey = await useStandInKey(owner);
    const { team, agentIds } = await teamWithAgents(owner, 1);
    await script(apiKey, [
      reply("a slow first answer that takes a while to stream out", { tokenDelayMs: 40 }),
      reply("critique"),
      reply(SUMMARY),
    ]);
    const meeting = await createMeeting(owner, team.id, { type: "individual", agenda: "Interject", rounds: 1, memberAgentId: agentIds[0] });
    const s = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
    s.ws.send(JSON.stringify({ type: "start" }));
    await s.next((f) => f.type === "token");
    s.ws.send(JSON.stringify({ type: "interject", text: "Consider thermal stability too." }));
    await waitFor(s, "meeting_complete", 30_000);
    const messages = s.frames
      .filter((f) => f.type === "message")
      .map((f) => f.message as { kind: string; speaker: string; turnIndex: number | null });
    expect(messages.map((m) => m.kind)).toEqual(["individual_answer", "interjection", "critic", "final_answer"]);
    expect(messages[1]?.speaker).toBe(owner.username);
    const requests = await standInRequests(apiKey);
    expect(JSON.stringify(requests[1]?.body)).toContain("Consider thermal stability too.");
    expect(JSON.stringify(requests[0]?.body)).not.toContain("Consider thermal stability too.");
    s.close();
  });

  it("the cost budget stops the meeting before a call that could exceed it, keeping the transcript", async () => {
    const owner = await registerUser("mb");
    const apiKey = await useStandInKey(owner);
    const { team, agentIds } = await teamWithAgents(owner, 1);
    // The first turn's real usage leaves less than a worst-case second turn.
    await script(apiKey, [{ text: "expensive answer", usage: { input_tokens: 1000, output_tokens: 26_000 } }, reply("never sent")]);
    const meeting = await createMeeting(owner, team.id, {
      type: "individual",
      agenda: "Budget",
      rounds: 1,
      memberAgentId: agentIds[0],
      maxCostUsd: 0.45,
      start: true,
    });
    const failed = await waitForStatus(owner, meeting.id, "failed");
    expect(failed.errorCode).toBe("BUDGET_EXCEEDED");
    expect(await standInRequests(apiKey)).toHaveLength(1);
    const { messages } = await expectStatus(
      await call("GET", `/api/v1/meetings/${meeting.id}/transcript`, { token: owner.accessToken }),
      200,
    );
    expect(messages).toHaveLength(1);
  });

  it("retries provider 429 and 529 with backoff, and fails with a clear code when they persist", async () => {
    const owner = await registerUser("mr");
    const apiKey = await useStandInKey(owner);
    const { team, agentIds } = await teamWithAgents(owner, 1);
    await script(apiKey, [
      { kind: "rate_limit", retryAfterSeconds: 0 },
      { kind: "overloaded" },
      reply("ok after retries"),
      ...Array(5).fill({ kind: "overloaded" }),
    ]);
    const meeting = await createMeeting(owner, team.id, {
      type: "individual",
      agenda: "Flaky provider",
      rounds: 1,
      memberAgentId: agentIds[0],
      start: true,
    });
    const failed = await waitForStatus(owner, meeting.id, "failed");
    expect(failed.errorCode).toBe("PROVIDER_OVERLOADED");
    const { messages } = await expectStatus(
      await call("GET", `/api/v1/meetings/${meeting.id}/transcript`, { token: owner.accessToken }),
      200,
    );
    expect(messages.map((m: { text: string }) => m.text)).toEqual(["ok after retries"]);
  });

  it("resumes from the last finished turn after the object is restarted mid-round, running no turn twice", async () => {
    const owner = await registerUser("mz");
    const apiKey = await useStandInKey(owner);
    const { team, agentIds } = await teamWithAgents(owner, 2);
    const slow = { tokenDelayMs: 25 };
    await script(apiKey, [
      reply("lead opens the meeting", slow),
      reply("member one speaks at some length here", slow),
      // The restart interrupts this turn while it streams; after it the turn is asked again.
      reply(Array.from({ length: 80 }, (_, i) => `word${i}`).join(" "), { tokenDelayMs: 30 }),
      reply("member two speaks again", slow),
      reply(SUMMARY),
    ]);
    const meeting = await createMeeting(owner, team.id, {
      type: "team",
      agenda: "Restart",
      rounds: 1,
      memberAgentIds: agentIds,
      critic: false,
    });
    const s = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
    s.ws.send(JSON.stringify({ type: "start" }));
    await s.next((f) => f.type === "token" && f.turnIndex === 2, 20_000);
    await abortAllDurableObjects();
    const done = await waitForStatus(owner, meeting.id, "completed");
    expect(done.completedTurns).toBe(4);
    const { messages } = await expectStatus(
      await call("GET", `/api/v1/meetings/${meeting.id}/transcript`, { token: owner.accessToken }),
      200,
    );
    expect(messages.map((m: { turnIndex: number }) => m.turnIndex)).toEqual([0, 1, 2, 3]);
    expect(messages[2].text).toBe("member two speaks again");
    expect(await standInRequests(apiKey)).toHaveLength(5);
    const stub = env.MEETING_ROOM.get(env.MEETING_ROOM.idFromName(meeting.id));
    expect(await runInDurableObject(stub, (room) => room.state())).toMatchObject({ status: "completed", completedTurns: 4 });
  });

  it("branches from a finished turn, sharing the transcript up to it", async () => {
    const owner = await registerUser("mbr");
    const { team, agentIds } = await teamWithAgents(owner, 1);
    const source = await createMeeting(owner, team.id, {
      type: "individual",
      agenda: "Branch me",
      rounds: 2,
      memberAgentId: agentIds[0],
      critic: true,
      start: true,
    });
    await waitForStatus(owner, source.id, "completed");
    const { meeting: branch } = await expectStatus(
      await call("POST", `/api/v1/meetings/${source.id}/branch`, {
        token: owner.accessToken,
        body: { fromTurnIndex: 1, rounds: 1, start: true },
      }),
      201,
    );
    expect(branch.parentMeetingId).toBe(source.id);
    await waitForStatus(owner, branch.id, "completed");
    const a = (await expectStatus(await call("GET", `/api/v1/meetings/${source.id}/transcript`, { token: owner.accessToken }), 200))
      .messages;
    const b = (await expectStatus(await call("GET", `/api/v1/meetings/${branch.id}/transcript`, { token: owner.accessToken }), 200))
      .messages;
    expect(b.slice(0, 2).map((m: { text: string }) => m.text)).toEqual(a.slice(0, 2).map((m: { text: string }) => m.text));
    expect(b.length).toBeGreaterThan(2);
    await expectError(
      await call("POST", `/api/v1/meetings/${source.id}/branch`, { token: owner.accessToken, body: { fromTurnIndex: 99 } }),
      422,
      "BRANCH_POINT_INVALID",
    );
  });

  it("parallel-and-merge runs K copies and then a merge meeting that cites its sources", async () => {
    const owner = await registerUser("mpm");
    const { team, agentIds } = await teamWithAgents(owner, 1);
    const res = await call("POST", `/api/v1/teams/${team.id}/meetings/parallel`, {
      token: owner.accessToken,
      body: { type: "individual", agenda: "Parallel", rounds: 1, memberAgentId: agentIds[0], critic: false, copies: 2, start: true },
    });
    const { groupId, meetings } = await expectStatus(res, 201);
    expect(meetings).toHaveLength(2);
    expect(meetings.every((m: { config: { temperature: number } }) => m.config.temperature === 0.8)).toBe(true);
    let merge: { id: string; mergeRole: string; config: { temperature: number } } | undefined;
    for (let i = 0; i < 400 && !merge; i++) {
      const { meetings: all } = await expectStatus(
        await call("GET", `/api/v1/teams/${team.id}/meetings`, { token: owner.accessToken }),
        200,
      );
      merge = all.find((m: { mergeGroupId: string; mergeRole: string }) => m.mergeGroupId === groupId && m.mergeRole === "merge");
      if (!merge) await new Promise((r) => setTimeout(r, 50));
    }
    expect(merge).toBeDefined();
    expect(merge?.config.temperature).toBe(0.2);
    const done = await waitForStatus(owner, merge!.id, "completed");
    expect(done.summaryText).toMatch(/Summary 1|Summary 2/);
  });
});
