import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          ...inject("workerVars"),
          ANTHROPIC_BASE_URL: inject("anthropicUrl"),
          JWT_SECRET: "test-secret-that-is-long-enough-for-hs256-0123456789",
          ENCRYPTION_KEYS: "v1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
          AUTH_ENABLED: "true",
          OFFLINE_DELAY_MS: "2",
          RETRY_BASE_MS: "20",
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
