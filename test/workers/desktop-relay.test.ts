/**
 * The desktop data plane in workerd, with the test playing both the bridge's data sockets and
 * the viewers: byte-exact relay, single-use expiring tickets, view-only filtering, input
 * tracking and idle reaping, wake-on-connect, and view-only share links for teammates.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { bridges, desktopShares } from "../../migrations/schema.ts";
import type { CommandFrame } from "../../durable-objects/bridge/protocol.ts";
import { PAUSE_ABOVE_BYTES, RESUME_BELOW_BYTES } from "../../durable-objects/desktop/protocol.ts";
import { getDb } from "../../worker/db/client.ts";
import {
  concatBytes,
  createTemplate,
  eventually,
  GENEROUS_SETTINGS,
  getSession,
  openRaw,
  putSettings,
  type RawSocket,
  rfb,
  runningSession,
  TestBridge,
  ticketFor,
  upgrade,
  waitForState,
} from "./desktop-helpers.ts";
import { addMember, call, createTeam, expectError, expectStatus, makeAdmin, registerUser, type TestUser } from "./helpers.ts";

let admin: TestUser;
let templateId: string;

beforeAll(async () => {
  admin = await makeAdmin(await registerUser("rla"));
  await putSettings(admin, GENEROUS_SETTINGS);
  templateId = (await createTemplate(admin)).id;
});

const session = (id: string) => env.DESKTOP_SESSION.get(env.DESKTOP_SESSION.idFromName(id));

/** Opens a viewer with `wsPath` and plays the bridge's side until the RFB stream can flow. */
async function connectViewer(
  wsPath: string,
  primary: RawSocket,
  bridge: TestBridge,
  start: CommandFrame,
): Promise<{ viewer: RawSocket; data: RawSocket }> {
  const viewer = await openRaw(wsPath);
  const open = await primary.texts.next((f) => f.type === "open", 5000, "open");
  const data = await bridge.openData(start, open.connId as string);
  await viewer.texts.next((f) => f.type === "ready", 5000, "ready");
  return { viewer, data };
}

/** Sends `bytes` cut into uneven frames. */
function sendChunked(ws: WebSocket, bytes: Uint8Array, sizes: number[]): void {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const n = sizes[i % sizes.length] ?? 1;
    ws.send(bytes.slice(at, at + n));
    at += n;
  }
}

function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x & 255;
  }
  return out;
}

async function desktop(user: TestUser, options: { platform?: "docker" | "local" } = {}) {
  const bridge = await TestBridge.online(admin, options);
  const { id, start } = await runningSession(user, templateId, bridge);
  const primary = await bridge.openData(start);
  return { bridge, id, start, primary };
}

