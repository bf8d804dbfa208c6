import { env, exports } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { eq } from "drizzle-orm";
import { decodeJwt } from "jose";
import { refreshTokenFamilies, socketRooms } from "../../migrations/schema.ts";
import { getDb } from "../../worker/db/client.ts";
import { addMember, BASE, call, createTeam, expectStatus, login, makeAdmin, openSocket, registerUser, type TestSocket } from "./helpers.ts";

type Frame = Record<string, unknown>;
const isPresence = (f: Frame) => f.type === "presence";
const names = (f: Frame) => (f.viewers as { name: string }[]).map((v) => v.name);

async function teamWithTwo() {
  const owner = await registerUser("po");
  const viewer = await registerUser("pv");
  const team = await createTeam(owner);
  await addMember(owner, team.id, viewer, "viewer");
  return { owner, viewer, team };
}

describe("team presence room", () => {
  it("each viewer sees who else is viewing, live, and sees them leave", async () => {
    const { owner, viewer, team } = await teamWithTwo();
    const a = await openSocket(`/api/v1/teams/${team.id}/ws`, owner.accessToken);
    expect(names(await a.next(isPresence))).toEqual([owner.username]);
    const b = await openSocket(`/api/v1/teams/${team.id}/ws`, viewer.accessToken);
    const both = await a.next((f) => isPresence(f) && names(f).length === 2);
    expect(names(both).sort()).toEqual([owner.username, viewer.username].sort());
    expect((both.viewers as { role: string; name: string }[]).find((v) => v.name === viewer.username)?.role).toBe("viewer");
    b.close();
    const after = await a.next((f) => isPresence(f) && names(f).length === 1);
    expect(names(after)).toEqual([owner.username]);
    a.close();
  });

  it("two tabs of one user count as one viewer with two connections", async () => {
    const { owner, team } = await teamWithTwo();
    const a = await openSocket(`/api/v1/teams/${team.id}/ws`, owner.accessToken);
    const b = await openSocket(`/api/v1/teams/${team.id}/ws`, owner.accessToken);
    const f = await b.next(isPresence);
    expect(f.viewers).toEqual([expect.objectContaining({ name: owner.username, connections: 2 })]);
    a.close();
    b.close();
  });

  it("every event carries a growing seq and a reconnect with since=N replays exactly what was missed", async () => {
    const { owner, viewer, team } = await teamWithTwo();
    const a = await openSocket(`/api/v1/teams/${team.id}/ws`, owner.accessToken);
    const first = await a.next(isPresence);
    const lastSeen = first.seq as number;
    a.close();
    // While `a` is away, others come and go.
    const b = await openSocket(`/api/v1/teams/${team.id}/ws`, viewer.accessToken);
    await b.next(isPresence);
    b.close();
    await new Promise((r) => setTimeout(r, 50));

    const again = await openSocket(`/api/v1/teams/${team.id}/ws?since=${lastSeen}`, owner.accessToken);
    const own = await again.next((f) => isPresence(f) && names(f).includes(owner.username));
    const seqs = again.frames.filter(isPresence).map((f) => f.seq as number);
    expect(seqs[0]).toBe(lastSeen + 1);
    // Strictly increasing by one: no gap, no duplicate.
    expect(seqs).toEqual(seqs.map((_, i) => lastSeen + 1 + i));
    expect(own.seq).toBe(seqs[seqs.length - 1]);
    again.close();
  });

  it("answers bad frames with an error frame and a stable code, and keeps the socket open", async () => {
    const { owner, team } = await teamWithTwo();
    const s = await openSocket(`/api/v1/teams/${team.id}/ws`, owner.accessToken);
    await s.next(isPresence);
    s.ws.send("not json");
    expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "BAD_FRAME" });
    s.ws.send(JSON.stringify({ type: "start" }));
    expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "UNKNOWN_COMMAND" });
    s.ws.send(JSON.stringify({ type: "ping", extra: "x".repeat(20_000) }));
    expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "FRAME_TOO_LARGE" });
    s.ws.send(JSON.stringify({ type: "ping" }));
    expect(await s.next((f) => f.type === "pong")).toMatchObject({ type: "pong" });
    s.close();
  });

  it("refuses a malformed since", async () => {
    const { owner, team } = await teamWithTwo();
    await expect(openSocket(`/api/v1/teams/${team.id}/ws?since=-4`, owner.accessToken)).rejects.toThrow(/400/);
  });

  it("keeps its sockets through hibernation and replays correctly after the object is re-created", async () => {
    const { owner, viewer, team } = await teamWithTwo();
    const stub = env.TEAM_ROOM.get(env.TEAM_ROOM.idFromName(team.id));
    const a: TestSocket = await openSocket(`/api/v1/teams/${team.id}/ws`, owner.accessToken);
    const b: TestSocket = await openSocket(`/api/v1/teams/${team.id}/ws`, viewer.accessToken);
    const seen = await a.next((f) => isPresence(f) && names(f).length === 2);

    await evictDurableObject(stub);

    // The object is re-created from storage; both hibernated sockets are still attached.
    const viewers = await runInDurableObject(stub, (room) => room.viewers());
    expect(viewers.map((v) => v.name).sort()).toEqual([owner.username, viewer.username].sort());

    // A live event after the restart continues the seq and reaches the hibernated socket.
    b.close();
    const after = await a.next((f) => isPresence(f) && names(f).length === 1);
    expect(after.seq).toBe((seen.seq as number) + 1);

    // And a reconnect replays from storage.
    const c = await openSocket(`/api/v1/teams/${team.id}/ws?since=${seen.seq as number}`, viewer.accessToken);
    const replayed = await c.next(isPresence);
    expect(replayed.seq).toBe(after.seq);
    a.close();
    c.close();
  });
});

