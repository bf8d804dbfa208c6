/**
 * Desktop sessions in workerd, with the test playing the node-bridge: placement and quotas,
 * commands reaching the bridge with their status written through to Postgres, redelivery after
 * a reconnect, duplicate answers, reconciliation with the bridge's report, heartbeat loss, the
 * session lifecycle and ownership.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { and, count, eq, inArray } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { bridgeCommands, bridges, desktopSessions } from "../../migrations/schema.ts";
import { ACTIVE_STATES } from "../../durable-objects/desktop/protocol.ts";
import { getDb } from "../../worker/db/client.ts";
import {
  createTemplate,
  eventually,
  GENEROUS_SETTINGS,
  getSession,
  putSettings,
  runningSession,
  startSession,
  TestBridge,
  ticketFor,
  uniqueRegion,
  waitForState,
} from "./desktop-helpers.ts";
import { call, expectError, expectStatus, makeAdmin, registerUser, type TestUser } from "./helpers.ts";

let admin: TestUser;
let templateId: string;

beforeAll(async () => {
  admin = await makeAdmin(await registerUser("dsa"));
  await putSettings(admin, GENEROUS_SETTINGS);
  templateId = (await createTemplate(admin, { cpu: 2, memoryMb: 3072, env: { LANG: "en_US.UTF-8" } })).id;
});

const db = () => getDb(env);
const commandRow = async (id: string) => (await db().select().from(bridgeCommands).where(eq(bridgeCommands.id, id)))[0];
const hub = (bridgeId: string) => env.BRIDGE_HUB.get(env.BRIDGE_HUB.idFromName(bridgeId));
const bridgeRow = async (id: string) => (await db().select().from(bridges).where(eq(bridges.id, id)))[0];

describe("placement and quotas", () => {
  it("places on an online bridge in the preferred region, and elsewhere when that region is full", async () => {
    const user = await registerUser("dp");
    const east = await TestBridge.online(admin, { capacity: 1 });
    const west = await TestBridge.online(admin, { capacity: 5 });
    const inWest = await startSession(user, templateId, { region: west.region });
    expect(inWest.bridgeId).toBe(west.id);
    const inEast = await startSession(user, templateId, { region: east.region });
    expect(inEast.bridgeId).toBe(east.id);
    // East is full now: the preference gives way to a bridge with room.
    const overflow = await startSession(user, templateId, { region: east.region });
    expect(overflow.bridgeId).not.toBe(east.id);
    await east.disconnect();
    await west.disconnect();
  });

  it("refuses with NO_CAPACITY when no bridge of the platform has a free slot, counting only active sessions", async () => {
    const user = await registerUser("dn");
    const online = await db()
      .select({ n: count() })
      .from(bridges)
      .where(and(eq(bridges.platform, "kubernetes"), eq(bridges.status, "online"), eq(bridges.draining, false)));
    expect(online[0]?.n, "no other kubernetes bridge may be online for this test").toBe(0);
    const k8s = await TestBridge.online(admin, { platform: "kubernetes", capacity: 1 });
    try {
      const first = await runningSession(user, templateId, k8s);
      const refused = await call("POST", "/api/v1/desktops", {
        token: user.accessToken,
        body: { templateId, platform: "kubernetes", region: k8s.region },
      });
      const body = await expectStatus(refused, 409);
      expect(body.error).toMatchObject({ code: "NO_CAPACITY", details: { platform: "kubernetes" } });
      // A hibernated desktop frees its slot.
      await expectStatus(await call("POST", `/api/v1/desktops/${first.id}/hibernate`, { token: user.accessToken }), 202);
      const hibernate = await k8s.commandFor(first.id, "hibernate_session");
      k8s.complete(hibernate.id);
      await waitForState(user, first.id, "hibernated");
      await startSession(user, templateId, { platform: "kubernetes" });
    } finally {
      await expectStatus(await call("DELETE", `/api/v1/admin/bridges/${k8s.id}`, { token: admin.accessToken }), 204);
    }
  });

  it("refuses with QUOTA_EXCEEDED past the per-user limit (hibernated sessions count, stopped ones do not)", async () => {
    const user = await registerUser("dq");
    const bridge = await TestBridge.online(admin);
    await putSettings(admin, { ...GENEROUS_SETTINGS, perUserSessionLimit: 1 });
    try {
      const { id } = await runningSession(user, templateId, bridge);
      const refused = await expectStatus(
        await call("POST", "/api/v1/desktops", { token: user.accessToken, body: { templateId, region: bridge.region } }),
        429,
      );
      expect(refused.error).toMatchObject({ code: "QUOTA_EXCEEDED", details: { scope: "user", limit: 1, current: 1 } });
      await expectStatus(await call("POST", `/api/v1/desktops/${id}/stop`, { token: user.accessToken }), 202);
      bridge.complete((await bridge.commandFor(id, "stop_session")).id);
      await waitForState(user, id, "stopped");
      await startSession(user, templateId, { region: bridge.region });
    } finally {
      await putSettings(admin, GENEROUS_SETTINGS);
      await bridge.disconnect();
    }
  });

  it("refuses with QUOTA_EXCEEDED at the deployment's maximum of active desktops", async () => {
    const user = await registerUser("dg");
    const bridge = await TestBridge.online(admin);
    const [active] = await db()
      .select({ n: count() })
      .from(desktopSessions)
      .where(inArray(desktopSessions.state, [...ACTIVE_STATES]));
    await putSettings(admin, { ...GENEROUS_SETTINGS, maxConcurrentSessions: Number(active?.n ?? 0) });
    try {
      const refused = await expectStatus(
        await call("POST", "/api/v1/desktops", { token: user.accessToken, body: { templateId, region: bridge.region } }),
        429,
      );
      expect(refused.error).toMatchObject({ code: "QUOTA_EXCEEDED", details: { scope: "deployment" } });
    } finally {
      await putSettings(admin, GENEROUS_SETTINGS);
      await bridge.disconnect();
    }
  });

  it("refuses unknown templates and bad preferences", async () => {
    const user = await registerUser("dx");
    await expectError(
      await call("POST", "/api/v1/desktops", { token: user.accessToken, body: { templateId: crypto.randomUUID() } }),
      404,
      "TEMPLATE_NOT_FOUND",
    );
    await expectError(
      await call("POST", "/api/v1/desktops", { token: user.accessToken, body: { templateId, platform: "vmware" } }),
      400,
      "VALIDATION_FAILED",
    );
    await expectError(await call("POST", "/api/v1/desktops", { body: { templateId } }), 401, "UNAUTHENTICATED");
  });
});

describe("commands", () => {
  it("a start command reaches the bridge; ack → starting, complete → running, each status written to Postgres", async () => {
    const user = await registerUser("dc");
    const bridge = await TestBridge.online(admin);
    const session = await startSession(user, templateId, { region: bridge.region });
    expect(session.state).toBe("requested");
    const start = await bridge.commandFor(session.id, "start_session");
    if (start.action !== "start_session") throw new Error("unreachable");
    expect(start.payload.template).toMatchObject({
      templateId,
      kind: "container",
      image: "ghcr.io/atrium/desktop:1",
      cpu: 2,
      memoryMb: 3072,
      env: { LANG: "en_US.UTF-8" },
    });
    expect(start.payload.dataUrl).toBe(`wss://atrium.test/api/v1/desktops/${session.id}/bridge-data?conn=primary`);
    expect(start.payload.dataToken).toMatch(/^dtk_/);
    expect(start.payload.imageUrl).toBeNull();
    expect(await commandRow(start.id)).toMatchObject({
      status: "sent",
      action: "start_session",
      bridgeId: bridge.id,
      sessionId: session.id,
    });
    // The data token never reaches Postgres.
    expect(JSON.stringify(await commandRow(start.id))).not.toContain(start.payload.dataToken);

    bridge.ack(start.id);
    await waitForState(user, session.id, "starting");
    expect((await commandRow(start.id))?.status).toBe("ack");
    bridge.complete(start.id, { pod: "desktop-abc" });
    await waitForState(user, session.id, "running");
    expect(await commandRow(start.id)).toMatchObject({ status: "completed", result: { pod: "desktop-abc" } });
    await bridge.disconnect();
  });

  it("a start requested with a forged Host header sends the bridge the origin it dialed, never the forged host", async () => {
    const user = await registerUser("dfh");
    const bridge = await TestBridge.online(admin);
    const res = await exports.default.fetch(
      new Request("https://attacker.example/api/v1/desktops", {
        method: "POST",
        headers: {
          Authorization: `Bearer ${user.accessToken}`,
          "Content-Type": "application/json",
          Host: "attacker.example",
          "CF-Connecting-IP": "10.255.0.9",
        },
        body: JSON.stringify({ templateId, region: bridge.region }),
      }),
    );
    const { session } = await expectStatus<{ session: { id: string } }>(res, 201);
    const start = await bridge.commandFor(session.id, "start_session");
    if (start.action !== "start_session") throw new Error("unreachable");
    expect(start.payload.dataUrl).toBe(`wss://atrium.test/api/v1/desktops/${session.id}/bridge-data?conn=primary`);
    expect(JSON.stringify(start)).not.toContain("attacker");
    // A redelivery after a reconnect says the same.
    await bridge.disconnect();
    await bridge.connect();
    await bridge.hello({ sessions: [{ sessionId: session.id, state: "starting" }] });
    const again = await bridge.commandFor(session.id, "start_session");
    expect(again.payload).toEqual(start.payload);
    await bridge.disconnect();
  });

  it("a failed start fails the session with the bridge's reason", async () => {
    const user = await registerUser("df");
    const bridge = await TestBridge.online(admin);
    const session = await startSession(user, templateId, { region: bridge.region });
    const start = await bridge.commandFor(session.id, "start_session");
    bridge.fail(start.id, "IMAGE_PULL_FAILED", "manifest unknown");
    const failed = await waitForState(user, session.id, "failed");
    expect(failed.stateDetail).toBe("IMAGE_PULL_FAILED: manifest unknown");
    expect(await commandRow(start.id)).toMatchObject({ status: "failed", error: "IMAGE_PULL_FAILED: manifest unknown" });
    await bridge.disconnect();
  });

  it("commands not acked (or not completed) are redelivered with the same id after the bridge reconnects", async () => {
    const user = await registerUser("dr");
    const bridge = await TestBridge.online(admin);
    const session = await startSession(user, templateId, { region: bridge.region });
    const first = await bridge.commandFor(session.id, "start_session");
    await bridge.disconnect();
    expect((await commandRow(first.id))?.status).toBe("sent");

    await bridge.connect();
    await bridge.hello({ sessions: [{ sessionId: session.id, state: "starting" }] });
    const again = await bridge.commandFor(session.id, "start_session");
    expect(again.id).toBe(first.id);
    expect(again.payload).toEqual(first.payload);
    bridge.ack(again.id);
    await waitForState(user, session.id, "starting");
    await bridge.disconnect();

    // Acked but never completed: it comes again too.
    await bridge.connect();
    await bridge.hello({ sessions: [{ sessionId: session.id, state: "starting" }] });
    const third = await bridge.commandFor(session.id, "start_session");
    expect(third.id).toBe(first.id);
    expect((await commandRow(first.id))?.status).toBe("ack");
    bridge.complete(third.id);
    await waitForState(user, session.id, "running");
    const outstanding = (await hub(bridge.id).inspect()).outstanding;
    expect(outstanding.filter((c) => c.id === first.id)).toEqual([]);
    await bridge.disconnect();
  });

  it("a duplicate complete is harmless: a late repeat of an older command's answer never moves the session", async () => {
    const user = await registerUser("dd");
    const bridge = await TestBridge.online(admin);
    const { id, start } = await runningSession(user, templateId, bridge);
    const completedAt = (await commandRow(start.id))?.updatedAt;

    await expectStatus(await call("POST", `/api/v1/desktops/${id}/hibernate`, { token: user.accessToken }), 202);
    const hibernate = await bridge.commandFor(id, "hibernate_session");
    expect((await getSession(user, id)).state).toBe("hibernating");
    bridge.complete(start.id, { pod: "again" });
    bridge.complete(start.id, { pod: "and again" });
    bridge.complete(hibernate.id);
    bridge.complete(hibernate.id);
    await waitForState(user, id, "hibernated");
    expect(await commandRow(start.id)).toMatchObject({ status: "completed", result: { pod: `desktop-${id.slice(0, 8)}` } });
    expect((await commandRow(start.id))?.updatedAt).toEqual(completedAt);

    await expectStatus(await call("POST", `/api/v1/desktops/${id}/wake`, { token: user.accessToken }), 202);
    const wake = await bridge.commandFor(id, "wake_session");
    bridge.complete(hibernate.id);
    bridge.ack(wake.id);
    await new Promise((r) => setTimeout(r, 100));
    expect((await getSession(user, id)).state).toBe("waking");
    bridge.complete(wake.id);
    await waitForState(user, id, "running");
    await bridge.disconnect();
  });

  it("stop, hibernate and wake go through the bridge; local desktops cannot hibernate", async () => {
    const user = await registerUser("dl");
    const local = await TestBridge.online(admin, { platform: "local" });
    const { id } = await runningSession(user, templateId, local);
    await expectError(await call("POST", `/api/v1/desktops/${id}/hibernate`, { token: user.accessToken }), 409, "HIBERNATE_UNSUPPORTED");
    // Waking a running desktop is a no-op, not an error.
    expect((await expectStatus(await call("POST", `/api/v1/desktops/${id}/wake`, { token: user.accessToken }), 202)).session.state).toBe(
      "running",
    );
    await expectError(await call("DELETE", `/api/v1/desktops/${id}`, { token: user.accessToken }), 409, "INVALID_STATE");
    const stopping = await expectStatus(await call("POST", `/api/v1/desktops/${id}/stop`, { token: user.accessToken }), 202);
    expect(stopping.session.state).toBe("stopping");
    // Asking again while it stops is harmless: the same command, not a second one.
    await expectStatus(await call("POST", `/api/v1/desktops/${id}/stop`, { token: user.accessToken }), 202);
    const stop = await local.commandFor(id, "stop_session");
    local.ack(stop.id);
    local.complete(stop.id);
    const stopped = await waitForState(user, id, "stopped");
    expect(stopped).toMatchObject({ state: "stopped" });
    expect(local.socket?.texts.peek((f) => f.type === "command" && (f as { action: string }).action === "stop_session")).toEqual([]);
    await expectError(await call("POST", `/api/v1/desktops/${id}/ticket`, { token: user.accessToken }), 409, "INVALID_STATE");
    await expectStatus(await call("DELETE", `/api/v1/desktops/${id}`, { token: user.accessToken }), 204);
    await expectError(await call("GET", `/api/v1/desktops/${id}`, { token: user.accessToken }), 404, "DESKTOP_NOT_FOUND");
    await local.disconnect();
  });

  it("a desktop cannot wake while its bridge is offline", async () => {
    const user = await registerUser("dw");
    const bridge = await TestBridge.online(admin);
    const { id } = await runningSession(user, templateId, bridge);
    await expectStatus(await call("POST", `/api/v1/desktops/${id}/hibernate`, { token: user.accessToken }), 202);
    bridge.complete((await bridge.commandFor(id, "hibernate_session")).id);
    await waitForState(user, id, "hibernated");
    await getDb(env).update(bridges).set({ status: "offline" }).where(eq(bridges.id, bridge.id));
    const refused = await expectStatus(await call("POST", `/api/v1/desktops/${id}/wake`, { token: user.accessToken }), 409);
    expect(refused.error.code).toBe("NO_CAPACITY");
    expect((await getSession(user, id)).state).toBe("hibernated");
    await bridge.disconnect();
  });
});

describe("command deadlines", () => {
  /** Pretends the hub's outstanding commands were created (and acked) `ms` earlier. */
  async function age(bridgeId: string, ms: number): Promise<void> {
    await runInDurableObject(hub(bridgeId), (_instance, state) => {
      state.storage.sql.exec("UPDATE commands SET created_at = created_at - ?, updated_at = updated_at - ?", ms, ms);
    });
  }

  it("a start the bridge never acknowledges fails with BRIDGE_TIMEOUT; a late answer changes nothing and it is not sent again", async () => {
    const user = await registerUser("dto");
    const bridge = await TestBridge.online(admin);
    const session = await startSession(user, templateId, { region: bridge.region });
    const start = await bridge.commandFor(session.id, "start_session");
    // Not yet due: the alarm leaves it alone.
    expect(await runDurableObjectAlarm(hub(bridge.id))).toBe(true);
    expect((await getSession(user, session.id)).state).toBe("requested");
    await age(bridge.id, 2 * 60_000 + 1);
    expect(await runDurableObjectAlarm(hub(bridge.id))).toBe(true);
    const failed = await waitForState(user, session.id, "failed");
    expect(failed.stateDetail).toBe("BRIDGE_TIMEOUT: The bridge did not acknowledge starting the desktop within 2 minutes.");
    expect(await commandRow(start.id)).toMatchObject({ status: "failed", error: failed.stateDetail });
    expect((await hub(bridge.id).inspect()).outstanding).toEqual([]);
    bridge.ack(start.id);
    bridge.complete(start.id);
    await new Promise((r) => setTimeout(r, 100));
    expect((await getSession(user, session.id)).state).toBe("failed");
    await bridge.disconnect();
    await bridge.connect();
    await bridge.hello();
    await new Promise((r) => setTimeout(r, 100));
    expect(bridge.socket?.texts.peek((f) => f.type === "command")).toEqual([]);
    await bridge.disconnect();
  });

  it("a start acknowledged by a bridge that then dies fails after the run deadline, and the user sees why", async () => {
    const user = await registerUser("dta");
    const bridge = await TestBridge.online(admin);
    const session = await startSession(user, templateId, { region: bridge.region });
    const start = await bridge.commandFor(session.id, "start_session");
    bridge.ack(start.id);
    await waitForState(user, session.id, "starting");
    await bridge.disconnect();
    // The ack bought it the start's run time (10 minutes), not just the 2 minutes to acknowledge.
    await age(bridge.id, 5 * 60_000);
    await runDurableObjectAlarm(hub(bridge.id));
    expect((await getSession(user, session.id)).state).toBe("starting");
    await age(bridge.id, 5 * 60_000 + 1);
    await runDurableObjectAlarm(hub(bridge.id));
    const failed = await waitForState(user, session.id, "failed");
    expect(failed.stateDetail).toBe("BRIDGE_TIMEOUT: The bridge did not finish starting the desktop within 10 minutes.");
  });

  it("a stop sent to an offline bridge fails with BRIDGE_OFFLINE, and the alarm is set for the deadline", async () => {
    const user = await registerUser("dtf");
    const bridge = await TestBridge.online(admin);
    const { id } = await runningSession(user, templateId, bridge);
    await bridge.disconnect();
    const before = Date.now();
    await expectStatus(await call("POST", `/api/v1/desktops/${id}/stop`, { token: user.accessToken }), 202);
    const alarmAt = await runInDurableObject(hub(bridge.id), (_instance, state) => state.storage.getAlarm());
    // The heartbeat watch may come first; nothing is due later than the stop's deadline.
    expect(alarmAt).not.toBeNull();
    expect(alarmAt as number).toBeLessThanOrEqual(Date.now() + 2 * 60_000);
    expect(alarmAt as number).toBeGreaterThanOrEqual(before);
    await age(bridge.id, 2 * 60_000 + 1);
    await runDurableObjectAlarm(hub(bridge.id));
    const failed = await waitForState(user, id, "failed");
    expect(failed.stateDetail).toMatch(/^BRIDGE_OFFLINE: /);
  });
});