describe("relay", () => {
  it("relays RFB bytes both ways, byte-exact, and ends the desktop connection with the viewer", async () => {
    const user = await registerUser("rlu");
    const { bridge, id, start, primary } = await desktop(user);
    const { ticket, wsPath } = await ticketFor(user, id);
    expect(ticket).toMatch(/^vtk_/);
    const { viewer, data } = await connectViewer(wsPath, primary, bridge, start);
    expect(viewer.texts.all.filter((f) => f.type !== "ready")).toEqual([
      { type: "state", state: "running", detail: null },
      { type: "role", control: true, viewOnly: false },
    ]);

    // Desktop → viewer: a server greeting, then 3 MiB of framebuffer updates in 64 KiB frames.
    const server = concatBytes(new TextEncoder().encode("RFB 003.008\n"), noise(3 * 1024 * 1024, 7));
    sendChunked(data.ws, server, [12, 65536]);
    expect(await viewer.bytes(server.length, 10_000)).toEqual(server);

    // Viewer → desktop: the whole client stream, cut at odd places.
    const client = concatBytes(
      rfb.version(),
      rfb.securityNone(),
      rfb.clientInit(0),
      rfb.setEncodings([7, 16, 0, -223, -224]),
      rfb.fbur(0),
      rfb.key(true, 0x61),
      rfb.key(false, 0x61),
      rfb.pointer(1, 100, 200),
      rfb.cutText("hello from the clipboard"),
      rfb.fbur(1),
    );
    sendChunked(viewer.ws, client, [5, 1, 13, 2, 40]);
    expect(await data.bytes(client.length)).toEqual(client);

    viewer.close();
    expect((await data.closed).code).toBe(1000);
    await bridge.disconnect();
  });

  it("holds the desktop back while a viewer is too far behind on its acks, and lets it go once the viewer catches up", async () => {
    const user = await registerUser("rlb");
    const { bridge, id, start, primary } = await desktop(user);
    const { wsPath } = await ticketFor(user, id);
    const { viewer, data } = await connectViewer(wsPath, primary, bridge, start);
    const frame = noise(64 * 1024, 3);
    const frames = (bytes: number) => bytes / frame.length;
    // Up to the window, unacknowledged: the desktop keeps going.
    let sent = 0;
    for (; sent < frames(PAUSE_ABOVE_BYTES); sent++) data.ws.send(frame);
    await viewer.bytes(sent * frame.length, 20_000);
    expect(data.texts.all).toEqual([]);
    // One frame past it: the bridge is told to pause reading the desktop.
    data.ws.send(frame);
    sent++;
    expect(await data.texts.next((f) => f.type === "pause", 5000, "pause")).toEqual({ type: "pause" });
    await viewer.bytes(sent * frame.length, 20_000);
    // Acknowledging down to just above the low mark is not enough; below it the bridge resumes.
    const outstanding = RESUME_BELOW_BYTES + frame.length;
    viewer.sendJson({ type: "ack", bytes: sent * frame.length - outstanding });
    viewer.sendJson({ type: "ping" });
    await viewer.texts.next((f) => f.type === "pong", 5000, "pong");
    expect(data.texts.all.map((f) => f.type)).toEqual(["pause"]);
    viewer.sendJson({ type: "ack", bytes: 2 * frame.length });
    expect(await data.texts.next((f) => f.type === "resume", 5000, "resume")).toEqual({ type: "resume" });
    // An ack is checked like every frame, and may not cover bytes that were never sent.
    viewer.sendJson({ type: "ack", bytes: -1 });
    expect(await viewer.texts.next((f) => f.type === "error", 5000, "error")).toMatchObject({ code: "BAD_FRAME" });
    viewer.sendJson({ type: "ack", bytes: 64 * 1024 * 1024 });
    expect(
      await viewer.texts.next(
        (f) => f.type === "error" && f.message !== undefined && String(f.message).includes("more bytes"),
        5000,
        "error",
      ),
    ).toMatchObject({
      code: "BAD_FRAME",
    });
    expect((await viewer.closed).code).toBe(1008);
    viewer.close();
    await bridge.disconnect();
  });

  it("records the controller's last input in Postgres", async () => {
    const user = await registerUser("rli");
    const { bridge, id, start, primary } = await desktop(user);
    const { viewer, data } = await connectViewer((await ticketFor(user, id)).wsPath, primary, bridge, start);
    expect((await getSession(user, id)).lastInputAt).toBeNull();
    const before = Date.now();
    const stream = concatBytes(rfb.version(), rfb.securityNone(), rfb.clientInit(), rfb.fbur());
    viewer.ws.send(stream);
    await data.bytes(stream.length);
    expect((await getSession(user, id)).lastInputAt).toBeNull();
    viewer.ws.send(rfb.pointer(0, 10, 10));
    const after = await eventually(
      () => getSession(user, id),
      (s) => s.lastInputAt !== null,
      "last input recorded",
    );
    expect(new Date(after.lastInputAt ?? 0).getTime()).toBeGreaterThanOrEqual(before - 1000);
    await bridge.disconnect();
  });

  it("a dropped desktop connection closes its viewer; a stopped desktop tells every viewer", async () => {
    const user = await registerUser("rld");
    const { bridge, id, start, primary } = await desktop(user);
    const first = await connectViewer((await ticketFor(user, id)).wsPath, primary, bridge, start);
    first.data.close();
    expect((await first.viewer.closed).code).toBe(1011);

    const second = await connectViewer((await ticketFor(user, id)).wsPath, primary, bridge, start);
    await expectStatus(await call("POST", `/api/v1/desktops/${id}/stop`, { token: user.accessToken }), 202);
    expect(await second.viewer.texts.next((f) => f.type === "state" && f.state === "stopping")).toBeTruthy();
    expect((await second.viewer.closed).code).toBe(1001);
    bridge.complete((await bridge.commandFor(id, "stop_session")).id);
    await waitForState(user, id, "stopped");
    expect((await primary.closed).code).toBe(1000);
    await bridge.disconnect();
  });

  it("tells the viewer when the bridge cannot reach the desktop for it", async () => {
    const user = await registerUser("rlf");
    const { bridge, id, primary } = await desktop(user);
    const viewer = await openRaw((await ticketFor(user, id)).wsPath);
    const open = await primary.texts.next((f) => f.type === "open");
    primary.sendJson({ type: "open_failed", connId: open.connId, message: "connection refused on :5900" });
    expect(await viewer.texts.next((f) => f.type === "error")).toMatchObject({
      code: "DESKTOP_UNREACHABLE",
      message: "connection refused on :5900",
    });
    expect((await viewer.closed).code).toBe(1011);
    await bridge.disconnect();
  });

  it("the bridge's data sockets need the session's current data token and a waiting viewer", async () => {
    const user = await registerUser("rlt");
    const { bridge, id, start } = await desktop(user);
    const path = `/api/v1/desktops/${id}/bridge-data?conn=primary`;
    await expectError(await upgrade(path), 401, "DATA_TOKEN_INVALID");
    await expectError(await upgrade(path, { Authorization: "Bearer dtk_forged" }), 401, "DATA_TOKEN_INVALID");
    await expectError(await upgrade(path, { Authorization: `Bearer ${user.accessToken}` }), 401, "DATA_TOKEN_INVALID");
    if (start.action !== "start_session") throw new Error("unreachable");
    const auth = { Authorization: `Bearer ${start.payload.dataToken}` };
    await expectError(await upgrade(`/api/v1/desktops/${id}/bridge-data?conn=${crypto.randomUUID()}`, auth), 404, "NOT_FOUND");
    await expectError(await upgrade(`/api/v1/desktops/${id}/bridge-data?conn=../../etc`, auth), 400, "BAD_REQUEST");
    await expectError(await upgrade(`/api/v1/desktops/${crypto.randomUUID()}/bridge-data?conn=primary`, auth), 404, "DESKTOP_NOT_FOUND");
    await bridge.disconnect();
  });
});

