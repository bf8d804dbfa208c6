/**
 * Lab desktops' admin pages and gallery end to end in Chromium against `npm start`'s stack with
 * no bridge online (ATRIUM_LOCAL_BRIDGE=false): the admin creates a template, sets the quotas,
 * registers a bridge and sees its token once, and uploads a small VM image (progress reaches
 * 100 %, the image is listed ready); a user then sees the template in the gallery and, starting
 * it, is told in words that no capacity is available.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserPool, registerInSite } from "../helpers/browser.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
const browsers = new BrowserPool();
const suffix = Date.now().toString(36);
const templateName = `Lab desktop ${suffix}`;
let admin: Page;

async function signInAsFirstAdmin(page: Page): Promise<void> {
  const initial = stack.adminPassword;
  if (!initial) throw new Error(`no admin password printed:\n${stack.output()}`);
  await page.goto(`${stack.url}/login`);
  await page.getByLabel("Username or email").fill("admin");
  await page.getByLabel("Password", { exact: true }).fill(initial);
  await page.getByRole("button", { name: /sign in/i }).click();
  await page.getByLabel("Current password").fill(initial);
  await page.getByLabel("New password", { exact: true }).fill("admin's new password 1");
  await page.getByLabel("Confirm new password").fill("admin's new password 1");
  await page.getByRole("button", { name: /change password|save/i }).click();
  await page.getByRole("heading", { name: /teams/i }).waitFor();
}

describe("lab desktops: admin pages and the gallery", () => {
  beforeAll(async () => {
    stack = await startStack({ env: { ATRIUM_LOCAL_BRIDGE: "false" } });
    admin = await browsers.newPage(20_000);
    await signInAsFirstAdmin(admin);
  });

  afterAll(async () => {
    await browsers.closeAll();
    await stack?.stop();
  });

  it("an admin creates a template and it is listed enabled", async () => {
    await admin.getByRole("link", { name: "Admin" }).click();
    await admin.getByRole("link", { name: "Desktop templates" }).click();
    const form = admin.getByRole("form", { name: "Desktop template" });
    await form.getByLabel("Name").fill(templateName);
    await form.getByLabel("Container image").fill("ghcr.io/lab/desktop:1.0");
    await form.getByLabel("Description").fill("Firefox and a terminal");
    await form.getByRole("button", { name: "Create template" }).click();
    const row = admin.getByTestId("template-row").filter({ hasText: templateName });
    await row.waitFor();
    await expect.poll(() => row.textContent()).toContain("enabled");
  });

  it("an admin sets the quotas and they are kept", async () => {
    await admin.getByRole("link", { name: "Desktop quotas" }).click();
    await admin.getByLabel("Max concurrent sessions").fill("10");
    await admin.getByLabel("Per-user session limit").fill("2");
    await admin.getByLabel("Idle timeout (minutes)").fill("45");
    await admin.getByRole("button", { name: "Save quotas" }).click();
    await admin.getByText("Quotas saved.").waitFor();
    await admin.reload();
    await expect.poll(() => admin.getByLabel("Idle timeout (minutes)").inputValue()).toBe("45");
    expect(await admin.getByLabel("Max concurrent sessions").inputValue()).toBe("10");
    expect(await admin.getByLabel("Per-user session limit").inputValue()).toBe("2");
  });

  it("an admin registers a bridge and sees its token once", async () => {
    await admin.getByRole("link", { name: "Bridges" }).click();
    const form = admin.getByRole("form", { name: "Register a bridge" });
    await form.getByLabel("Bridge name").fill(`bridge-${suffix}`);
    await form.getByLabel("Platform").selectOption("docker");
    await form.getByLabel("Region").fill("eu-west");
    await form.getByRole("button", { name: "Register bridge" }).click();
    const token = (await admin.getByTestId("bridge-token-value").textContent()) ?? "";
    expect(token).toMatch(/^brg_\S{20,}$/);
    await admin.getByTestId("bridge-token").getByRole("button", { name: "Copy token" }).waitFor();
    const row = admin.getByTestId("bridge-row").filter({ hasText: `bridge-${suffix}` });
    await row.waitFor();
    expect(await row.textContent()).toContain("registered");
    expect(await row.textContent()).toContain("0 / 0");

    await admin.reload();
    await row.waitFor();
    expect(await admin.content()).not.toContain(token);
  });

  it("an admin uploads a small VM image: progress reaches 100% and the image is listed ready", async () => {
    await admin.getByRole("link", { name: "VM images" }).click();
    const form = admin.getByRole("form", { name: "Upload a VM image" });
    await form.getByLabel("Image name").fill(`Tiny ${suffix}`);
    const bytes = Buffer.alloc(256 * 1024, 7);
    await form.getByLabel("Disk image file").setInputFiles({ name: "tiny.qcow2", mimeType: "application/octet-stream", buffer: bytes });
    await form.getByRole("button", { name: "Upload" }).click();
    await admin.getByTestId("upload-percent").filter({ hasText: "100%" }).waitFor();
    expect(await admin.getByTestId("upload-progress").getAttribute("value")).toBe("100");
    await admin.getByText(`Uploaded “Tiny ${suffix}”.`).waitFor();
    const row = admin.getByTestId("image-row").filter({ hasText: `Tiny ${suffix}` });
    await expect.poll(() => row.getAttribute("data-status")).toBe("ready");
    expect(await row.textContent()).toContain("256 KiB");
    await admin.reload();
    await expect.poll(() => row.getAttribute("data-status")).toBe("ready");
  });

  it("a user sees the enabled template and is told in words that no capacity is available", async () => {
    const user = await browsers.newPage(20_000);
    await registerInSite(user, stack.url, `desk${suffix}`);
    await user.getByRole("link", { name: "Desktops" }).click();
    const card = user.getByTestId("template-card").filter({ hasText: templateName });
    await card.waitFor();
    await card.getByRole("button", { name: "Start" }).click();
    const error = user.getByTestId("start-error");
    await error.waitFor();
    const message = (await error.textContent()) ?? "";
    expect(message).toContain("No desktop capacity is available right now.");
    expect(message).toContain("No online bridge");
    expect(message).not.toContain("NO_CAPACITY");
    await user.getByText("You have no desktops yet.").waitFor();
  });
});
