/**
 * Builds the SolidJS site into site/dist, which the Worker serves as static assets. In
 * development `vite` proxies /api (HTTP and WebSockets) to `wrangler dev` on port 8787 so the
 * site and the API share one origin, as they do in production (ATRIUM_API_URL overrides the target).
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import solid from "vite-plugin-solid";

const API_TARGET = process.env.ATRIUM_API_URL ?? "http://127.0.0.1:8787";
const proxy = { "/api": { target: API_TARGET, ws: true } };

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  plugins: [solid()],
  build: {
    outDir: fileURLToPath(new URL("./dist", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
  },
  server: { proxy },
  preview: { proxy },
});
