import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          ...inject("workerVars"),
          JWT_SECRET: "test-secret-that-is-long-enough-for-hs256-0123456789",
          AUTH_ENABLED: "true",
        },
      },
    })),
  ],
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/workers/**/*.test.ts"],
    globalSetup: ["test/workers/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