describe("reconciliation and liveness", () => {
  it("after a reconnect, the bridge's report settles every session: missing → stopped, hibernated → hibernated, finished ones running → stopped", async () => {
    const user = await registerUser("dk");
    const bridge = await TestBridge.online(admin);
    const kept = await runningSession(user, templateId, bridge);
    const lost = await runningSession(user, templateId, bridge);
    const slept = await runningSession(user, templateId, bridge);
    const finished = await runningSession(user, templateId, bridge);
    await expectStatus(await call("POST", `/api/v1/desktops/${finished.id}/stop`, { token: user.accessToken }), 202);
    bridge.complete((await bridge.commandFor(finished.id, "stop_session")).id);
    await waitForState(user, finished.id, "stopped");
    await bridge.disconnect();

    await bridge.connect();
    await bridge.hello({
      sessions: [
        { sessionId: kept.id, state: "running" },
        { sessionId: slept.id, state: "hibernated" },
        { sessionId: finished.id, state: "running" },
      ],
    });
    const gone = await waitForState(user, lost.id, "stopped");
    expect(gone.stateDetail).toMatch(/no longer runs/);
    await waitForState(user, slept.id, "hibernated");
    expect((await getSession(user, kept.id)).state).toBe("running");
    // The desktop of a finished session is an orphan: the hub tells the bridge to stop it.
    const orphanStop = await bridge.commandFor(finished.id, "stop_session");
    bridge.complete(orphanStop.id);
    expect((await getSession(user, finished.id)).state).toBe("stopped");

    // A desktop that dies on its own is reported between commands.
    bridge.socket?.sendJson({ type: "session_state", session: { sessionId: kept.id, state: "failed", detail: "Xvfb exited" } });
    const died = await waitForState(user, kept.id, "failed");
    expect(died.stateDetail).toBe("Xvfb exited");
    await bridge.disconnect();
  });

  it("three missed heartbeats mark the bridge offline and drop its socket; a heartbeat resets the count", async () => {
    const bridge = await TestBridge.online(admin);
    const stub = hub(bridge.id);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await bridgeRow(bridge.id))?.status).toBe("online");
    bridge.heartbeat();
    await eventually(
      () => stub.inspect(),
      (s) => s.watch.beat,
      "heartbeat recorded",
    );
    // The interval the heartbeat came in counts as heard from; then three silent ones.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await bridgeRow(bridge.id))?.status).toBe("online");
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await bridgeRow(bridge.id)).toMatchObject({ status: "offline" });
    expect((await bridge.socket?.closed)?.code).toBe(1011);
    // An offline bridge gets no new desktops; a reconnect brings it back.
    const user = await registerUser("dh");
    const elsewhere = await startSession(user, templateId, { region: bridge.region }).catch(() => undefined);
    expect(elsewhere?.bridgeId).not.toBe(bridge.id);
    await bridge.connect();
    await bridge.hello();
    expect((await bridgeRow(bridge.id))?.status).toBe("online");
    await bridge.disconnect();
  });

  it("a bridge announcing a shutdown gets no new desktops until its next hello", async () => {
    const user = await registerUser("ds");
    const bridge = await TestBridge.online(admin);
    bridge.socket?.sendJson({ type: "draining" });
    await eventually(
      () => bridgeRow(bridge.id),
      (b) => b?.status === "draining",
      "bridge draining",
    );
    const placed = await startSession(user, templateId, { region: bridge.region }).catch(() => undefined);
    expect(placed?.bridgeId).not.toBe(bridge.id);
    await bridge.disconnect();
    await bridge.connect();
    await bridge.hello();
    expect((await startSession(user, templateId, { region: bridge.region })).bridgeId).toBe(bridge.id);
    await bridge.disconnect();
  });
});