describe("viewer tickets", () => {
  it("a ticket works once", async () => {
    const user = await registerUser("rtk");
    const { bridge, id } = await desktop(user);
    const { wsPath } = await ticketFor(user, id);
    const viewer = await openRaw(wsPath);
    await viewer.texts.next((f) => f.type === "state");
    await expectError(await upgrade(wsPath), 401, "TICKET_INVALID");
    await expectError(await upgrade(`/api/v1/desktops/${id}/ws`), 401, "TICKET_INVALID");
    await expectError(await upgrade(`/api/v1/desktops/${id}/ws?ticket=vtk_made_up`), 401, "TICKET_INVALID");
    viewer.close();
    await bridge.disconnect();
  });

  it("a ticket expires after 60 s", async () => {
    const user = await registerUser("rte");
    const { bridge, id } = await desktop(user);
    const { wsPath } = await ticketFor(user, id);
    await runInDurableObject(session(id), (_instance, state) => {
      state.storage.sql.exec("UPDATE tickets SET expires_at = expires_at - 60000");
    });
    await expectError(await upgrade(wsPath), 401, "TICKET_INVALID");
    await bridge.disconnect();
  });

  it("a ticket is bound to its user and session", async () => {
    const user = await registerUser("rtb");
    const thief = await registerUser("rtx");
    const { bridge, id } = await desktop(user);
    const stolen = await ticketFor(user, id);
    await expectError(
      await upgrade(stolen.wsPath, { "Sec-WebSocket-Protocol": `atrium.v1, atrium.bearer.${thief.accessToken}` }),
      401,
      "TICKET_INVALID",
    );
    // Presented by someone else, it is used up too.
    await expectError(await upgrade(stolen.wsPath), 401, "TICKET_INVALID");
    const other = await desktop(user);
    const forOther = await ticketFor(user, other.id);
    await expectError(await upgrade(`/api/v1/desktops/${id}/ws?ticket=${encodeURIComponent(forOther.ticket)}`), 401, "TICKET_INVALID");
    const mine = await ticketFor(user, id);
    const viewer = await openRaw(mine.wsPath, { "Sec-WebSocket-Protocol": `atrium.v1, atrium.bearer.${user.accessToken}` });
    await viewer.texts.next((f) => f.type === "state");
    viewer.close();
    await bridge.disconnect();
    await other.bridge.disconnect();
  });
});

