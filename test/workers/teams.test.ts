import { describe, expect, it } from "vitest";
import { addMember, call, createTeam, expectError, expectStatus, makeAdmin, registerUser, sampleAgent } from "./helpers.ts";

describe("teams and members", () => {
  it("the creator owns a new team and sees it in their list with their role", async () => {
    const owner = await registerUser("tm");
    const team = await createTeam(owner, "Protein design");
    const list = await expectStatus(await call("GET", "/api/v1/teams", { token: owner.accessToken }), 200);
    expect(list.teams).toEqual([expect.objectContaining({ id: team.id, name: "Protein design", role: "owner" })]);
    const other = await registerUser("tmo");
    const theirs = await expectStatus(await call("GET", "/api/v1/teams", { token: other.accessToken }), 200);
    expect(theirs.teams).toEqual([]);
  });

  it("owners add members by username or email, change roles and remove them", async () => {
    const owner = await registerUser("own");
    const alice = await registerUser("ali");
    const bob = await registerUser("bob");
    const team = await createTeam(owner);
    await expectStatus(
      await call("POST", `/api/v1/teams/${team.id}/members`, { token: owner.accessToken, body: { user: alice.username, role: "editor" } }),
      201,
    );
    await expectStatus(
      await call("POST", `/api/v1/teams/${team.id}/members`, {
        token: owner.accessToken,
        body: { user: bob.email.toUpperCase(), role: "viewer" },
      }),
      201,
    );
    await expectError(
      await call("POST", `/api/v1/teams/${team.id}/members`, { token: owner.accessToken, body: { user: bob.username, role: "editor" } }),
      409,
      "ALREADY_MEMBER",
    );
    await expectError(
      await call("POST", `/api/v1/teams/${team.id}/members`, {
        token: owner.accessToken,
        body: { user: "nobody-here-123", role: "editor" },
      }),
      404,
      "USER_NOT_FOUND",
    );

    const { members } = await expectStatus(await call("GET", `/api/v1/teams/${team.id}/members`, { token: bob.accessToken }), 200);
    expect(members.map((m: { username: string; role: string }) => [m.username, m.role])).toEqual([
      [owner.username, "owner"],
      [alice.username, "editor"],
      [bob.username, "viewer"],
    ]);

    const changed = await expectStatus(
      await call("PATCH", `/api/v1/teams/${team.id}/members/${bob.id}`, { token: owner.accessToken, body: { role: "editor" } }),
      200,
    );
    expect(changed.member.role).toBe("editor");
    await expectStatus(await call("DELETE", `/api/v1/teams/${team.id}/members/${bob.id}`, { token: owner.accessToken }), 204);
    await expectError(await call("GET", `/api/v1/teams/${team.id}`, { token: bob.accessToken }), 404, "TEAM_NOT_FOUND");
  });

  it("the last owner can neither leave nor be demoted, but can once another owner exists", async () => {
    const owner = await registerUser("last");
    const other = await registerUser("next");
    const team = await createTeam(owner);
    await addMember(owner, team.id, other, "editor");
    await expectError(
      await call("DELETE", `/api/v1/teams/${team.id}/members/${owner.id}`, { token: owner.accessToken }),
      409,
      "LAST_OWNER",
    );
    await expectError(
      await call("PATCH", `/api/v1/teams/${team.id}/members/${owner.id}`, { token: owner.accessToken, body: { role: "editor" } }),
      409,
      "LAST_OWNER",
    );
    await expectStatus(
      await call("PATCH", `/api/v1/teams/${team.id}/members/${other.id}`, { token: owner.accessToken, body: { role: "owner" } }),
      200,
    );
    await expectStatus(
      await call("PATCH", `/api/v1/teams/${team.id}/members/${owner.id}`, { token: owner.accessToken, body: { role: "editor" } }),
      200,
    );
    // Now `other` is the last owner.
    await expectError(
      await call("DELETE", `/api/v1/teams/${team.id}/members/${other.id}`, { token: other.accessToken }),
      409,
      "LAST_OWNER",
    );
  });

  it("any member may leave a team on their own", async () => {
    const owner = await registerUser("o");
    const viewer = await registerUser("v");
    const team = await createTeam(owner);
    await addMember(owner, team.id, viewer, "viewer");
    await expectStatus(await call("DELETE", `/api/v1/teams/${team.id}/members/${viewer.id}`, { token: viewer.accessToken }), 204);
    const list = await expectStatus(await call("GET", "/api/v1/teams", { token: viewer.accessToken }), 200);
    expect(list.teams).toEqual([]);
  });

  it("deleting a team removes its agents and members", async () => {
    const owner = await registerUser("del");
    const team = await createTeam(owner);
    const { agent } = await expectStatus(
      await call("POST", `/api/v1/teams/${team.id}/agents`, { token: owner.accessToken, body: sampleAgent }),
      201,
    );
    await expectStatus(await call("DELETE", `/api/v1/teams/${team.id}`, { token: owner.accessToken }), 204);
    await expectError(
      await call("GET", `/api/v1/teams/${team.id}/agents/${agent.id}`, { token: owner.accessToken }),
      404,
      "TEAM_NOT_FOUND",
    );
  });
});

