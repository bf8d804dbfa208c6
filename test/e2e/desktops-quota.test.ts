/**
 * Quotas and idle reaping end to end on npm start's own local bridge (real Xvfb + x11vnc): a fresh
 * install has the bridge online and an admin-only template (a shell on the host: users don't see
 * it until an administrator opens it up); a user at `per_user_session_limit` gets
 * 429 QUOTA_EXCEEDED and nothing more starts on the machine; a desktop left without input longer
 * than the idle timeout is stopped (local desktops cannot hibernate) and its processes end.
 * IDLE_MINUTE_MS makes a minute of the idle timeout last one second.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiClient, registerUser, signInFirstAdmin } from "../helpers/api-client.ts";
import { desktopProcesses, killDesktopProcesses, requirePrograms } from "../helpers/local-desktops.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

await requirePrograms("Xvfb", "x11vnc");

const DISPLAYS = { first: 260, last: 279 };

interface Session {
  id: string;
  state: string;
  stateDetail: string | null;
}

let stack: Stack;
let admin: ApiClient;
let user: ApiClient;

const programs = () =>
  desktopProcesses(DISPLAYS)
    .map((p) => p.program)
    .sort();

async function state(id: string): Promise<Session> {
  return (await user.ok<{ session: Session }>("GET", `/api/v1/desktops/${id}`)).session;
}

async function settings(perUserSessionLimit: number, idleTimeoutMinutes: number): Promise<void> {
  await admin.ok("PUT", "/api/v1/admin/desktop-settings", { maxConcurrentSessions: 50, perUserSessionLimit, idleTimeoutMinutes });
}

describe("desktop quotas and idle reaping on npm start's local bridge", () => {
  beforeAll(async () => {
    stack = await startStack({ env: { LOCAL_DISPLAY_RANGE: `${DISPLAYS.first}-${DISPLAYS.last}`, IDLE_MINUTE_MS: "1000" } });
    admin = await signInFirstAdmin(stack.url, stack.adminPassword ?? "");
    user = await registerUser(stack.url, `quota${Date.now().toString(36)}`);
  });

  afterAll(async () => {
    await stack?.stop();
    killDesktopProcesses(DISPLAYS);
  });

  it("a fresh install has its local bridge online and a template only administrators see, until one opens it up", async () => {
    const { bridges } = await admin.ok<{ bridges: { name: string; platform: string; status: string }[] }>("GET", "/api/v1/admin/bridges");
    expect(bridges).toEqual([expect.objectContaining({ name: "local", platform: "local", status: "online" })]);
    const hidden = await user.ok<{ templates: { name: string }[] }>("GET", "/api/v1/desktop-templates");
    expect(hidden.templates).toEqual([]);
    const { templates } = await admin.ok<{ templates: { id: string; name: string; adminOnly: boolean; description: string }[] }>(
      "GET",
      "/api/v1/admin/desktop-templates",
    );
    expect(templates).toEqual([
      expect.objectContaining({ name: "Local desktop", adminOnly: true, description: expect.stringMatching(/shell on the machine/) }),
    ]);
    await admin.ok("PATCH", `/api/v1/admin/desktop-templates/${templates[0]?.id}`, { adminOnly: false });
    const opened = await user.ok<{ templates: { name: string }[] }>("GET", "/api/v1/desktop-templates");
    expect(opened.templates.map((t) => t.name)).toEqual(["Local desktop"]);
  });

  it("a user at the per-user limit gets 429 QUOTA_EXCEEDED, and an idle desktop is stopped", async () => {
    const { templates } = await user.ok<{ templates: { id: string }[] }>("GET", "/api/v1/desktop-templates");
    const templateId = templates[0]?.id;
    await settings(1, 0);

    const started = await user.ok<{ session: Session }>("POST", "/api/v1/desktops", { templateId });
    const id = started.session.id;
    await expect.poll(async () => (await state(id)).state, { timeout: 30_000 }).toBe("running");
    expect(programs()).toEqual(["Xvfb", "x11vnc"]);

    // The desktop runs as a user of its own, who cannot read npm start's secrets (JWT secret, keys).
    const [xvfb] = desktopProcesses(DISPLAYS);
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${xvfb?.pid}/status`, "utf8"))?.[1]);
    expect(uid).toBeGreaterThan(0);
    const secrets = join(stack.dataDir, "secrets.json");
    expect(statSync(stack.dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(secrets).mode & 0o777).toBe(0o600);
    const peek = spawnSync("cat", [secrets], { uid, gid: uid, encoding: "utf8" });
    expect(peek.status).not.toBe(0);
    expect(peek.stderr).toMatch(/Permission denied/);

    const refused = await user.request<{ error: { code: string; details?: { scope?: string } } }>("POST", "/api/v1/desktops", {
      templateId,
    });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: "QUOTA_EXCEEDED", details: { scope: "user" } });
    expect(programs()).toEqual(["Xvfb", "x11vnc"]);

    // Nobody touches it: with a one-minute timeout the desktop is reaped (stopped: local ones cannot hibernate).
    await settings(1, 1);
    await expect.poll(async () => (await state(id)).state, { timeout: 30_000 }).toBe("stopped");
    expect((await state(id)).stateDetail).toBe("Idle for more than 1 minute.");
    await expect.poll(programs, { timeout: 10_000 }).toEqual([]);

    // Its slot is free again.
    await settings(1, 0);
    const again = await user.ok<{ session: Session }>("POST", "/api/v1/desktops", { templateId });
    await expect.poll(async () => (await state(again.session.id)).state, { timeout: 30_000 }).toBe("running");
  });
});
