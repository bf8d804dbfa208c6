/**
 * A meeting keeps going, or ends in a defined state, when its input or its database misbehaves:
 * malformed interjections are refused at the socket, the interjection queue and the event log are
 * bounded, and Postgres refusing writes (triggers on the real tables stand in for an outage of
 * one meeting, so other suites sharing the database are unaffected) is retried with backoff and
 * ends in a paused meeting instead of one left "running" with nothing scheduled.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MEETING_SOCKET_LIMITS } from "../../durable-objects/meeting/protocol.ts";
import { getDb } from "../../worker/db/client.ts";
import { call, createTeam, expectStatus, openSocket, registerUser, type TestSocket, type TestUser } from "./helpers.ts";
import { script, standInRequests, useStandInKey } from "./anthropic-stand-in.ts";

type Frame = Record<string, unknown>;

async function teamWithAgent(owner: TestUser) {
  const team = await createTeam(owner);
  const { agent } = await expectStatus(
    await call("POST", `/api/v1/teams/${team.id}/agents`, {
      token: owner.accessToken,
      body: { title: "Scientist", expertise: "binders", goal: "find binders", role: "propose", model: "claude-sonnet-4-6" },
    }),
    201,
  );
  return { teamId: team.id, agentId: agent.id as string };
}

const reply = (text: string, extra: Record<string, unknown> = {}) => ({ text, usage: { input_tokens: 100, output_tokens: 20 }, ...extra });
const SUMMARY = "### Agenda\nA.\n\n### Team Member Input\nB.\n\n### Recommendation\nC.\n\n### Answers\nNone.\n\n### Next Steps\nD.";

async function createMeeting(user: TestUser, teamId: string, agentId: string, agenda: string) {
  const res = await call("POST", `/api/v1/teams/${teamId}/meetings`, {
    token: user.accessToken,
    body: { type: "individual", agenda, rounds: 1, memberAgentId: agentId },
  });
  return (await expectStatus<{ meeting: { id: string; totalTurns: number } }>(res, 201)).meeting;
}

async function waitForStatus(user: TestUser, meetingId: string, status: string, tries = 600): Promise<Record<string, unknown>> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    const { meeting } = await expectStatus(await call("GET", `/api/v1/meetings/${meetingId}`, { token: user.accessToken }), 200);
    if (meeting.status === status) return meeting;
    last = meeting.status;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`meeting ${meetingId} never reached ${status} (last: ${String(last)})`);
}

async function transcript(user: TestUser, meetingId: string): Promise<{ kind: string; text: string; position: number }[]> {
  return (await expectStatus(await call("GET", `/api/v1/meetings/${meetingId}/transcript`, { token: user.accessToken }), 200)).messages;
}

function room(meetingId: string) {
  return env.MEETING_ROOM.get(env.MEETING_ROOM.idFromName(meetingId));
}

/**
 * Makes Postgres refuse this meeting's writes with `sqlstate` (57P03 "cannot connect now" stands
 * for an outage; class 22 is a data error) until `end()`. `onlyInterjections` limits it to
 * inserting interjections.
 */
async function refuseWrites(meetingId: string, sqlstate: string, options: { onlyInterjections?: boolean } = {}) {
  const db = getDb(env);
  const name = `test_refuse_${meetingId.replace(/-/g, "")}`;
  await db.execute(
    sql.raw(
      `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test' USING ERRCODE = '${sqlstate}'; END $$`,
    ),
  );
  const onMessages = options.onlyInterjections
    ? `NEW.meeting_id = '${meetingId}' AND NEW.kind = 'interjection'`
    : `NEW.meeting_id = '${meetingId}'`;
  await db.execute(
    sql.raw(`CREATE TRIGGER ${name}_m BEFORE INSERT ON meeting_messages FOR EACH ROW WHEN (${onMessages}) EXECUTE FUNCTION ${name}()`),
  );
  if (!options.onlyInterjections) {
    await db.execute(
      sql.raw(`CREATE TRIGGER ${name}_s BEFORE UPDATE ON meetings FOR EACH ROW WHEN (NEW.id = '${meetingId}') EXECUTE FUNCTION ${name}()`),
    );
  }
  return {
    async end() {
      await db.execute(sql.raw(`DROP TRIGGER IF EXISTS ${name}_m ON meeting_messages`));
      await db.execute(sql.raw(`DROP TRIGGER IF EXISTS ${name}_s ON meetings`));
      await db.execute(sql.raw(`DROP FUNCTION IF EXISTS ${name}()`));
    },
  };
}

/** A string with a NUL or an unpaired surrogate somewhere in it. */
const malformedText = fc
  .tuple(fc.string({ maxLength: 40 }), fc.constantFrom("\u0000", "\uD800", "\uDFFF", "\uDBFF", "\uDC00"), fc.string({ maxLength: 40 }))
  .map(([a, bad, b]) => `x${a}${bad}${b}`);

async function nextError(s: TestSocket): Promise<Frame> {
  return s.next((f) => f.type === "error" && f.seq === undefined, 5_000);
}

