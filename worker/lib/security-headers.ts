/**
 * Security headers. The site's assets get theirs from `site/public/_headers` (Workers static
 * assets apply it; the Worker never sees those requests); everything under /api gets them here.
 * Both share SITE_CSP's reasoning, kept in one place so the README, the file and the tests agree.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./router.ts";

/**
 * The site's policy (copied verbatim into site/public/_headers): only our own scripts, styles and
 * sockets ('self' covers same-origin ws:/wss:), images also from data:/blob: (noVNC's cursors),
 * no plugins, no <base> tricks, and no framing (clickjacking).
 */
export const SITE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data:; connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/** API answers are data, never documents: nothing may load or frame them. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** The interactive API docs load Swagger UI from its CDN with an inline bootstrap; they may only not be framed. */
export const DOCS_CSP = "frame-ancestors 'none'";

/** Headers every response carries, site and API alike. */
export const COMMON_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
};

/**
 * Adds the security headers to every /api response, and `Cache-Control: no-store` where a route
 * set none (answers depend on who asks; no shared cache may keep them). WebSocket upgrades are
 * left alone: their 101 answer comes from a Durable Object and has no body to protect.
 */
export function securityHeaders(): MiddlewareHandler<AppEnv> {
  return async function securityHeaders(c, next) {
    await next();
    if (c.res.status === 101 || c.res.webSocket) return;
    const docs = c.req.path === "/api/docs";
    const set = (name: string, value: string) => {
      if (!c.res.headers.has(name)) c.res.headers.set(name, value);
    };
    try {
      for (const [name, value] of Object.entries(COMMON_SECURITY_HEADERS)) set(name, value);
      set("Content-Security-Policy", docs ? DOCS_CSP : API_CSP);
      set("Cache-Control", "no-store");
    } catch {
      // A response with immutable headers (passed through from a binding): copy it once.
      const headers = new Headers(c.res.headers);
      for (const [name, value] of Object.entries(COMMON_SECURITY_HEADERS)) if (!headers.has(name)) headers.set(name, value);
      if (!headers.has("Content-Security-Policy")) headers.set("Content-Security-Policy", docs ? DOCS_CSP : API_CSP);
      if (!headers.has("Cache-Control")) headers.set("Cache-Control", "no-store");
      c.res = new Response(c.res.body, { status: c.res.status, statusText: c.res.statusText, headers });
    }
  };
}