describe("view-only viewers", () => {
  const input = () =>
    concatBytes(
      rfb.version(),
      rfb.securityNone(),
      rfb.clientInit(0),
      rfb.setEncodings([7, 0, -223]),
      rfb.key(true, 0xff0d),
      rfb.fbur(0),
      rfb.pointer(1, 5, 5),
      rfb.cutText("paste this"),
      rfb.key(false, 0xff0d),
      rfb.fbur(1),
    );
  const expectedForViewOnly = () =>
    concatBytes(rfb.version(), rfb.securityNone(), rfb.clientInit(1), rfb.setEncodings([7, 0, -223]), rfb.fbur(0), rfb.fbur(1));

  it("a view-only viewer's key, pointer and clipboard events never reach the desktop; its framebuffer requests do", async () => {
    const user = await registerUser("rvo");
    const { bridge, id, start, primary } = await desktop(user);
    const t = await ticketFor(user, id, { viewOnly: true });
    const { viewer, data } = await connectViewer(t.wsPath, primary, bridge, start);
    expect(viewer.texts.all.find((f) => f.type === "role")).toEqual({ type: "role", control: false, viewOnly: true });
    sendChunked(viewer.ws, input(), [3, 7, 1, 2]);
    const expected = expectedForViewOnly();
    expect(await data.bytes(expected.length)).toEqual(expected);
    // Nothing else arrives later.
    viewer.ws.send(rfb.pointer(0, 1, 1));
    viewer.ws.send(rfb.fbur(1));
    expect(await data.bytes(expected.length + 10)).toEqual(concatBytes(expected, rfb.fbur(1)));
    viewer.sendJson({ type: "take_control" });
    expect(await viewer.texts.next((f) => f.type === "error")).toMatchObject({ code: "FORBIDDEN" });
    expect((await session(id).inspect()).lastInputAt).toBeNull();
    await bridge.disconnect();
  });

  it("an RFB 3.3 viewer (vncsnapshot) that is not in control gets the framebuffer; its input is still dropped", async () => {
    const user = await registerUser("rv3");
    const { bridge, id, start, primary } = await desktop(user);
    // The owner's first tab holds control, so the second one is filtered like a view-only viewer.
    const first = await connectViewer((await ticketFor(user, id)).wsPath, primary, bridge, start);
    await first.viewer.texts.next((f) => f.type === "role" && f.control === true);
    const t = await ticketFor(user, id, { viewOnly: true });
    const { viewer, data } = await connectViewer(t.wsPath, primary, bridge, start);
    const enc = new TextEncoder();
    // Server version, client 3.3, then the server dictates security type None (a u32).
    data.ws.send(enc.encode("RFB 003.008\n"));
    expect(await viewer.bytes(12)).toEqual(enc.encode("RFB 003.008\n"));
    viewer.ws.send(enc.encode("RFB 003.003\n"));
    expect(await data.bytes(12)).toEqual(enc.encode("RFB 003.003\n"));
    data.ws.send(Uint8Array.of(0, 0, 0, 1));
    await viewer.bytes(16);
    // ClientInit (exclusive, forced to shared), SetPixelFormat, a key and a click, a framebuffer request.
    const setPixelFormat = Uint8Array.of(0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0);
    sendChunked(
      viewer.ws,
      concatBytes(rfb.clientInit(0), setPixelFormat, rfb.key(true, 0x61), rfb.pointer(1, 9, 9), rfb.fbur(0)),
      [1, 4, 9],
    );
    const expected = concatBytes(enc.encode("RFB 003.003\n"), rfb.clientInit(1), setPixelFormat, rfb.fbur(0));
    expect(await data.bytes(expected.length)).toEqual(expected);
    // The framebuffer reaches the viewer; the socket stays open.
    const serverInit = concatBytes(Uint8Array.of(5, 0, 3, 32), setPixelFormat.subarray(4), Uint8Array.of(0, 0, 0, 1, 0x64));
    const update = noise(4096, 33);
    data.ws.send(serverInit);
    data.ws.send(update);
    expect(await viewer.bytes(16 + serverInit.length + update.length)).toEqual(
      concatBytes(enc.encode("RFB 003.008\n"), Uint8Array.of(0, 0, 0, 1), serverInit, update),
    );
    expect(viewer.texts.peek((f) => f.type === "error")).toEqual([]);
    expect(viewer.ws.readyState).toBe(WebSocket.OPEN);
    expect((await session(id).inspect()).lastInputAt).toBeNull();
    await bridge.disconnect();
  });

  it("one viewer controls: a second tab of the owner watches until it takes control", async () => {
    const user = await registerUser("rvc");
    const { bridge, id, start, primary } = await desktop(user);
    const a = await connectViewer((await ticketFor(user, id)).wsPath, primary, bridge, start);
    const b = await connectViewer((await ticketFor(user, id)).wsPath, primary, bridge, start);
    expect(b.viewer.texts.all.find((f) => f.type === "role")).toEqual({ type: "role", control: false, viewOnly: false });
    const handshake = concatBytes(rfb.version(), rfb.securityNone(), rfb.clientInit());
    a.viewer.ws.send(concatBytes(handshake, rfb.key(true, 65)));
    b.viewer.ws.send(concatBytes(handshake, rfb.key(true, 66), rfb.fbur()));
    expect(await a.data.bytes(handshake.length + 8)).toEqual(concatBytes(handshake, rfb.key(true, 65)));
    expect(await b.data.bytes(handshake.length + 10)).toEqual(concatBytes(handshake, rfb.fbur()));

    b.viewer.sendJson({ type: "take_control" });
    await b.viewer.texts.next((f) => f.type === "role" && f.control === true);
    await a.viewer.texts.next((f) => f.type === "role" && f.control === false);
    b.viewer.ws.send(rfb.key(true, 67));
    a.viewer.ws.send(rfb.key(true, 68));
    expect(await b.data.bytes(handshake.length + 18)).toEqual(concatBytes(handshake, rfb.fbur(), rfb.key(true, 67)));
    // When the controller leaves, the remaining tab gets control back.
    b.viewer.close();
    await a.viewer.texts.next((f) => f.type === "role" && f.control === true);
    a.viewer.ws.send(rfb.key(true, 69));
    expect(await a.data.bytes(handshake.length + 16)).toEqual(concatBytes(handshake, rfb.key(true, 65), rfb.key(true, 69)));
    await bridge.disconnect();
  });
});