describe("ownership and administration", () => {
  it("another user's session is 404 everywhere; admins see and stop everyone's through the admin routes", async () => {
    const owner = await registerUser("do");
    const other = await registerUser("dz");
    const bridge = await TestBridge.online(admin);
    const { id } = await runningSession(owner, templateId, bridge);
    for (const [method, path] of [
      ["GET", `/api/v1/desktops/${id}`],
      ["POST", `/api/v1/desktops/${id}/stop`],
      ["POST", `/api/v1/desktops/${id}/hibernate`],
      ["POST", `/api/v1/desktops/${id}/wake`],
      ["DELETE", `/api/v1/desktops/${id}`],
      ["POST", `/api/v1/desktops/${id}/ticket`],
      ["GET", `/api/v1/desktops/${id}/shares`],
    ] as const) {
      await expectError(await call(method, path, { token: other.accessToken }), 404, "DESKTOP_NOT_FOUND");
      await expectError(await call(method, path, { token: admin.accessToken }), 404, "DESKTOP_NOT_FOUND");
    }
    const mine = await expectStatus(await call("GET", "/api/v1/desktops?state=live", { token: owner.accessToken }), 200);
    expect(mine.sessions.map((s: { id: string }) => s.id)).toEqual([id]);
    expect((await expectStatus(await call("GET", "/api/v1/desktops", { token: other.accessToken }), 200)).sessions).toEqual([]);

    const filtered = await expectStatus(
      await call("GET", `/api/v1/admin/desktop-sessions?bridgeId=${bridge.id}&platform=docker&state=running&userId=${owner.id}`, {
        token: admin.accessToken,
      }),
      200,
    );
    expect(filtered.sessions).toEqual([expect.objectContaining({ id, username: owner.username, state: "running" })]);
    expect(filtered.total).toBe(1);
    const none = await expectStatus(
      await call("GET", `/api/v1/admin/desktop-sessions?bridgeId=${bridge.id}&state=stopped`, { token: admin.accessToken }),
      200,
    );
    expect(none.sessions).toEqual([]);
    await expectError(await call("GET", "/api/v1/admin/desktop-sessions", { token: owner.accessToken }), 403, "FORBIDDEN");

    const stopped = await expectStatus(await call("POST", `/api/v1/admin/desktop-sessions/${id}/stop`, { token: admin.accessToken }), 202);
    expect(stopped.session.state).toBe("stopping");
    const stop = await bridge.commandFor(id, "stop_session");
    bridge.complete(stop.id);
    const final = await waitForState(owner, id, "stopped");
    expect(final.stateDetail).toMatch(/administrator/);
    await expectError(
      await call("POST", `/api/v1/admin/desktop-sessions/${crypto.randomUUID()}/stop`, { token: admin.accessToken }),
      404,
      "DESKTOP_NOT_FOUND",
    );
    await bridge.disconnect();
  });

  it("a VM template's start command carries a fresh signed image link", async () => {
    const user = await registerUser("dv");
    const bridge = await TestBridge.online(admin);
    const image = await expectStatus(
      await call("POST", "/api/v1/admin/images", { token: admin.accessToken, body: { name: "win", filename: "win.vhd" } }),
      201,
    );
    const { exports } = await import("cloudflare:workers");
    await exports.default.fetch(
      new Request(`https://atrium.test/api/v1/admin/images/${image.image.id}/parts/1`, {
        method: "PUT",
        headers: { Authorization: `Bearer ${admin.accessToken}` },
        body: new Uint8Array(64),
      }),
    );
    await expectStatus(await call("POST", `/api/v1/admin/images/${image.image.id}/complete`, { token: admin.accessToken }), 200);
    const vm = await createTemplate(admin, { kind: "vm", image: image.image.id });
    const session = await startSession(user, vm.id, { region: bridge.region });
    const start = await bridge.commandFor(session.id, "start_session");
    if (start.action !== "start_session") throw new Error("unreachable");
    expect(start.payload.imageUrl).toMatch(
      new RegExp(`^https://atrium\\.test/api/v1/images/${image.image.id}/download\\?expires=\\d+&sig=`),
    );
    const download = await exports.default.fetch(new Request(start.payload.imageUrl ?? ""));
    expect(download.status).toBe(200);
    expect((await download.arrayBuffer()).byteLength).toBe(64);
    await bridge.disconnect();
  });

  it("tickets are only for live sessions of the owner", async () => {
    const user = await registerUser("dt");
    const bridge = await TestBridge.online(admin);
    const { id } = await runningSession(user, templateId, bridge);
    const t = await ticketFor(user, id);
    expect(t).toMatchObject({ viewOnly: false, wsPath: `/api/v1/desktops/${id}/ws?ticket=${encodeURIComponent(t.ticket)}` });
    expect(new Date(t.expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(60_000);
    expect((await ticketFor(user, id, { viewOnly: true })).viewOnly).toBe(true);
    await bridge.disconnect();
  });
});

describe("placement under the region preference", () => {
  it("a start with an unknown region still finds a bridge", async () => {
    const user = await registerUser("du");
    const bridge = await TestBridge.online(admin);
    const placed = await startSession(user, templateId, { region: uniqueRegion() });
    expect(placed.bridgeId).toBeTruthy();
    await bridge.disconnect();
  });
});