describe("meeting resilience", () => {
  it("an interjection with a NUL or a lone surrogate gets a VALIDATION_FAILED error frame, and the meeting goes on to complete", async () => {
    const owner = await registerUser("rv");
    const apiKey = await useStandInKey(owner);
    const { teamId, agentId } = await teamWithAgent(owner);
    await script(apiKey, [reply("a slow first answer that streams for a while", { tokenDelayMs: 40 }), reply("critique"), reply(SUMMARY)]);
    const meeting = await createMeeting(owner, teamId, agentId, "Malformed interjections");
    const s = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);

    // Every malformed string is refused, whatever surrounds it, in a pending meeting too.
    await fc.assert(
      fc.asyncProperty(malformedText, async (text) => {
        s.ws.send(JSON.stringify({ type: "interject", text }));
        expect(await nextError(s)).toMatchObject({ code: "VALIDATION_FAILED" });
      }),
      { numRuns: 15 },
    );

    s.ws.send(JSON.stringify({ type: "start" }));
    await s.next((f) => f.type === "token", 10_000);
    s.ws.send(JSON.stringify({ type: "interject", text: "NUL here: \u0000" }));
    expect(await nextError(s)).toMatchObject({ code: "VALIDATION_FAILED", message: expect.stringContaining("NUL") });
    s.ws.send(JSON.stringify({ type: "interject", text: "Consider stability." }));
    await s.next((f) => f.type === "meeting_complete", 30_000);
    const messages = await transcript(owner, meeting.id);
    expect(messages.map((m) => m.kind)).toEqual(["individual_answer", "interjection", "critic", "final_answer"]);
    expect(messages[1]?.text).toBe("Consider stability.");
    s.close();
  });

  it("the interjection queue is bounded: past the cap the sender gets QUEUE_FULL, and over-long text BAD_FRAME", async () => {
    const owner = await registerUser("rq");
    const { teamId, agentId } = await teamWithAgent(owner);
    const meeting = await createMeeting(owner, teamId, agentId, "Queue cap");
    const s = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
    const cap = MEETING_SOCKET_LIMITS.maxPendingInterjections;
    for (let i = 0; i < cap; i++) s.ws.send(JSON.stringify({ type: "interject", text: `point ${i}` }));
    s.ws.send(JSON.stringify({ type: "interject", text: "one too many" }));
    expect(await nextError(s)).toMatchObject({ code: "QUEUE_FULL" });
    s.ws.send(JSON.stringify({ type: "interject", text: "x".repeat(MEETING_SOCKET_LIMITS.maxInterjectionChars + 1) }));
    expect(await nextError(s)).toMatchObject({ code: "BAD_FRAME" });
    expect(s.frames.filter((f) => f.type === "error")).toHaveLength(2);
    s.close();
  });

  it("an interjection Postgres refuses as data is dropped with an INTERJECTION_REJECTED event, and the meeting completes", async () => {
    const owner = await registerUser("rj");
    const apiKey = await useStandInKey(owner);
    const { teamId, agentId } = await teamWithAgent(owner);
    await script(apiKey, [reply("first answer, streamed slowly", { tokenDelayMs: 40 }), reply("critique"), reply(SUMMARY)]);
    const meeting = await createMeeting(owner, teamId, agentId, "Rejected interjection");
    const refusal = await refuseWrites(meeting.id, "22021", { onlyInterjections: true });
    try {
      const s = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
      s.ws.send(JSON.stringify({ type: "start" }));
      await s.next((f) => f.type === "token", 10_000);
      s.ws.send(JSON.stringify({ type: "interject", text: "This one cannot be saved." }));
      expect(await s.next((f) => f.type === "error" && f.code === "INTERJECTION_REJECTED", 20_000)).toMatchObject({
        message: expect.stringContaining(owner.username),
      });
      await s.next((f) => f.type === "meeting_complete", 30_000);
      expect((await transcript(owner, meeting.id)).map((m) => m.kind)).toEqual(["individual_answer", "critic", "final_answer"]);
      s.close();
    } finally {
      await refusal.end();
    }
  });

  it("a short Postgres outage at a turn boundary is retried with backoff: the meeting completes and no turn is asked twice", async () => {
    const owner = await registerUser("ro");
    const apiKey = await useStandInKey(owner);
    const { teamId, agentId } = await teamWithAgent(owner);
    await script(apiKey, [reply("first answer, streamed slowly", { tokenDelayMs: 40 }), reply("critique"), reply(SUMMARY)]);
    const meeting = await createMeeting(owner, teamId, agentId, "Short outage");
    const s = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
    s.ws.send(JSON.stringify({ type: "start" }));
    await s.next((f) => f.type === "token", 10_000);
    const outage = await refuseWrites(meeting.id, "57P03");
    try {
      // The first turn finishes while Postgres refuses it; the room keeps it and retries.
      await new Promise((r) => setTimeout(r, 2_500));
      expect(s.frames.some((f) => f.type === "message")).toBe(false);
      const state = await runInDurableObject(room(meeting.id), (r) => r.state());
      expect(state).toMatchObject({ status: "running", completedTurns: 0 });
      expect(await runInDurableObject(room(meeting.id), (_r, st) => st.storage.getAlarm())).not.toBeNull();
    } finally {
      await outage.end();
    }
    await s.next((f) => f.type === "meeting_complete", 30_000);
    expect((await transcript(owner, meeting.id)).map((m) => m.position)).toEqual([0, 1, 2]);
    expect(await standInRequests(apiKey)).toHaveLength(3);
    s.close();
  });

  it("a long Postgres outage pauses the meeting with DATABASE_UNAVAILABLE; Postgres gets the status once back, and resume finishes it", async () => {
    const owner = await registerUser("rl");
    const apiKey = await useStandInKey(owner);
    const { teamId, agentId } = await teamWithAgent(owner);
    await script(apiKey, [reply("first answer, streamed slowly", { tokenDelayMs: 40 }), reply("critique"), reply(SUMMARY)]);
    const meeting = await createMeeting(owner, teamId, agentId, "Long outage");
    const s = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
    s.ws.send(JSON.stringify({ type: "start" }));
    await s.next((f) => f.type === "token", 10_000);
    const outage = await refuseWrites(meeting.id, "57P03");
    try {
      const failed = await s.next((f) => f.type === "error" && f.code === "DATABASE_UNAVAILABLE", 40_000);
      expect(failed.message).toMatch(/paused/);
      expect(s.frames.find((f) => f.type === "meeting_state" && f.status === "paused")).toMatchObject({
        errorCode: "DATABASE_UNAVAILABLE",
      });
      // Not left with nothing scheduled: the room keeps trying to tell Postgres (the alarm is set
      // once this alarm's first try at it has failed).
      let alarm: number | null = null;
      for (let i = 0; i < 100 && alarm === null; i++) {
        alarm = await runInDurableObject(room(meeting.id), (_r, st) => st.storage.getAlarm());
        if (alarm === null) await new Promise((r) => setTimeout(r, 20));
      }
      expect(alarm).not.toBeNull();
      expect(await runInDurableObject(room(meeting.id), (r) => r.state())).toMatchObject({
        status: "paused",
        errorCode: "DATABASE_UNAVAILABLE",
      });
    } finally {
      await outage.end();
    }
    expect(await waitForStatus(owner, meeting.id, "paused")).toMatchObject({ errorCode: "DATABASE_UNAVAILABLE" });
    s.ws.send(JSON.stringify({ type: "resume" }));
    await s.next((f) => f.type === "meeting_complete", 30_000);
    expect(await waitForStatus(owner, meeting.id, "completed")).toMatchObject({ errorCode: null, completedTurns: 3 });
    expect((await transcript(owner, meeting.id)).map((m) => m.position)).toEqual([0, 1, 2]);
    expect(await standInRequests(apiKey)).toHaveLength(3);
    s.close();
  }, 90_000);

  it("the event log keeps no deltas of finished turns nor old presence, and a meeting whose log is full fails with EVENT_LOG_FULL", async () => {
    const owner = await registerUser("re");
    const { teamId, agentId } = await teamWithAgent(owner);
    const long = await call("POST", `/api/v1/teams/${teamId}/meetings`, {
      token: owner.accessToken,
      body: { type: "individual", agenda: "A long offline meeting", rounds: 3, memberAgentId: agentId, start: true },
    });
    const { meeting } = await expectStatus(long, 201);
    await waitForStatus(owner, meeting.id, "completed");
    const counts = await runInDurableObject(room(meeting.id), (_r, st) =>
      st.storage.sql
        .exec<{ type: string; n: number }>(
          "SELECT type, count(*) AS n FROM room_events WHERE seq < (SELECT max(seq) FROM room_events WHERE type = 'message') GROUP BY type",
        )
        .toArray(),
    );
    const byType = Object.fromEntries(counts.map((c) => [c.type, c.n]));
    expect(byType.message).toBe(meeting.totalTurns - 1);
    // Compaction runs every 64 events, so at most that many deltas can be left from the last turns.
    expect(byType.token ?? 0).toBeLessThan(64);
    expect(byType.presence ?? 0).toBeLessThanOrEqual(1);
    // A newcomer still gets the whole transcript.
    const late = await openSocket(`/api/v1/meetings/${meeting.id}/ws`, owner.accessToken);
    await late.next((f) => f.type === "meeting_complete");
    expect(late.frames.filter((f) => f.type === "message")).toHaveLength(meeting.totalTurns);
    late.close();

    // A log at its cap (filled with rows no replay sends) stops the next meeting step with a clear error.
    const full = await createMeeting(owner, teamId, agentId, "Full log");
    await runInDurableObject(room(full.id), (_r, st) => {
      for (let i = 1; i <= MEETING_SOCKET_LIMITS.maxLogEvents; i++) {
        st.storage.sql.exec("INSERT INTO room_events (seq, type, at, frame) VALUES (?, 'filler', 0, '{}')", -i);
      }
    });
    const s = await openSocket(`/api/v1/meetings/${full.id}/ws`, owner.accessToken);
    s.ws.send(JSON.stringify({ type: "start" }));
    expect(await waitForStatus(owner, full.id, "failed")).toMatchObject({ errorCode: "EVENT_LOG_FULL" });
    s.close();
  });
});