describe("share links", () => {
  it("a teammate redeems a share link for a view-only ticket; others cannot; revoking disconnects them", async () => {
    const owner = await registerUser("rso");
    const teammate = await registerUser("rst");
    const another = await registerUser("rsa");
    const outsider = await registerUser("rsx");
    const team = await createTeam(owner);
    await addMember(owner, team.id, teammate, "viewer");
    await addMember(owner, team.id, another, "editor");
    const { bridge, id, start, primary } = await desktop(owner);

    const created = await expectStatus(await call("POST", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken, body: {} }), 201);
    expect(created.token).toMatch(/^dsh_/);
    expect(created.link).toBe(`https://atrium.test/desktops/shared#token=${created.token}`);
    const listed = await expectStatus(await call("GET", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken }), 200);
    // Made without naming anyone: for everyone who shares a team with the owner now.
    expect(listed.shares).toEqual([
      expect.objectContaining({
        id: created.share.id,
        revokedAt: null,
        recipients: expect.arrayContaining([
          { id: teammate.id, displayName: expect.any(String) },
          { id: another.id, displayName: expect.any(String) },
        ]),
      }),
    ]);
    expect(listed.shares[0].recipients).toHaveLength(2);
    expect(JSON.stringify(listed)).not.toContain(created.token);

    const redeem = (u: TestUser, token = created.token) =>
      call("POST", "/api/v1/desktop-shares/ticket", { token: u.accessToken, body: { token } });
    await expectError(await redeem(outsider), 404, "SHARE_NOT_FOUND");
    await expectError(await redeem(teammate, "dsh_made_up"), 404, "SHARE_NOT_FOUND");
    const got = await expectStatus(await redeem(teammate), 200);
    expect(got).toMatchObject({ viewOnly: true, session: { id, state: "running", templateName: expect.any(String) } });
    // The teammate has no other access to the session.
    await expectError(await call("GET", `/api/v1/desktops/${id}`, { token: teammate.accessToken }), 404, "DESKTOP_NOT_FOUND");
    await expectError(await call("POST", `/api/v1/desktops/${id}/ticket`, { token: teammate.accessToken }), 404, "DESKTOP_NOT_FOUND");

    // A second ticket, fetched but not yet used when the link is revoked below.
    const unused = await expectStatus(await redeem(teammate), 200);
    const { viewer, data } = await connectViewer(got.wsPath, primary, bridge, start);
    expect(viewer.texts.all.find((f) => f.type === "role")).toEqual({ type: "role", control: false, viewOnly: true });
    const handshake = concatBytes(rfb.version(), rfb.securityNone(), rfb.clientInit());
    viewer.ws.send(concatBytes(handshake, rfb.key(true, 65), rfb.pointer(1, 2, 3), rfb.fbur()));
    expect(await data.bytes(handshake.length + 10)).toEqual(concatBytes(handshake, rfb.fbur()));

    await expectStatus(await call("DELETE", `/api/v1/desktops/${id}/shares/${created.share.id}`, { token: owner.accessToken }), 204);
    expect(await viewer.texts.next((f) => f.type === "error")).toMatchObject({ code: "FORBIDDEN" });
    expect((await viewer.closed).code).toBe(1008);
    await expectError(await redeem(teammate), 404, "SHARE_NOT_FOUND");
    // Tickets the link gave out before it was revoked die with it.
    await expectError(await upgrade(unused.wsPath), 401, "TICKET_INVALID");
    await expectError(
      await call("DELETE", `/api/v1/desktops/${id}/shares/${created.share.id}`, { token: owner.accessToken }),
      404,
      "SHARE_NOT_FOUND",
    );

    // A link for one teammate works for that teammate only; links expire.
    const personal = await expectStatus(
      await call("POST", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken, body: { userIds: [another.id], expiresInHours: 1 } }),
      201,
    );
    expect(personal.share.recipients).toEqual([{ id: another.id, displayName: expect.any(String) }]);
    await expectError(await redeem(teammate, personal.token), 404, "SHARE_NOT_FOUND");
    await expectStatus(await redeem(another, personal.token), 200);
    await getDb(env)
      .update(desktopShares)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(desktopShares.id, personal.share.id));
    await expectError(await redeem(another, personal.token), 404, "SHARE_NOT_FOUND");
    await expectError(
      await call("POST", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken, body: { userIds: [teammate.id, outsider.id] } }),
      404,
      "USER_NOT_FOUND",
    );
    for (const body of [{ userIds: [] }, { userIds: [teammate.id, teammate.id] }, { userIds: ["not-a-uuid"] }])
      await expectError(await call("POST", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken, body }), 400, "VALIDATION_FAILED");
    await expectError(
      await call("POST", `/api/v1/desktops/${id}/shares`, { token: teammate.accessToken, body: {} }),
      404,
      "DESKTOP_NOT_FOUND",
    );
    await bridge.disconnect();
  });
});