describe("sockets follow the user's access", () => {
  const revoked = (f: Frame) => f.type === "error" && f.code === "ACCESS_REVOKED";

  async function teamAndMeeting() {
    const owner = await registerUser("ao");
    const member = await registerUser("am");
    const team = await createTeam(owner);
    await addMember(owner, team.id, member, "editor");
    const { agent } = await expectStatus(
      await call("POST", `/api/v1/teams/${team.id}/agents`, {
        token: owner.accessToken,
        body: { title: "Chemist", expertise: "synthesis", goal: "find routes", role: "propose", model: "claude-sonnet-4-6" },
      }),
      201,
    );
    const { meeting } = await expectStatus(
      await call("POST", `/api/v1/teams/${team.id}/meetings`, {
        token: owner.accessToken,
        body: { type: "individual", agenda: "Access", rounds: 1, memberAgentId: agent.id },
      }),
      201,
    );
    return { owner, member, team, meetingId: meeting.id as string };
  }

  it("removal from the team closes the member's team and meeting sockets (error frame, then 1008); others stay", async () => {
    const { owner, member, team, meetingId } = await teamAndMeeting();
    const ownerTeam = await openSocket(`/api/v1/teams/${team.id}/ws`, owner.accessToken);
    const memberTeam = await openSocket(`/api/v1/teams/${team.id}/ws`, member.accessToken);
    const memberMeeting = await openSocket(`/api/v1/meetings/${meetingId}/ws`, member.accessToken);
    await memberTeam.next(isPresence);
    await expectStatus(await call("DELETE", `/api/v1/teams/${team.id}/members/${member.id}`, { token: owner.accessToken }), 204);
    expect(await memberTeam.next(revoked)).toMatchObject({ message: "You were removed from the team." });
    expect(await memberTeam.closed).toMatchObject({ code: 1008 });
    await memberMeeting.next(revoked);
    expect((await memberMeeting.closed).code).toBe(1008);
    // The owner's socket goes on and sees the member leave.
    expect(names(await ownerTeam.next((f) => isPresence(f) && names(f).length === 1))).toEqual([owner.username]);
    ownerTeam.close();
  });

  it("a demoted editor's open meeting socket loses command rights at once", async () => {
    const { owner, member, team, meetingId } = await teamAndMeeting();
    const s = await openSocket(`/api/v1/meetings/${meetingId}/ws`, member.accessToken);
    s.ws.send(JSON.stringify({ type: "pause" }));
    // As an editor the command is allowed (the pending meeting just cannot be paused).
    expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "INVALID_STATE" });
    await expectStatus(
      await call("PATCH", `/api/v1/teams/${team.id}/members/${member.id}`, { token: owner.accessToken, body: { role: "viewer" } }),
      200,
    );
    s.ws.send(JSON.stringify({ type: "pause" }));
    expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "FORBIDDEN", message: "A viewer may not send 'pause'." });
    s.ws.send(JSON.stringify({ type: "interject", text: "still here" }));
    expect(await s.next((f) => f.type === "error")).toMatchObject({ code: "FORBIDDEN" });
    expect(s.ws.readyState).toBe(WebSocket.OPEN);
    s.close();
  });

  it("deactivation closes every socket of the user", async () => {
    const { member, team, meetingId } = await teamAndMeeting();
    const admin = await makeAdmin(await registerUser("aa"));
    const t = await openSocket(`/api/v1/teams/${team.id}/ws`, member.accessToken);
    const m = await openSocket(`/api/v1/meetings/${meetingId}/ws`, member.accessToken);
    await expectStatus(
      await call("PATCH", `/api/v1/admin/users/${member.id}`, { token: admin.accessToken, body: { isActive: false } }),
      200,
    );
    expect(await t.next(revoked)).toMatchObject({ message: "Your account was deactivated." });
    expect((await t.closed).code).toBe(1008);
    await m.next(revoked);
    expect((await m.closed).code).toBe(1008);
    // And the old token opens no new one.
    await expect(openSocket(`/api/v1/teams/${team.id}/ws`, member.accessToken)).rejects.toThrow(/401.*SESSION_REVOKED/);
  });

  it("logout closes the sockets of that session only", async () => {
    const { member, team } = await teamAndMeeting();
    const other = await expectStatus<{ accessToken: string; refreshToken: string }>(await login(member.username, member.password), 200);
    const mine = await openSocket(`/api/v1/teams/${team.id}/ws`, member.accessToken);
    const elsewhere = await openSocket(`/api/v1/teams/${team.id}/ws`, other.accessToken);
    await elsewhere.next((f) => isPresence(f) && (f.viewers as { connections: number }[])[0]?.connections === 2);
    await expectStatus(await call("POST", "/api/v1/auth/logout", { body: { refreshToken: member.refreshToken } }), 204);
    expect(await mine.next(revoked)).toMatchObject({ message: "You signed out." });
    expect((await mine.closed).code).toBe(1008);
    await elsewhere.next((f) => isPresence(f) && (f.viewers as { connections: number }[])[0]?.connections === 1);
    expect(elsewhere.ws.readyState).toBe(WebSocket.OPEN);
    elsewhere.close();
  });

  it("signing in forgets the rooms of the user's ended sessions, and keeps those of live ones", async () => {
    const { member, team } = await teamAndMeeting();
    const other = await expectStatus<{ accessToken: string; familyId?: string }>(await login(member.username, member.password), 200);
    for (const token of [member.accessToken, other.accessToken]) {
      const socket = await openSocket(`/api/v1/teams/${team.id}/ws`, token);
      await socket.next(isPresence);
      socket.close();
    }
    const db = getDb(env);
    const families = async () =>
      (await db.select({ familyId: socketRooms.familyId }).from(socketRooms).where(eq(socketRooms.userId, member.id))).map(
        (r) => r.familyId,
      );
    const [first, second] = [member.accessToken, other.accessToken].map((t) => decodeJwt(t).fam as string);
    expect((await families()).sort()).toEqual([first, second].sort());
    // The first session runs out without anyone revoking it.
    await db
      .update(refreshTokenFamilies)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(refreshTokenFamilies.id, first as string));
    await expectStatus(await login(member.username, member.password), 200);
    expect(await families()).toEqual([second]);
  });

  it("deleting the team closes everyone's sockets to it", async () => {
    const { owner, member, team } = await teamAndMeeting();
    const a = await openSocket(`/api/v1/teams/${team.id}/ws`, owner.accessToken);
    const b = await openSocket(`/api/v1/teams/${team.id}/ws`, member.accessToken);
    await expectStatus(await call("DELETE", `/api/v1/teams/${team.id}`, { token: owner.accessToken }), 204);
    expect((await a.closed).code).toBe(1008);
    expect((await b.closed).code).toBe(1008);
  });
});

describe("socket subprotocols", () => {
  async function upgrade(path: string, protocols: string): Promise<Response> {
    return exports.default.fetch(new Request(`${BASE}${path}`, { headers: { Upgrade: "websocket", "Sec-WebSocket-Protocol": protocols } }));
  }

  it("selects atrium.v1 when offered with the bearer protocol (the token is not echoed), else echoes the bearer protocol", async () => {
    const { owner, team } = await teamWithTwo();
    const pair = await upgrade(`/api/v1/teams/${team.id}/ws`, `atrium.v1, atrium.bearer.${owner.accessToken}`);
    expect(pair.status).toBe(101);
    expect(pair.headers.get("Sec-WebSocket-Protocol")).toBe("atrium.v1");
    pair.webSocket?.accept();
    pair.webSocket?.close(1000);
    const only = await upgrade(`/api/v1/teams/${team.id}/ws`, `atrium.bearer.${owner.accessToken}`);
    expect(only.status).toBe(101);
    expect(only.headers.get("Sec-WebSocket-Protocol")).toBe(`atrium.bearer.${owner.accessToken}`);
    only.webSocket?.accept();
    only.webSocket?.close(1000);
  });
});
