/**
 * `npm test`: typecheck, lint + format check, build the site, then the suites in order — workerd (Worker and
 * Durable Objects), Node (local stack, bridge), and end-to-end in Chromium against `npm start`.
 * Prints one closing line `N passed, N failed` summed over every suite.
 *
 * Flags: --only=workers,node,e2e  runs a subset; --skip-static skips typecheck/lint/format/build.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const args = process.argv.slice(2);
const only = args
  .find((a) => a.startsWith("--only="))
  ?.slice("--only=".length)
  .split(",");
const skipStatic = args.includes("--skip-static");
const suites = ["workers", "node", "e2e"].filter((s) => !only || only.includes(s));

function run(label: string, cmd: string, cmdArgs: string[]): boolean {
  console.log(`\n▶ ${label}: ${cmd} ${cmdArgs.join(" ")}`);
  const started = Date.now();
  const r = spawnSync(cmd, cmdArgs, { cwd: root, stdio: "inherit", env: process.env });
  console.log(
    `◀ ${label}: ${r.status === 0 ? "ok" : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return r.status === 0;
}

let ok = true;
let passed = 0;
let failed = 0;

if (!skipStatic) {
  ok = run("typecheck", "npm", ["run", "--silent", "typecheck"]) && ok;
  // `biome check` = lint + format check: an unformatted file fails the run like a lint error.
  ok = run("lint + format", "npx", ["biome", "check", "--diagnostic-level=error", "."]) && ok;
  ok = run("build site", "npm", ["run", "--silent", "build"]) && ok;
}

const outDir = mkdtempSync(join(tmpdir(), "atrium-test-"));
for (const suite of suites) {
  const report = join(outDir, `${suite}.json`);
  const suiteOk = run(`${suite} tests`, "npx", [
    "vitest",
    "run",
    "--config",
    `test/${suite}/vitest.config.ts`,
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
  ]);
  ok = suiteOk && ok;
  try {
    const summary = JSON.parse(readFileSync(report, "utf8")) as { numPassedTests: number; numFailedTests: number; numTotalTests: number };
    passed += summary.numPassedTests;
    failed += summary.numFailedTests;
    if (summary.numTotalTests === 0) {
      console.error(`${suite}: no tests ran`);
      ok = false;
    }
  } catch {
    console.error(`${suite}: no report (the suite did not run)`);
    failed += 1;
    ok = false;
  }
}
rmSync(outDir, { recursive: true, force: true });

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(ok && failed === 0 ? 0 : 1);