describe("share links: recipients and revocation", () => {
  it("someone added to the owner's team after the link was made cannot redeem it; a new link has to name them", async () => {
    const owner = await registerUser("rno");
    const early = await registerUser("rne");
    const late = await registerUser("rnl");
    const team = await createTeam(owner);
    await addMember(owner, team.id, early, "viewer");
    const { bridge, id } = await desktop(owner);
    const everyone = await expectStatus(await call("POST", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken, body: {} }), 201);
    const named = await expectStatus(
      await call("POST", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken, body: { userIds: [early.id] } }),
      201,
    );
    // Someone joins the team later: making the link was no consent to share with them.
    await addMember(owner, team.id, late, "editor");
    const redeem = (u: TestUser, token: string) => call("POST", "/api/v1/desktop-shares/ticket", { token: u.accessToken, body: { token } });
    await expectError(await redeem(late, everyone.token), 404, "SHARE_NOT_FOUND");
    await expectError(await redeem(late, named.token), 404, "SHARE_NOT_FOUND");
    await expectStatus(await redeem(early, everyone.token), 200);
    await expectStatus(await redeem(early, named.token), 200);
    // The owner decides to include them: a new link does.
    const again = await expectStatus(await call("POST", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken, body: {} }), 201);
    expect(again.share.recipients.map((r: { id: string }) => r.id).sort()).toEqual([early.id, late.id].sort());
    await expectStatus(await redeem(late, again.token), 200);
    // A recipient who leaves the team loses access.
    await expectStatus(await call("DELETE", `/api/v1/teams/${team.id}/members/${early.id}`, { token: owner.accessToken }), 204);
    await expectError(await redeem(early, named.token), 404, "SHARE_NOT_FOUND");
    await bridge.disconnect();
  });

  it("revoking a link while its viewer connects closes that viewer whatever the timing", async () => {
    const owner = await registerUser("rrr");
    const mate = await registerUser("rrm");
    const team = await createTeam(owner);
    await addMember(owner, team.id, mate, "viewer");
    const { bridge, id } = await desktop(owner);
    const outcomes: string[] = [];
    // [ms before the revoke starts, ms before the viewer's upgrade starts]
    const timings = [
      [0, 0],
      [0, 1],
      [0, 3],
      [0, 8],
      [0, 15],
      [0, 30],
      [0, 60],
      [0, 120],
      [1, 0],
      [3, 0],
      [8, 0],
      [20, 0],
    ] as const;
    for (const [revokeMs, upgradeMs] of timings) {
      const share = await expectStatus(await call("POST", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken, body: {} }), 201);
      const t = await expectStatus(
        await call("POST", "/api/v1/desktop-shares/ticket", { token: mate.accessToken, body: { token: share.token } }),
        200,
      );
      const revoke = (async () => {
        await new Promise((r) => setTimeout(r, revokeMs));
        await expectStatus(await call("DELETE", `/api/v1/desktops/${id}/shares/${share.share.id}`, { token: owner.accessToken }), 204);
      })();
      await new Promise((r) => setTimeout(r, upgradeMs));
      const res = await upgrade(t.wsPath);
      await revoke;
      if (res.status !== 101) {
        // Refused at the door: the ticket died with the link.
        expect(res.status).toBe(401);
        outcomes.push("refused");
        continue;
      }
      const ws = res.webSocket as WebSocket;
      const closed = new Promise<number>((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
      ws.accept();
      const code = await Promise.race([closed, new Promise<string>((r) => setTimeout(() => r("still open"), 3000))]);
      expect(code, `viewer socket with the revoke at ${revokeMs} ms and the upgrade at ${upgradeMs} ms`).toBe(1008);
      outcomes.push("closed");
    }
    expect((await session(id).inspect()).viewers).toBe(0);
    // Each round ended one way or the other (which one depends on the timing).
    expect(outcomes).toHaveLength(timings.length);
    await bridge.disconnect();
  });

  it("a revoke that reached Postgres but not the session is finished by revoking again", async () => {
    const owner = await registerUser("rrf");
    const mate = await registerUser("rrg");
    const team = await createTeam(owner);
    await addMember(owner, team.id, mate, "viewer");
    const { bridge, id, start, primary } = await desktop(owner);
    const share = await expectStatus(await call("POST", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken, body: {} }), 201);
    const redeem = () => call("POST", "/api/v1/desktop-shares/ticket", { token: mate.accessToken, body: { token: share.token } });
    const t = await expectStatus(await redeem(), 200);
    const unused = await expectStatus(await redeem(), 200);
    const { viewer } = await connectViewer(t.wsPath, primary, bridge, start);
    // The first attempt died after marking the link revoked (the Worker was cut off, say).
    await getDb(env).update(desktopShares).set({ revokedAt: new Date() }).where(eq(desktopShares.id, share.share.id));
    await expectError(
      await call("DELETE", `/api/v1/desktops/${id}/shares/${share.share.id}`, { token: owner.accessToken }),
      404,
      "SHARE_NOT_FOUND",
    );
    expect(await viewer.texts.next((f) => f.type === "error")).toMatchObject({ code: "FORBIDDEN" });
    expect((await viewer.closed).code).toBe(1008);
    await expectError(await upgrade(unused.wsPath), 401, "TICKET_INVALID");
    await bridge.disconnect();
  });

  it("an owner without teammates cannot make a link for nobody", async () => {
    const owner = await registerUser("rnn");
    const { bridge, id } = await desktop(owner);
    await expectError(await call("POST", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken, body: {} }), 404, "USER_NOT_FOUND");
    await expectError(
      await call("POST", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken, body: { userIds: [owner.id] } }),
      404,
      "USER_NOT_FOUND",
    );
    await bridge.disconnect();
  });
});

