import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { addMember, createTeam, openSocket, registerUser, type TestSocket } from "./helpers.ts";

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
