/**
 * Lab desktops end to end with real parts: `npm start`'s local bridge runs a real Xvfb + x11vnc
 * desktop (with an xterm on it), Chromium opens it in the site's noVNC viewer through the Worker
 * and the session's DesktopSession DO, and:
 * - the canvas shows the rendered desktop (its background colour and the terminal), not a blank;
 * - what the controlling viewer types reaches the desktop (a command typed into the xterm runs);
 * - a view-only viewer's key and pointer events never reach it — also from a hand-made client
 *   that ignores the UI and sends raw RFB KeyEvents through its view-only socket;
 * - a teammate who opens the share link while signed out signs in and lands on the view-only
 *   viewer (the link's token survives the login page without entering a URL the server sees).
 */
import { existsSync, rmSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { type ApiClient, registerUser, signInFirstAdmin } from "../helpers/api-client.ts";
import { BrowserPool } from "../helpers/browser.ts";
import { killDesktopProcesses, requirePrograms } from "../helpers/local-desktops.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

await requirePrograms("Xvfb", "x11vnc", "xterm");

const DISPLAYS = { first: 280, last: 299 };
const PASSWORD = "a long enough password";
/** xsetroot's colour in the local driver (node-bridge/drivers/local.ts) */
const BACKGROUND = [0x2f, 0x4f, 0x6f];
/** a point inside the xterm the local driver opens at +40+40 (desktop pixels) */
const XTERM_POINT = { x: 200, y: 120 };

/** What this test reads of the viewer's <canvas> (the node tsconfig has no DOM types). */
interface CanvasLike {
  width: number;
  height: number;
  getContext(kind: "2d"): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}

let stack: Stack;
const browsers = new BrowserPool();
let owner: ApiClient;
let teammate: ApiClient;
const suffix = Date.now().toString(36);
const markers: string[] = [];

function marker(name: string): string {
  const path = `/tmp/atrium-e2e-${suffix}-${name}`;
  markers.push(path);
  return path;
}

async function signIn(page: Page, username: string): Promise<void> {
  await page.getByLabel("Username or email").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: /sign in/i }).click();
}

/** Colours of the viewer's canvas (every 7th pixel): how many, and the most common one with its share. */
function canvasColours(page: Page) {
  return page
    .getByTestId("desktop-screen")
    .locator("canvas")
    .evaluate((canvas: CanvasLike) => {
      const ctx = canvas.getContext("2d");
      if (!ctx || canvas.width === 0) return { colours: 0, top: [0, 0, 0], topShare: 1, width: 0, height: 0 };
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const counts = new Map<number, number>();
      let samples = 0;
      for (let i = 0; i < data.length; i += 4 * 7) {
        const key = ((data[i] ?? 0) << 16) | ((data[i + 1] ?? 0) << 8) | (data[i + 2] ?? 0);
        counts.set(key, (counts.get(key) ?? 0) + 1);
        samples++;
      }
      let topKey = 0;
      let topCount = 0;
      for (const [k, n] of counts) if (n > topCount) [topKey, topCount] = [k, n];
      return {
        colours: counts.size,
        top: [(topKey >> 16) & 255, (topKey >> 8) & 255, topKey & 255],
        topShare: topCount / samples,
        width: canvas.width,
        height: canvas.height,
      };
    });
}

/** Clicks a point given in desktop pixels on the (possibly scaled) canvas. */
async function clickDesktop(page: Page, point: { x: number; y: number }): Promise<void> {
  const canvas = page.getByTestId("desktop-screen").locator("canvas");
  const box = await canvas.boundingBox();
  const size = await canvas.evaluate((c: CanvasLike) => ({ width: c.width, height: c.height }));
  if (!box) throw new Error("the desktop canvas is not visible");
  await page.mouse.click(box.x + (point.x * box.width) / size.width, box.y + (point.y * box.height) / size.height);
}