describe("idle reaping and wake-on-connect", () => {
  /** Pretends the desktop has been running without input for `minutes`. */
  async function idleFor(id: string, minutes: number): Promise<void> {
    await runInDurableObject(session(id), (_instance, state) => {
      const status = state.storage.kv.get<{ runningSince: number }>("status");
      if (!status) throw new Error("no status");
      state.storage.kv.put("status", { ...status, runningSince: Date.now() - minutes * 60_000 });
    });
  }

  it("an idle docker desktop is hibernated and an idle local one is stopped; a recently used one is left alone", async () => {
    const user = await registerUser("rid");
    const docker = await desktop(user);
    const local = await desktop(user, { platform: "local" });
    const busy = await desktop(user);
    await putSettings(admin, { ...GENEROUS_SETTINGS, idleTimeoutMinutes: 1 });
    try {
      await idleFor(docker.id, 2);
      await idleFor(local.id, 2);
      expect(await runDurableObjectAlarm(session(docker.id))).toBe(true);
      expect(await runDurableObjectAlarm(session(local.id))).toBe(true);
      expect(await runDurableObjectAlarm(session(busy.id))).toBe(true);

      const hibernate = await docker.bridge.commandFor(docker.id, "hibernate_session");
      expect((await getSession(user, docker.id)).stateDetail).toBe("Idle for more than 1 minute.");
      docker.bridge.complete(hibernate.id);
      const slept = await waitForState(user, docker.id, "hibernated");
      expect(slept.stateDetail).toBe("Idle for more than 1 minute.");

      const stop = await local.bridge.commandFor(local.id, "stop_session");
      local.bridge.complete(stop.id);
      await waitForState(user, local.id, "stopped");

      expect((await getSession(user, busy.id)).state).toBe("running");
      expect(busy.bridge.socket?.texts.peek((f) => f.type === "command")).toEqual([]);
    } finally {
      await putSettings(admin, GENEROUS_SETTINGS);
      for (const d of [docker, local, busy]) await d.bridge.disconnect();
    }
  });

  it("a viewer who opens a hibernated desktop wakes it, sees the progress, then gets the stream", async () => {
    const user = await registerUser("rwk");
    const { bridge, id, start } = await desktop(user);
    await expectStatus(await call("POST", `/api/v1/desktops/${id}/hibernate`, { token: user.accessToken }), 202);
    bridge.complete((await bridge.commandFor(id, "hibernate_session")).id);
    await waitForState(user, id, "hibernated");

    const viewer = await openRaw((await ticketFor(user, id)).wsPath);
    expect(await viewer.texts.next((f) => f.type === "state")).toEqual({ type: "state", state: "hibernated", detail: null });
    expect(await viewer.texts.next((f) => f.type === "state")).toEqual({ type: "state", state: "waking", detail: null });
    const wake = await bridge.commandFor(id, "wake_session");
    if (wake.action !== "wake_session" || start.action !== "start_session") throw new Error("unreachable");
    // A wake brings a new data token; the old one is dead.
    expect(wake.payload.dataToken).not.toBe(start.payload.dataToken);
    await expectError(
      await upgrade(`/api/v1/desktops/${id}/bridge-data?conn=primary`, { Authorization: `Bearer ${start.payload.dataToken}` }),
      401,
      "DATA_TOKEN_INVALID",
    );
    bridge.ack(wake.id);
    bridge.complete(wake.id);
    expect(await viewer.texts.next((f) => f.type === "state")).toEqual({ type: "state", state: "running", detail: null });

    const primary = await bridge.openData(wake);
    const open = await primary.texts.next((f) => f.type === "open");
    const data = await bridge.openData(wake, open.connId as string);
    await viewer.texts.next((f) => f.type === "ready");
    data.ws.send(new TextEncoder().encode("RFB 003.008\n"));
    expect(new TextDecoder().decode(await viewer.bytes(12))).toBe("RFB 003.008\n");
    await bridge.disconnect();
  });

  it("a viewer's own reconnect (wake: false) waits on a hibernated desktop instead of waking it", async () => {
    const user = await registerUser("rwn");
    const { bridge, id } = await desktop(user);
    await expectStatus(await call("POST", `/api/v1/desktops/${id}/hibernate`, { token: user.accessToken }), 202);
    bridge.complete((await bridge.commandFor(id, "hibernate_session")).id);
    await waitForState(user, id, "hibernated");
    const viewer = await openRaw((await ticketFor(user, id, { wake: false })).wsPath);
    expect(await viewer.texts.next((f) => f.type === "state")).toEqual({ type: "state", state: "hibernated", detail: null });
    viewer.sendJson({ type: "ping" });
    await viewer.texts.next((f) => f.type === "pong");
    expect((await getSession(user, id)).state).toBe("hibernated");
    // Someone who opens it (the default) wakes it; the waiting viewer sees it come back.
    const opener = await openRaw((await ticketFor(user, id)).wsPath);
    expect(await viewer.texts.next((f) => f.type === "state" && f.state === "waking")).toMatchObject({ state: "waking" });
    bridge.complete((await bridge.commandFor(id, "wake_session")).id);
    await waitForState(user, id, "running");
    viewer.close();
    opener.close();
    await bridge.disconnect();
  });

  it("a viewer of a desktop that cannot wake is told why", async () => {
    const user = await registerUser("rwf");
    const { bridge, id } = await desktop(user);
    await expectStatus(await call("POST", `/api/v1/desktops/${id}/hibernate`, { token: user.accessToken }), 202);
    bridge.complete((await bridge.commandFor(id, "hibernate_session")).id);
    await waitForState(user, id, "hibernated");
    await bridge.disconnect();
    await getDb(env).update(bridges).set({ status: "offline" }).where(eq(bridges.id, bridge.id));
    const viewer = await openRaw((await ticketFor(user, id)).wsPath);
    expect(await viewer.texts.next((f) => f.type === "error")).toMatchObject({ code: "WAKE_FAILED" });
    expect((await viewer.closed).code).toBe(1011);
    expect((await getSession(user, id)).state).toBe("hibernated");
  });
});

