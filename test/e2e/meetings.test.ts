/**
 * End to end in Chromium against `npm start`'s stack: one browser sets up and runs a meeting
 * (offline model: no key anywhere), a second browser watches it stream live, and both end with
 * the same final transcript and summary.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserPool, registerInSite } from "../helpers/browser.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
const browsers = new BrowserPool();
const newPage = () => browsers.newPage(20_000);

/** Speaker and text of every finished message (controls such as "Branch from here" differ by role). */
const transcriptOf = (page: Page) =>
  page
    .getByTestId("transcript")
    .getByTestId("message")
    .evaluateAll((els) =>
      els.map((e) => `${e.getAttribute("data-speaker")}: ${(e.querySelector(".md")?.textContent ?? "").replace(/\s+/g, " ").trim()}`),
    );

describe("live meetings in the browser", () => {
  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await browsers.closeAll();
    await stack?.stop();
  });

  it("one browser runs a meeting, a second watches it stream live and sees the same final transcript", async () => {
    const suffix = Date.now().toString(36);
    const runner = await newPage();
    const watcher = await newPage();
    await registerInSite(watcher, stack.url, `watch${suffix}`);
    await registerInSite(runner, stack.url, `run${suffix}`);

    await runner.getByLabel("Team name").fill("Virtual lab");
    await runner.getByRole("button", { name: /create team/i }).click();
    await runner.getByRole("link", { name: "Virtual lab" }).click();
    await runner.getByLabel("Title").fill("Immunologist");
    await runner.getByLabel("Expertise").fill("antibody engineering");
    await runner.getByLabel("Goal").fill("design nanobodies");
    await runner.getByLabel("Role", { exact: true }).fill("propose binders");
    await runner.getByLabel("Model").fill("claude-sonnet-4-6");
    await runner.getByRole("button", { name: /add agent/i }).click();
    await runner.getByText("Immunologist").first().waitFor();
    await runner.getByLabel(/username or email/i).fill(`watch${suffix}`);
    await runner.getByRole("button", { name: /add member/i }).click();
    await runner.getByTestId("members").getByText(`watch${suffix}`).waitFor();

    await runner.getByRole("link", { name: /new meeting/i }).click();
    await runner.getByText("Individual meeting", { exact: true }).click();
    await runner.getByLabel("Agenda").fill("Which nanobody scaffold should we use?");
    await runner.getByLabel("Member", { exact: true }).selectOption({ label: "Immunologist" });
    await runner.getByLabel("Rounds").fill("2");
    // Start it by hand once the watcher is there.
    await runner.getByText("Start now", { exact: true }).click();
    await expect(runner.getByLabel("Start now").isChecked()).resolves.toBe(false);
    await runner.getByRole("button", { name: /create meeting/i }).click();
    await runner.getByTestId("meeting-status").waitFor();
    const meetingUrl = runner.url();
    expect(meetingUrl).toMatch(/\/meetings\/[0-9a-f-]{36}$/);

    // The watcher opens the meeting before it starts.
    await watcher.goto(meetingUrl);
    await watcher.getByTestId("meeting-status").waitFor();
    await runner
      .getByTestId("presence")
      .getByTestId("presence-user")
      .filter({ hasText: `watch${suffix}` })
      .waitFor();

    await runner.getByRole("button", { name: /^start/i }).click();
    // Live: the watcher sees text streaming in before the meeting is over.
    await watcher.getByTestId("streaming").waitFor({ timeout: 30_000 });
    await expect.poll(() => watcher.getByTestId("meeting-status").innerText(), { timeout: 60_000 }).toMatch(/completed/i);
    await expect.poll(() => runner.getByTestId("meeting-status").innerText(), { timeout: 60_000 }).toMatch(/completed/i);
    await watcher.getByTestId("summary").waitFor();
    await expect(watcher.getByTestId("offline-badge").first().isVisible()).resolves.toBe(true);

    const seenByRunner = await transcriptOf(runner);
    const seenByWatcher = await transcriptOf(watcher);
    // An individual meeting with the critic: 2 rounds × (answer + critique) + final answer.
    expect(seenByRunner).toHaveLength(5);
    expect(seenByWatcher).toEqual(seenByRunner);

    // A reload rebuilds the same transcript from the replay.
    await watcher.reload();
    await watcher.getByTestId("summary").waitFor();
    expect(await transcriptOf(watcher)).toEqual(seenByRunner);
    // All of it ran under the site's CSP without a violation.
    expect(browsers.cspViolations()).toEqual([]);
  });

  it("an admin sets the meeting limits, and a user's Settings shows what is left of them today", async () => {
    const admin = await newPage();
    const initial = stack.adminPassword;
    if (!initial) throw new Error(`no admin password printed:\n${stack.output()}`);
    await admin.goto(`${stack.url}/login`);
    await admin.getByLabel("Username or email").fill("admin");
    await admin.getByLabel("Password", { exact: true }).fill(initial);
    await admin.getByRole("button", { name: /sign in/i }).click();
    await admin.getByLabel("Current password").fill(initial);
    await admin.getByLabel("New password", { exact: true }).fill("admin's new password 1");
    await admin.getByLabel("Confirm new password").fill("admin's new password 1");
    await admin.getByRole("button", { name: /change password|save/i }).click();
    await admin.getByRole("heading", { name: /teams/i }).waitFor();

    await admin.getByRole("link", { name: "Admin" }).click();
    await admin.getByRole("link", { name: "Meeting limits" }).click();
    await admin.getByLabel("Meetings per user per day").fill("7");
    await admin.getByLabel("Spend per user per day (USD)").fill("2.5");
    await admin.getByRole("button", { name: "Save limits" }).click();
    await admin.getByText("Limits saved.").waitFor();
    await admin.reload();
    await expect.poll(() => admin.getByLabel("Meetings per user per day").inputValue()).toBe("7");
    expect(await admin.getByLabel("Spend per user per day (USD)").inputValue()).toBe("2.5");

    const user = await newPage();
    await registerInSite(user, stack.url, `limits${Date.now().toString(36)}`);
    await user.getByRole("link", { name: "Settings" }).click();
    await expect.poll(() => user.getByTestId("allowance-meetings").textContent()).toBe("7 of 7");
    // No deployment key here (the offline model answers): nothing to spend, so no spend limit.
    expect(await user.getByTestId("allowance-spend").textContent()).toMatch(/not limited/);
  });
});
