import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/** Files that run against a Worker holding a deployment Anthropic key (the stand-in's). */
const DEPLOYMENT_KEY_FILES = ["test/workers/meeting-limits.test.ts"];

/**
 * The Worker as every suite sees it. `deploymentKey` gives it an ANTHROPIC_API_KEY (a stand-in
 * key); the other files run without one, so users without a key of their own get the offline
 * model.
 */
const worker = (deploymentKey?: string) =>
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
        ...(deploymentKey && { ANTHROPIC_API_KEY: deploymentKey }),
      },
    },
  }));

const root = new URL("../..", import.meta.url).pathname;
const common = { root, globalSetup: ["test/workers/global-setup.ts"], testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  test: {
    root,
    projects: [
      {
        plugins: [worker()],
        test: { ...common, name: "workers", include: ["test/workers/**/*.test.ts"], exclude: DEPLOYMENT_KEY_FILES },
      },
      {
        // Its own database (global setup runs per project): the limits it changes are deployment-wide.
        plugins: [worker("sk-ant-test-deployment-key")],
        test: { ...common, name: "workers-deployment-key", include: DEPLOYMENT_KEY_FILES },
      },
    ],
  },
});