describe("viewers follow the user's access", () => {
  it("deleting the only team a share viewer had in common with the owner closes their view; the owner's own view stays", async () => {
    const owner = await registerUser("rdo");
    const teammate = await registerUser("rdt");
    const team = await createTeam(owner);
    await addMember(owner, team.id, teammate, "viewer");
    const { bridge, id } = await desktop(owner);
    const created = await expectStatus(await call("POST", `/api/v1/desktops/${id}/shares`, { token: owner.accessToken, body: {} }), 201);
    const got = await expectStatus(
      await call("POST", "/api/v1/desktop-shares/ticket", { token: teammate.accessToken, body: { token: created.token } }),
      200,
    );
    const shared = await openRaw(got.wsPath, { "Sec-WebSocket-Protocol": `atrium.v1, atrium.bearer.${teammate.accessToken}` });
    await shared.texts.next((f) => f.type === "state");
    const own = await openRaw((await ticketFor(owner, id)).wsPath, {
      "Sec-WebSocket-Protocol": `atrium.v1, atrium.bearer.${owner.accessToken}`,
    });
    await own.texts.next((f) => f.type === "state");

    await expectStatus(await call("DELETE", `/api/v1/teams/${team.id}`, { token: owner.accessToken }), 204);
    expect(await shared.texts.next((f) => f.type === "error")).toMatchObject({ code: "ACCESS_REVOKED" });
    expect((await shared.closed).code).toBe(1008);
    expect(own.ws.readyState).toBe(WebSocket.OPEN);
    own.ws.close(1000);
    await bridge.disconnect();
  });

  it("the bearer subprotocol alone is echoed; logout and deactivation close the user's viewers (ACCESS_REVOKED, 1008)", async () => {
    const user = await registerUser("rvl");
    const { bridge, id } = await desktop(user);
    // A standard client offering only the bearer protocol needs it selected.
    const only = await upgrade((await ticketFor(user, id)).wsPath, { "Sec-WebSocket-Protocol": `atrium.bearer.${user.accessToken}` });
    expect(only.status).toBe(101);
    expect(only.headers.get("Sec-WebSocket-Protocol")).toBe(`atrium.bearer.${user.accessToken}`);
    only.webSocket?.accept();
    only.webSocket?.close(1000);

    const viewer = await openRaw((await ticketFor(user, id)).wsPath, {
      "Sec-WebSocket-Protocol": `atrium.v1, atrium.bearer.${user.accessToken}`,
    });
    await viewer.texts.next((f) => f.type === "state");
    await expectStatus(await call("POST", "/api/v1/auth/logout", { body: { refreshToken: user.refreshToken } }), 204);
    expect(await viewer.texts.next((f) => f.type === "error")).toMatchObject({ code: "ACCESS_REVOKED" });
    expect((await viewer.closed).code).toBe(1008);

    // Signed in again, then deactivated by an admin: the viewer closes too.
    const again = await expectStatus<{ accessToken: string }>(
      await call("POST", "/api/v1/auth/login", { body: { login: user.username, password: user.password } }),
      200,
    );
    const back = { ...user, accessToken: again.accessToken };
    const second = await openRaw((await ticketFor(back, id)).wsPath, {
      "Sec-WebSocket-Protocol": `atrium.v1, atrium.bearer.${back.accessToken}`,
    });
    await second.texts.next((f) => f.type === "state");
    await expectStatus(await call("PATCH", `/api/v1/admin/users/${user.id}`, { token: admin.accessToken, body: { isActive: false } }), 200);
    expect(await second.texts.next((f) => f.type === "error")).toMatchObject({ code: "ACCESS_REVOKED" });
    expect((await second.closed).code).toBe(1008);
    await bridge.disconnect();
  });
});