async function waitForPicture(page: Page): Promise<Awaited<ReturnType<typeof canvasColours>>> {
  await page.locator('[data-testid="desktop-screen"][data-connected="true"] canvas').waitFor();
  let last = await canvasColours(page);
  await expect
    .poll(
      async () => {
        last = await canvasColours(page);
        return last.colours >= 3 && last.topShare < 0.98;
      },
      { timeout: 20_000 },
    )
    .toBe(true);
  return last;
}

/** X keysyms for the characters this test types. */
function keysym(ch: string): number {
  if (ch === "\n") return 0xff0d;
  const code = ch.charCodeAt(0);
  if (code < 0x20 || code > 0x7e) throw new Error(`no keysym for ${JSON.stringify(ch)}`);
  return code;
}

/**
 * A client that ignores the site's view-only UI: it redeems the share link for a ticket, speaks
 * RFB over the viewer socket itself and sends KeyEvents and a click for `text`.
 */
async function rawViewOnlyTyping(baseUrl: string, client: ApiClient, shareToken: string, text: string): Promise<{ role: unknown }> {
  const ticket = await client.ok<{ wsPath: string }>("POST", "/api/v1/desktop-shares/ticket", { token: shareToken });
  const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}${ticket.wsPath}`, { perMessageDeflate: false });
  let buffered = Buffer.alloc(0);
  let role: unknown;
  let wake: () => void = () => {};
  ws.on("message", (data: Buffer, binary: boolean) => {
    if (binary) buffered = Buffer.concat([buffered, data]);
    else {
      const frame = JSON.parse(data.toString()) as { type: string };
      if (frame.type === "role") role = frame;
    }
    wake();
  });
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
  const read = async (n: number): Promise<Buffer> => {
    const deadline = Date.now() + 15_000;
    while (buffered.length < n) {
      if (Date.now() > deadline || ws.readyState > WebSocket.OPEN) throw new Error(`RFB: wanted ${n} bytes, have ${buffered.length}`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 200);
      });
    }
    const out = buffered.subarray(0, n);
    buffered = buffered.subarray(n);
    return out;
  };
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  expect((await read(12)).toString("latin1")).toMatch(/^RFB 003\.00\d\n$/);
  ws.send(Buffer.from("RFB 003.008\n"));
  const [count = 0] = await read(1);
  const types = [...(await read(count))];
  expect(types).toContain(1);
  ws.send(Buffer.from([1]));
  expect((await read(4)).readUInt32BE(0)).toBe(0);
  ws.send(Buffer.from([1])); // ClientInit, shared
  const init = await read(24);
  await read(init.readUInt32BE(20));
  // Move to the terminal and click, then type: all of it must be dropped for a view-only socket.
  const pointer = (mask: number) =>
    Buffer.from([5, mask, XTERM_POINT.x >> 8, XTERM_POINT.x & 255, XTERM_POINT.y >> 8, XTERM_POINT.y & 255]);
  ws.send(Buffer.concat([pointer(0), pointer(1), pointer(0)]));
  const key = (down: boolean, sym: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt8(4, 0);
    b.writeUInt8(down ? 1 : 0, 1);
    b.writeUInt32BE(sym, 4);
    return b;
  };
  ws.send(Buffer.concat([...text].flatMap((ch) => [key(true, keysym(ch)), key(false, keysym(ch))])));
  // A framebuffer request still goes through: its answer proves the socket was live all along.
  ws.send(Buffer.from([3, 1, 0, 0, 0, 0, 0, 8, 0, 8]));
  await read(1);
  ws.close();
  await closed;
  return { role };
}

describe("a lab desktop in the browser, through the Worker and the session's DO", () => {
  beforeAll(async () => {
    stack = await startStack({ env: { LOCAL_DISPLAY_RANGE: `${DISPLAYS.first}-${DISPLAYS.last}` } });
    // The starter template is a shell on the host, for administrators only: this lab opens it up.
    const admin = await signInFirstAdmin(stack.url, stack.adminPassword ?? "");
    const { templates } = await admin.ok<{ templates: { id: string; name: string }[] }>("GET", "/api/v1/admin/desktop-templates");
    const starter = templates.find((t) => t.name === "Local desktop");
    await admin.ok("PATCH", `/api/v1/admin/desktop-templates/${starter?.id}`, { adminOnly: false });
    owner = await registerUser(stack.url, `desk${suffix}`);
    teammate = await registerUser(stack.url, `mate${suffix}`);
    const { team } = await owner.ok<{ team: { id: string } }>("POST", "/api/v1/teams", { name: `Lab ${suffix}` });
    await owner.ok("POST", `/api/v1/teams/${team.id}/members`, { user: `mate${suffix}`, role: "viewer" });
  });

  afterAll(async () => {
    await browsers.closeAll();
    await stack?.stop();
    killDesktopProcesses(DISPLAYS);
    for (const path of markers) rmSync(path, { force: true });
  });

  it("shows the rendered desktop; the controller's typing reaches it, a view-only viewer's never does", async () => {
    const page = await browsers.newPage(30_000);
    await page.goto(`${stack.url}/login`);
    await signIn(page, `desk${suffix}`);
    await page.getByRole("link", { name: "Desktops" }).first().click();
    const card = page.getByTestId("template-card").filter({ hasText: "Local desktop" });
    await card.getByRole("button", { name: "Start" }).click();
    await page.waitForURL(/\/desktops\/[0-9a-f-]{36}$/);

    const picture = await waitForPicture(page);
    expect(picture.top).toEqual(BACKGROUND);
    expect(picture.width).toBeGreaterThan(0);
    await expect(page.getByTestId("view-only-badge").count()).resolves.toBe(0);

    // A share link for the teammate, shown once.
    await page.getByRole("button", { name: "Create share link" }).click();
    const link = await page.getByTestId("share-link").locator("input").inputValue();
    const token = decodeURIComponent(/#token=([^&]+)$/.exec(link)?.[1] ?? "");
    expect(token).not.toBe("");

    // The view-only client types a command first; then the controller types one in the browser.
    const ignored = marker("view-only");
    const typed = marker("controller");
    const raw = await rawViewOnlyTyping(stack.url, teammate, token, `touch ${ignored}\n`);
    expect(raw.role).toEqual({ type: "role", control: false, viewOnly: true });
    await clickDesktop(page, XTERM_POINT);
    await page.keyboard.type(`touch ${typed}`);
    await page.keyboard.press("Enter");
    await expect.poll(() => existsSync(typed), { timeout: 20_000 }).toBe(true);
    // Keys the view-only socket sent before the controller's never ran.
    expect(existsSync(ignored)).toBe(false);

    // The teammate opens the link signed out, signs in, and watches view-only.
    const mate = await browsers.newPage(30_000);
    await mate.goto(link);
    await mate.waitForURL(/\/login\?next=/);
    expect(mate.url()).not.toContain(token);
    await signIn(mate, `mate${suffix}`);
    await mate.waitForURL(/\/desktops\/shared$/);
    await mate.getByTestId("view-only-badge").waitFor();
    expect((await waitForPicture(mate)).top).toEqual(BACKGROUND);

    // What the teammate types in the browser does not reach the desktop either.
    const fromMate = marker("teammate");
    await clickDesktop(mate, XTERM_POINT);
    await mate.keyboard.type(`touch ${fromMate}`);
    await mate.keyboard.press("Enter");
    const last = marker("controller-again");
    await clickDesktop(page, XTERM_POINT);
    await page.keyboard.type(`touch ${last}`);
    await page.keyboard.press("Enter");
    await expect.poll(() => existsSync(last), { timeout: 20_000 }).toBe(true);
    expect(existsSync(fromMate)).toBe(false);
    // noVNC (canvas, cursors, its socket) works under the site's CSP without a violation.
    expect(browsers.cspViolations()).toEqual([]);
  });
});
