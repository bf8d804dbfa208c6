/**
 * End to end against `npm start`'s stack in real Chromium: the first admin's forced password
 * change, and register → create team → add agent → a second browser sees presence.
 */
import type { Page, WebSocket } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerUser } from "../helpers/api-client.ts";
import { BrowserPool, registerInSite } from "../helpers/browser.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
const browsers = new BrowserPool();
const newPage = () => browsers.newPage(15_000);

async function signIn(page: Page, login: string, password: string): Promise<void> {
  await page.goto(`${stack.url}/login`);
  await page.getByLabel("Username or email").fill(login);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: /sign in/i }).click();
}

describe("Atrium in the browser", () => {
  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await browsers.closeAll();
    await stack?.stop();
  });

  it("the printed first admin signs in and must choose a new password first", async () => {
    expect(stack.adminPassword, stack.output()).toBeTruthy();
    const page = await newPage();
    await signIn(page, "admin", stack.adminPassword!);
    await page.getByLabel("Current password").fill(stack.adminPassword!);
    await page.getByLabel("New password", { exact: true }).fill("admin's new password 1");
    await page.getByLabel("Confirm new password").fill("admin's new password 1");
    await page.getByRole("button", { name: /change password|save/i }).click();
    await page.getByRole("heading", { name: /teams/i }).waitFor();
    // Now an admin: the admin pages are reachable.
    await page.getByRole("link", { name: /admin/i }).first().click();
    await expect.poll(() => page.url()).toContain("/admin");
    await page.getByText("admin", { exact: true }).first().waitFor();
  });

  it("register → create team → add agent → a second browser sees presence", async () => {
    const alice = `alice${Date.now().toString(36)}`;
    const bob = `bob${Date.now().toString(36)}`;
    const password = "a long enough password";

    const pageB = await newPage();
    await registerInSite(pageB, stack.url, bob, password);

    const pageA = await newPage();
    await registerInSite(pageA, stack.url, alice, password);
    await pageA.getByLabel("Team name").fill("Nanobody lab");
    await pageA.getByRole("button", { name: /create team/i }).click();
    await pageA.getByRole("link", { name: "Nanobody lab" }).click();
    await pageA.getByRole("heading", { name: "Nanobody lab" }).waitFor();

    await pageA.getByLabel("Title").fill("Immunologist");
    await pageA.getByLabel("Expertise").fill("antibody engineering");
    await pageA.getByLabel("Goal").fill("design nanobodies against the new variant");
    await pageA.getByLabel("Role", { exact: true }).fill("propose binder candidates");
    await pageA.getByLabel("Model").fill("claude-sonnet-4-5");
    await pageA.getByRole("button", { name: /add agent|create agent|save agent/i }).click();
    await pageA.getByText("Immunologist").first().waitFor();

    // Alice adds Bob as a viewer.
    await pageA.getByLabel(/username or email/i).fill(bob);
    await pageA.getByRole("button", { name: /add member/i }).click();
    await pageA.getByTestId("members").getByText(bob).waitFor();

    // Bob opens the team; both see each other live.
    await pageB.goto(pageA.url());
    await pageB.getByRole("heading", { name: "Nanobody lab" }).waitFor();
    await pageB.getByText("Immunologist").first().waitFor();
    await pageB.getByTestId("presence").getByTestId("presence-user").filter({ hasText: alice }).waitFor();
    await pageA.getByTestId("presence").getByTestId("presence-user").filter({ hasText: bob }).waitFor();

    // Bob leaves the page; Alice sees him go.
    await pageB.goto(`${stack.url}/`);
    await expect
      .poll(() => pageA.getByTestId("presence").getByTestId("presence-user").filter({ hasText: bob }).count(), { timeout: 15_000 })
      .toBe(0);
  });

  it("a member removed from the team loses the open presence socket at once, and the page does not reconnect it", async () => {
    const owner = await registerUser(stack.url, `own${Date.now().toString(36)}`);
    const { team } = await owner.ok<{ team: { id: string } }>("POST", "/api/v1/teams", { name: "Revocation lab" });
    const carol = `carol${Date.now().toString(36)}`;
    const page = await newPage();
    await registerInSite(page, stack.url, carol);
    const { members } = await owner.ok<{ members: unknown[] }>("GET", `/api/v1/teams/${team.id}/members`);
    expect(members).toHaveLength(1);
    await owner.ok("POST", `/api/v1/teams/${team.id}/members`, { user: carol, role: "viewer" });

    const opened: WebSocket[] = [];
    page.on("websocket", (ws) => {
      if (ws.url().includes(`/teams/${team.id}/ws`)) opened.push(ws);
    });
    await page.goto(`${stack.url}/teams/${team.id}`);
    await page.getByTestId("presence").getByTestId("presence-user").filter({ hasText: carol }).waitFor();
    expect(opened).toHaveLength(1);

    const carolId = (
      (await owner.ok<{ members: { userId: string; username: string }[] }>("GET", `/api/v1/teams/${team.id}/members`)).members.find(
        (m) => m.username === carol,
      ) as { userId: string }
    ).userId;
    await owner.ok("DELETE", `/api/v1/teams/${team.id}/members/${carolId}`);
    // The room closes the socket (1008 after ACCESS_REVOKED) ...
    await expect.poll(() => opened[0]?.isClosed(), { timeout: 10_000 }).toBe(true);
    // ... and the page does not open another (its reconnect finds the team gone first).
    await new Promise((r) => setTimeout(r, 4_000));
    expect(opened).toHaveLength(1);
  });

  it("the site is served under its Content-Security-Policy and nothing in it was blocked", async () => {
    const page = await newPage();
    const res = await page.goto(`${stack.url}/login`);
    const headers = res?.headers() ?? {};
    expect(headers["content-security-policy"]).toContain("script-src 'self'");
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(headers["x-content-type-options"]).toBe("nosniff");
    await page.getByLabel("Username or email").waitFor();
    // Every page opened by this suite (sign-in, password change, admin, team page with live
    // presence over WebSockets) ran without a single CSP violation.
    expect(browsers.cspViolations()).toEqual([]);
  });
});