describe("agents", () => {
  it("editors create and edit agents with the Virtual Lab fields; viewers read them", async () => {
    const owner = await registerUser("ao");
    const editor = await registerUser("ae");
    const viewer = await registerUser("av");
    const team = await createTeam(owner);
    await addMember(owner, team.id, editor, "editor");
    await addMember(owner, team.id, viewer, "viewer");
    const created = await expectStatus(
      await call("POST", `/api/v1/teams/${team.id}/agents`, { token: editor.accessToken, body: sampleAgent }),
      201,
    );
    expect(created.agent).toMatchObject({ ...sampleAgent, teamId: team.id });
    const edited = await expectStatus(
      await call("PATCH", `/api/v1/teams/${team.id}/agents/${created.agent.id}`, {
        token: editor.accessToken,
        body: { temperature: null, model: "claude-opus-4-1" },
      }),
      200,
    );
    expect(edited.agent).toMatchObject({ temperature: null, model: "claude-opus-4-1", title: sampleAgent.title });
    const list = await expectStatus(await call("GET", `/api/v1/teams/${team.id}/agents`, { token: viewer.accessToken }), 200);
    expect(list.agents).toHaveLength(1);
    await expectError(
      await call("POST", `/api/v1/teams/${team.id}/agents`, { token: viewer.accessToken, body: sampleAgent }),
      403,
      "FORBIDDEN",
    );
  });

  it("an agent id from another team is not found through this team", async () => {
    const owner = await registerUser("x");
    const a = await createTeam(owner);
    const b = await createTeam(owner);
    const { agent } = await expectStatus(
      await call("POST", `/api/v1/teams/${a.id}/agents`, { token: owner.accessToken, body: sampleAgent }),
      201,
    );
    await expectError(await call("GET", `/api/v1/teams/${b.id}/agents/${agent.id}`, { token: owner.accessToken }), 404, "AGENT_NOT_FOUND");
  });

  it("rejects out-of-range temperatures and empty fields with 400 VALIDATION_FAILED", async () => {
    const owner = await registerUser("val");
    const team = await createTeam(owner);
    await expectError(
      await call("POST", `/api/v1/teams/${team.id}/agents`, { token: owner.accessToken, body: { ...sampleAgent, temperature: 1.5 } }),
      400,
      "VALIDATION_FAILED",
    );
    await expectError(
      await call("POST", `/api/v1/teams/${team.id}/agents`, { token: owner.accessToken, body: { ...sampleAgent, title: "  " } }),
      400,
      "VALIDATION_FAILED",
    );
  });
});

describe("administration", () => {
  it("admins list users, deactivate and reactivate them, and grant and revoke admin; all audited", async () => {
    const admin = await makeAdmin(await registerUser("boss"));
    const u = await registerUser("emp");
    const list = await expectStatus(await call("GET", `/api/v1/admin/users?q=${u.username}`, { token: admin.accessToken }), 200);
    expect(list.users).toEqual([expect.objectContaining({ id: u.id, isActive: true })]);
    expect(list.total).toBe(1);

    await expectStatus(await call("PATCH", `/api/v1/admin/users/${u.id}`, { token: admin.accessToken, body: { isActive: false } }), 200);
    // Deactivation also ends the user's sessions, and the access token already issued with them.
    await expectError(await call("POST", "/api/v1/auth/refresh", { body: { refreshToken: u.refreshToken } }), 401, "REFRESH_TOKEN_INVALID");
    await expectError(await call("GET", "/api/v1/teams", { token: u.accessToken }), 401, "SESSION_REVOKED");
    await expectStatus(
      await call("PATCH", `/api/v1/admin/users/${u.id}`, { token: admin.accessToken, body: { isActive: true, isAdmin: true } }),
      200,
    );
    await expectStatus(await call("PATCH", `/api/v1/admin/users/${u.id}`, { token: admin.accessToken, body: { isAdmin: false } }), 200);

    const audit = await expectStatus(
      await call("GET", `/api/v1/admin/audit?targetId=${u.id}&action=admin.`, { token: admin.accessToken }),
      200,
    );
    expect(audit.entries.map((e: { action: string }) => e.action)).toEqual([
      "admin.user.revoke_admin",
      "admin.user.grant_admin",
      "admin.user.reactivate",
      "admin.user.deactivate",
    ]);
    expect(audit.entries[0]).toMatchObject({ actorId: admin.id, actorName: admin.username, targetType: "user" });
  });

  it("pages through the audit log with a cursor", async () => {
    const admin = await makeAdmin(await registerUser("pager"));
    const first = await expectStatus(await call("GET", "/api/v1/admin/audit?limit=2", { token: admin.accessToken }), 200);
    expect(first.entries).toHaveLength(2);
    expect(first.nextBefore).toEqual(expect.any(Number));
    const second = await expectStatus(
      await call("GET", `/api/v1/admin/audit?limit=2&before=${first.nextBefore}`, { token: admin.accessToken }),
      200,
    );
    expect(second.entries[0].seq).toBeLessThan(first.entries[1].seq);
  });

  it("records membership changes in the audit log", async () => {
    const admin = await makeAdmin(await registerUser("aud"));
    const owner = await registerUser("mo");
    const m = await registerUser("mm");
    const team = await createTeam(owner);
    await addMember(owner, team.id, m, "viewer");
    await expectStatus(
      await call("PATCH", `/api/v1/teams/${team.id}/members/${m.id}`, { token: owner.accessToken, body: { role: "editor" } }),
      200,
    );
    await expectStatus(await call("DELETE", `/api/v1/teams/${team.id}/members/${m.id}`, { token: owner.accessToken }), 204);
    const audit = await expectStatus(
      await call("GET", `/api/v1/admin/audit?targetId=${m.id}&action=team.`, { token: admin.accessToken }),
      200,
    );
    expect(audit.entries.map((e: { action: string }) => e.action)).toEqual([
      "team.member.remove",
      "team.member.role_change",
      "team.member.add",
    ]);
  });
});
