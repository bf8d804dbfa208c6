/** Values the workerd suites' global setup provides (see global-setup.ts). */
import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    workerVars: { DATABASE_URL: string; NEON_WS_PROXY: string; NEON_HTTP_ENDPOINT: string };
    databaseKind: "pglite" | "postgres";
    /** the Anthropic Messages API stand-in; keys "sk-ant-test-*" each get their own script */
    anthropicUrl: string;
  }
}
