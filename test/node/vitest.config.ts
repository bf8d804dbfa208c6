/**
 * Node-runtime suite (local database stack, bridge, relays): plain Node, no workerd.
 */
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  root: fileURLToPath(new URL("../..", import.meta.url)),
  test: {
    include: ["test/node/**/*.test.ts"],
    environment: "node",
    pool: "forks",
    testTimeout: 20_000,
    // Starting an embedded PGlite runs initdb (~3-4 s on this kind of box)
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
  },
});
