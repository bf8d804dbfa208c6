/** Debian's Chromium driven by playwright-core (never a downloaded browser). */
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchBrowser(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`);
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "atrium-chromium-")), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 860 },
  });
  return { context, close: () => context.close() };
}

/**
 * Pages in separate browser profiles (separate cookie jars), closed together by `closeAll`. Every
 * Content-Security-Policy violation any of them reports is kept (`cspViolations`), so a suite can
 * prove the site works under its CSP.
 */
export class BrowserPool {
  readonly #closers: (() => Promise<void>)[] = [];
  readonly #violations: string[] = [];

  async newPage(timeoutMs = 15_000): Promise<Page> {
    const browser = await launchBrowser();
    this.#closers.push(browser.close);
    const page = await browser.context.newPage();
    page.setDefaultTimeout(timeoutMs);
    // Chromium reports each blocked load, inline script or style and eval on the console.
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) this.#violations.push(`${page.url()}: ${message.text()}`);
    });
    return page;
  }

  /** CSP violations reported so far by any page of the pool. */
  cspViolations(): string[] {
    return [...this.#violations];
  }

  async closeAll(): Promise<void> {
    for (const close of this.#closers.splice(0)) await close().catch(() => {});
  }
}

/** Registers through the site's form and waits for the teams page. */
export async function registerInSite(page: Page, baseUrl: string, username: string, password = "a long enough password"): Promise<void> {
  await page.goto(`${baseUrl}/register`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Email").fill(`${username}@example.test`);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: /create account|register/i }).click();
  await page.getByRole("heading", { name: /teams/i }).waitFor();
}
