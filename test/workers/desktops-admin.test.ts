/**
 * Desktop administration in workerd: templates, quotas, bridges (token shown once, hash only in
 * Postgres, rotate, drain, deregister) and the VM image catalog (resumable multipart upload to
 * local R2, signed download links).
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { bridges, desktopSessions } from "../../migrations/schema.ts";
import { getDb } from "../../worker/db/client.ts";
import { sha256Hex } from "../../worker/lib/bytes.ts";
import { signImageLink } from "../../worker/lib/signed-links.ts";
import {
  createTemplate,
  eventually,
  GENEROUS_SETTINGS,
  openRaw,
  putSettings,
  runningSession,
  TestBridge,
  uniqueRegion,
  upgrade,
} from "./desktop-helpers.ts";
import { BASE, call, expectError, expectStatus, makeAdmin, registerUser, type TestUser } from "./helpers.ts";
import { exports } from "cloudflare:workers";

let admin: TestUser;
let user: TestUser;

beforeAll(async () => {
  admin = await makeAdmin(await registerUser("dad"));
  user = await registerUser("dau");
  await putSettings(admin, GENEROUS_SETTINGS);
});

const adminCall = (method: string, path: string, body?: unknown) =>
  call(method, path, { token: admin.accessToken, ...(body !== undefined && { body }) });

describe("desktop templates", () => {
  it("an admin creates, edits, disables, enables and deletes a template; users see only enabled ones, without their environment", async () => {
    const created = await expectStatus(
      await adminCall("POST", "/api/v1/admin/desktop-templates", {
        name: "Ubuntu XFCE",
        description: "A light desktop",
        kind: "container",
        image: "ghcr.io/lab/xfce:24.04",
        cpu: 2,
        memoryMb: 4096,
        runtimeClass: "gvisor",
        env: { LICENSE_SERVER: "lic.internal:27000" },
        persistentHome: true,
      }),
      201,
    );
    const t = created.template;
    expect(t).toMatchObject({
      name: "Ubuntu XFCE",
      kind: "container",
      cpu: 2,
      memoryMb: 4096,
      runtimeClass: "gvisor",
      persistentHome: true,
      enabled: true,
    });

    const visible = await expectStatus(await call("GET", "/api/v1/desktop-templates", { token: user.accessToken }), 200);
    const mine = visible.templates.find((x: { id: string }) => x.id === t.id);
    expect(mine).toMatchObject({ name: "Ubuntu XFCE", cpu: 2 });
    expect(mine.env).toBeUndefined();

    const edited = await expectStatus(
      await adminCall("PATCH", `/api/v1/admin/desktop-templates/${t.id}`, { description: "Lighter", enabled: false }),
      200,
    );
    expect(edited.template).toMatchObject({ description: "Lighter", enabled: false, name: "Ubuntu XFCE" });
    const hidden = await expectStatus(await call("GET", "/api/v1/desktop-templates", { token: user.accessToken }), 200);
    expect(hidden.templates.map((x: { id: string }) => x.id)).not.toContain(t.id);
    await expectError(
      await call("POST", "/api/v1/desktops", { token: user.accessToken, body: { templateId: t.id } }),
      404,
      "TEMPLATE_NOT_FOUND",
    );

    await expectStatus(await adminCall("PATCH", `/api/v1/admin/desktop-templates/${t.id}`, { enabled: true }), 200);
    const all = await expectStatus(await adminCall("GET", "/api/v1/admin/desktop-templates"), 200);
    expect(all.templates.find((x: { id: string }) => x.id === t.id)).toMatchObject({
      enabled: true,
      env: { LICENSE_SERVER: "lic.internal:27000" },
    });

    await expectStatus(await adminCall("DELETE", `/api/v1/admin/desktop-templates/${t.id}`), 204);
    await expectError(await adminCall("PATCH", `/api/v1/admin/desktop-templates/${t.id}`, { enabled: true }), 404, "TEMPLATE_NOT_FOUND");
    await expectError(await adminCall("DELETE", `/api/v1/admin/desktop-templates/${t.id}`), 404, "TEMPLATE_NOT_FOUND");
  });

  it("an admin-only template does not exist for users (hidden, 404 TEMPLATE_NOT_FOUND on start); admins list and start it", async () => {
    const bridge = await TestBridge.online(admin, { platform: "local" });
    const shell = await expectStatus(
      await adminCall("POST", "/api/v1/admin/desktop-templates", {
        name: "Host shell",
        description: "A shell on the host",
        kind: "container",
        image: "atrium/local-desktop",
        adminOnly: true,
      }),
      201,
    );
    expect(shell.template).toMatchObject({ adminOnly: true, enabled: true });
    const open = await createTemplate(admin);
    expect(open).toMatchObject({ adminOnly: false });

    const userList = await expectStatus(await call("GET", "/api/v1/desktop-templates", { token: user.accessToken }), 200);
    const userIds = userList.templates.map((x: { id: string }) => x.id);
    expect(userIds).toContain(open.id);
    expect(userIds).not.toContain(shell.template.id);
    await expectError(
      await call("POST", "/api/v1/desktops", {
        token: user.accessToken,
        body: { templateId: shell.template.id, region: bridge.region, platform: "local" },
      }),
      404,
      "TEMPLATE_NOT_FOUND",
    );

    const adminList = await expectStatus(await adminCall("GET", "/api/v1/desktop-templates"), 200);
    expect(adminList.templates.find((x: { id: string }) => x.id === shell.template.id)).toMatchObject({ adminOnly: true });
    const { id } = await runningSession(admin, shell.template.id, bridge);
    await expectStatus(await adminCall("POST", `/api/v1/desktops/${id}/stop`), 202);

    // Opening it up makes it a normal template; closing it again hides it again.
    await expectStatus(await adminCall("PATCH", `/api/v1/admin/desktop-templates/${shell.template.id}`, { adminOnly: false }), 200);
    const opened = await expectStatus(await call("GET", "/api/v1/desktop-templates", { token: user.accessToken }), 200);
    expect(opened.templates.map((x: { id: string }) => x.id)).toContain(shell.template.id);
    await expectStatus(await adminCall("PATCH", `/api/v1/admin/desktop-templates/${shell.template.id}`, { adminOnly: true }), 200);
    const closed = await expectStatus(await call("GET", "/api/v1/desktop-templates", { token: user.accessToken }), 200);
    expect(closed.templates.map((x: { id: string }) => x.id)).not.toContain(shell.template.id);
    await expectError(
      await adminCall("POST", "/api/v1/admin/desktop-templates", { name: "x", kind: "container", image: "a/b", adminOnly: "yes" }),
      400,
      "VALIDATION_FAILED",
    );
    await bridge.disconnect();
  });

  it("refuses bad image references, unknown VM images and bad environment names", async () => {
    await expectError(
      await adminCall("POST", "/api/v1/admin/desktop-templates", { name: "x", kind: "container", image: "bad image; rm -rf /" }),
      400,
      "VALIDATION_FAILED",
    );
    await expectError(
      await adminCall("POST", "/api/v1/admin/desktop-templates", { name: "x", kind: "vm", image: crypto.randomUUID() }),
      404,
      "IMAGE_NOT_FOUND",
    );
    await expectError(
      await adminCall("POST", "/api/v1/admin/desktop-templates", { name: "x", kind: "vm", image: "ubuntu.qcow2" }),
      404,
      "IMAGE_NOT_FOUND",
    );
    await expectError(
      await adminCall("POST", "/api/v1/admin/desktop-templates", { name: "x", kind: "container", image: "a/b", env: { "1BAD": "v" } }),
      400,
      "VALIDATION_FAILED",
    );
    await expectError(
      await call("POST", "/api/v1/admin/desktop-templates", {
        token: user.accessToken,
        body: { name: "x", kind: "container", image: "a/b" },
      }),
      403,
      "FORBIDDEN",
    );
  });
});

describe("desktop quotas", () => {
  it("an admin reads and sets the session limits and idle timeout", async () => {
    const set = { maxConcurrentSessions: 321, perUserSessionLimit: 7, idleTimeoutMinutes: 45 };
    expect((await expectStatus(await adminCall("PUT", "/api/v1/admin/desktop-settings", set), 200)).settings).toEqual(set);
    expect((await expectStatus(await adminCall("GET", "/api/v1/admin/desktop-settings"), 200)).settings).toEqual(set);
    await expectError(
      await adminCall("PUT", "/api/v1/admin/desktop-settings", { ...set, idleTimeoutMinutes: -1 }),
      400,
      "VALIDATION_FAILED",
    );
    await expectError(await call("GET", "/api/v1/admin/desktop-settings", { token: user.accessToken }), 403, "FORBIDDEN");
    await putSettings(admin, GENEROUS_SETTINGS);
  });
});

describe("bridges", () => {
  it("registering returns the token once; Postgres keeps only its SHA-256 hash", async () => {
    const region = uniqueRegion();
    const res = await expectStatus(
      await adminCall("POST", "/api/v1/admin/bridges", { name: "k8s-eu", platform: "kubernetes", region }),
      201,
    );
    expect(res.token).toMatch(/^brg_[A-Za-z0-9_-]{40,}$/);
    expect(res.bridge).toMatchObject({
      name: "k8s-eu",
      platform: "kubernetes",
      region,
      status: "registered",
      draining: false,
      activeSessions: 0,
    });
    const [row] = await getDb(env).select().from(bridges).where(eq(bridges.id, res.bridge.id));
    expect(row?.tokenHash).toBe(await sha256Hex(res.token));
    expect(JSON.stringify(row)).not.toContain(res.token);
    const list = await expectStatus(await adminCall("GET", `/api/v1/admin/bridges?region=${region}`), 200);
    expect(list.bridges).toHaveLength(1);
    expect(JSON.stringify(list)).not.toContain(res.token);
    expect(list.bridges[0].token).toBeUndefined();
  });

  it("a bridge connects with its token, says hello, and the list shows it online with capacity, version, active sessions and heartbeat age", async () => {
    const bridge = await TestBridge.register(admin, { platform: "docker" });
    await bridge.connect();
    await bridge.hello({ capacity: 7, version: "1.4.2" });
    const template = await createTemplate(admin);
    await runningSession(user, template.id, bridge);
    const {
      bridges: [listed],
    } = await expectStatus(await adminCall("GET", `/api/v1/admin/bridges?region=${bridge.region}&status=online&platform=docker`), 200);
    expect(listed).toMatchObject({ id: bridge.id, status: "online", capacity: 7, version: "1.4.2", activeSessions: 1 });
    expect(listed.heartbeatAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(listed.heartbeatAgeSeconds).toBeLessThan(30);
    const offline = await expectStatus(await adminCall("GET", `/api/v1/admin/bridges?region=${bridge.region}&status=offline`), 200);
    expect(offline.bridges).toEqual([]);
    await bridge.disconnect();
  });

  it("refuses wrong tokens, user tokens and a hello for another bridge", async () => {
    const bridge = await TestBridge.register(admin);
    await expectError(
      await upgrade("/api/v1/bridges/connect", { Authorization: "Bearer brg_not-a-real-token" }),
      401,
      "BRIDGE_TOKEN_INVALID",
    );
    await expectError(
      await upgrade("/api/v1/bridges/connect", { Authorization: `Bearer ${user.accessToken}` }),
      401,
      "BRIDGE_TOKEN_INVALID",
    );
    await expectError(await upgrade("/api/v1/bridges/connect"), 401, "BRIDGE_TOKEN_INVALID");
    const socket = await bridge.connect();
    socket.sendJson({
      type: "hello",
      bridgeId: crypto.randomUUID(),
      platform: "docker",
      region: "x",
      version: "1",
      capacity: 1,
      sessions: [],
    });
    expect(await socket.texts.next((f) => f.type === "error")).toMatchObject({ code: "BRIDGE_MISMATCH" });
    expect((await socket.closed).code).toBe(1008);
    const again = await bridge.connect();
    again.sendJson({ type: "heartbeat", sessions: [] });
    expect(await again.texts.next((f) => f.type === "error")).toMatchObject({ code: "HELLO_REQUIRED" });
    again.sendJson({ type: "nonsense" });
    expect(await again.texts.next((f) => f.type === "error")).toMatchObject({ code: "BAD_FRAME" });
    await bridge.disconnect();
  });

  it("rotating the token ends the live connection and invalidates the old token", async () => {
    const bridge = await TestBridge.online(admin);
    const oldToken = bridge.token;
    const oldSocket = bridge.socket;
    const rotated = await expectStatus(await adminCall("POST", `/api/v1/admin/bridges/${bridge.id}/rotate-token`), 200);
    expect(rotated.token).toMatch(/^brg_/);
    expect(rotated.token).not.toBe(oldToken);
    expect((await oldSocket?.closed)?.code).toBe(1008);
    await expectError(await upgrade("/api/v1/bridges/connect", { Authorization: `Bearer ${oldToken}` }), 401, "BRIDGE_TOKEN_INVALID");
    bridge.token = rotated.token;
    await bridge.connect();
    await bridge.hello();
    await bridge.disconnect();
  });

  it("drain keeps new desktops away until undrained", async () => {
    const bridge = await TestBridge.online(admin, { platform: "kubernetes" });
    const template = await createTemplate(admin);
    const drained = await expectStatus(await adminCall("POST", `/api/v1/admin/bridges/${bridge.id}/drain`), 200);
    expect(drained.bridge).toMatchObject({ draining: true, status: "online" });
    const listed = await expectStatus(await adminCall("GET", `/api/v1/admin/bridges?status=draining&region=${bridge.region}`), 200);
    expect(listed.bridges.map((b: { id: string }) => b.id)).toEqual([bridge.id]);
    await expectError(
      await call("POST", "/api/v1/desktops", { token: user.accessToken, body: { templateId: template.id, platform: "kubernetes" } }),
      409,
      "NO_CAPACITY",
    );
    await expectStatus(await adminCall("POST", `/api/v1/admin/bridges/${bridge.id}/undrain`), 200);
    const started = await expectStatus(
      await call("POST", "/api/v1/desktops", {
        token: user.accessToken,
        body: { templateId: template.id, platform: "kubernetes", region: bridge.region },
      }),
      201,
    );
    expect(started.session.bridgeId).toBe(bridge.id);
    await expectStatus(await adminCall("DELETE", `/api/v1/admin/bridges/${bridge.id}`), 204);
  });

  it("deregistering closes the bridge's connection, fails its desktops and forgets it", async () => {
    const bridge = await TestBridge.online(admin);
    const template = await createTemplate(admin);
    const { id } = await runningSession(user, template.id, bridge);
    const socket = bridge.socket;
    await expectStatus(await adminCall("DELETE", `/api/v1/admin/bridges/${bridge.id}`), 204);
    expect((await socket?.closed)?.code).toBe(1008);
    const [session] = await getDb(env).select().from(desktopSessions).where(eq(desktopSessions.id, id));
    expect(session).toMatchObject({ state: "failed", bridgeId: null });
    expect(session?.stateDetail).toMatch(/deregistered/);
    await expectError(await upgrade("/api/v1/bridges/connect", { Authorization: `Bearer ${bridge.token}` }), 401, "BRIDGE_TOKEN_INVALID");
    await expectError(await adminCall("DELETE", `/api/v1/admin/bridges/${bridge.id}`), 404, "BRIDGE_NOT_FOUND");
    await expectError(await adminCall("POST", `/api/v1/admin/bridges/${bridge.id}/drain`), 404, "BRIDGE_NOT_FOUND");
  });
});

describe("VM image catalog", () => {
  const MiB = 1024 * 1024;
  const pattern = (n: number, seed: number) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 255;
    return out;
  };
  const putPart = (imageId: string, n: number, bytes: Uint8Array) =>
    exports.default.fetch(
      new Request(`${BASE}/api/v1/admin/images/${imageId}/parts/${n}`, {
        method: "PUT",
        headers: { Authorization: `Bearer ${admin.accessToken}`, "Content-Type": "application/octet-stream" },
        body: bytes,
      }),
    );

  it("uploads in resumable parts, completes, and serves the image through a signed link (with ranges)", async () => {
    await expectError(await adminCall("POST", "/api/v1/admin/images", { name: "bad", filename: "disk.exe" }), 400, "VALIDATION_FAILED");
    const created = await expectStatus(
      await adminCall("POST", "/api/v1/admin/images", { name: "Ubuntu 24.04", filename: "ubuntu-24.04.qcow2" }),
      201,
    );
    const id = created.image.id;
    expect(created.image).toMatchObject({ status: "uploading", format: "qcow2" });
    expect(created.minPartBytes).toBe(5 * MiB);

    const part1 = pattern(5 * MiB, 1);
    const part2 = pattern(300_000, 2);
    expect((await expectStatus(await putPart(id, 1, part1), 200)).part).toMatchObject({ partNumber: 1, sizeBytes: 5 * MiB });

    // The client lost its place: it asks what is stored and sends the rest.
    const resumed = await expectStatus(await adminCall("GET", `/api/v1/admin/images/${id}/parts`), 200);
    expect(resumed.parts.map((p: { partNumber: number }) => p.partNumber)).toEqual([1]);
    expect(resumed.uploadedBytes).toBe(5 * MiB);
    await expectStatus(await putPart(id, 2, pattern(1000, 9)), 200);
    // Sending a part again replaces it.
    await expectStatus(await putPart(id, 2, part2), 200);
    const parts = await expectStatus(await adminCall("GET", `/api/v1/admin/images/${id}/parts`), 200);
    expect(parts.parts.map((p: { partNumber: number; sizeBytes: number }) => [p.partNumber, p.sizeBytes])).toEqual([
      [1, 5 * MiB],
      [2, 300_000],
    ]);

    const done = await expectStatus(await adminCall("POST", `/api/v1/admin/images/${id}/complete`), 200);
    expect(done.image).toMatchObject({ status: "ready", sizeBytes: 5 * MiB + 300_000 });
    await expectError(await putPart(id, 3, part2), 409, "UPLOAD_NOT_IN_PROGRESS");
    const catalog = await expectStatus(await adminCall("GET", "/api/v1/admin/images"), 200);
    expect(catalog.images.find((i: { id: string }) => i.id === id)).toMatchObject({ status: "ready", name: "Ubuntu 24.04" });

    const link = await expectStatus(await adminCall("POST", `/api/v1/admin/images/${id}/link`), 200);
    const url = new URL(link.url);
    expect(url.pathname).toBe(`/api/v1/images/${id}/download`);
    const download = await exports.default.fetch(new Request(link.url));
    expect(download.status).toBe(200);
    expect(download.headers.get("Content-Length")).toBe(String(5 * MiB + 300_000));
    const body = new Uint8Array(await download.arrayBuffer());
    expect(body.length).toBe(5 * MiB + 300_000);
    expect(body.subarray(0, 5 * MiB)).toEqual(part1);
    expect(body.subarray(5 * MiB)).toEqual(part2);

    const ranged = await exports.default.fetch(new Request(link.url, { headers: { Range: `bytes=${5 * MiB - 2}-${5 * MiB + 1}` } }));
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("Content-Range")).toBe(`bytes ${5 * MiB - 2}-${5 * MiB + 1}/${5 * MiB + 300_000}`);
    expect([...new Uint8Array(await ranged.arrayBuffer())]).toEqual([...part1.subarray(5 * MiB - 2), ...part2.subarray(0, 2)]);

    // A VM template may now name it; while it does, the image cannot be deleted.
    const template = await createTemplate(admin, { kind: "vm", image: id });
    await expectError(await adminCall("DELETE", `/api/v1/admin/images/${id}`), 409, "IMAGE_IN_USE");
    await expectStatus(await adminCall("DELETE", `/api/v1/admin/desktop-templates/${template.id}`), 204);
    await expectStatus(await adminCall("DELETE", `/api/v1/admin/images/${id}`), 204);
    expect(await env.IMAGES.head(`images/${id}/ubuntu-24.04.qcow2`)).toBeNull();
  });

  it("expired and forged links are 403", async () => {
    const created = await expectStatus(await adminCall("POST", "/api/v1/admin/images", { name: "tiny", filename: "tiny.iso" }), 201);
    const id = created.image.id;
    await expectStatus(await putPart(id, 1, pattern(1000, 3)), 200);
    await expectStatus(await adminCall("POST", `/api/v1/admin/images/${id}/complete`), 200);
    const { url } = await expectStatus(await adminCall("POST", `/api/v1/admin/images/${id}/link`), 200);
    expect((await exports.default.fetch(new Request(url))).status).toBe(200);

    const expired = await signImageLink(env.JWT_SECRET, BASE, id, 60, Date.now() - 2 * 60_000);
    await expectError(await exports.default.fetch(new Request(expired.url)), 403, "LINK_EXPIRED");
    const u = new URL(url);
    const forged = new URL(url);
    forged.searchParams.set("expires", String(Number(u.searchParams.get("expires")) + 3600));
    await expectError(await exports.default.fetch(new Request(forged.toString())), 403, "LINK_INVALID");
    const otherImage = new URL(url.replace(id, crypto.randomUUID()));
    await expectError(await exports.default.fetch(new Request(otherImage.toString())), 403, "LINK_INVALID");
    const wrongKey = await signImageLink("some-other-secret-that-is-long-enough-000000", BASE, id);
    await expectError(await exports.default.fetch(new Request(wrongKey.url)), 403, "LINK_INVALID");
    // A user's JWT is no substitute for a signature.
    await expectError(
      await call("GET", `/api/v1/images/${id}/download?expires=9999999999&sig=abc`, { token: admin.accessToken }),
      403,
      "LINK_INVALID",
    );
  });

  it("aborting an upload forgets it; parts too small to assemble are refused", async () => {
    const created = await expectStatus(await adminCall("POST", "/api/v1/admin/images", { name: "aborted", filename: "aborted.vmdk" }), 201);
    await expectStatus(await putPart(created.image.id, 1, pattern(100, 4)), 200);
    await expectStatus(await putPart(created.image.id, 2, pattern(100, 5)), 200);
    await expectError(await adminCall("POST", `/api/v1/admin/images/${created.image.id}/complete`), 422, "UPLOAD_INVALID");
    await expectStatus(await adminCall("DELETE", `/api/v1/admin/images/${created.image.id}`), 204);
    await expectError(await adminCall("GET", `/api/v1/admin/images/${created.image.id}/parts`), 404, "IMAGE_NOT_FOUND");
    await expectError(await putPart(created.image.id, 1, pattern(100, 4)), 404, "IMAGE_NOT_FOUND");

    const gap = await expectStatus(await adminCall("POST", "/api/v1/admin/images", { name: "gap", filename: "gap.raw" }), 201);
    await expectStatus(await putPart(gap.image.id, 2, pattern(100, 6)), 200);
    await expectError(await adminCall("POST", `/api/v1/admin/images/${gap.image.id}/complete`), 422, "UPLOAD_INVALID");
    await expectError(await adminCall("POST", `/api/v1/admin/images/${gap.image.id}/link`), 409, "IMAGE_NOT_READY");
    await expectError(
      await exports.default.fetch(
        new Request(`${BASE}/api/v1/admin/images/${gap.image.id}/parts/0`, {
          method: "PUT",
          headers: { Authorization: `Bearer ${admin.accessToken}` },
          body: pattern(10, 1),
        }),
      ),
      400,
      "VALIDATION_FAILED",
    );
    await expectStatus(await adminCall("DELETE", `/api/v1/admin/images/${gap.image.id}`), 204);
  });
});

describe("stale sockets", () => {
  it("a socket of a removed bridge's desktop is refused", async () => {
    const bridge = await TestBridge.online(admin);
    const template = await createTemplate(admin);
    const { id, start } = await runningSession(user, template.id, bridge);
    await expectStatus(await adminCall("DELETE", `/api/v1/admin/bridges/${bridge.id}`), 204);
    await eventually(
      async () =>
        (
          await upgrade(`/api/v1/desktops/${id}/bridge-data?conn=primary`, {
            Authorization: `Bearer ${start.action === "start_session" ? start.payload.dataToken : ""}`,
          })
        ).status,
      (s) => s === 401,
      "data token of a failed desktop",
    );
    await expect(openRaw(`/api/v1/desktops/${id}/ws?ticket=vtk_nope`)).rejects.toThrow(/401/);
  });
});
