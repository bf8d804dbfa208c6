/**
 * `npm run bench`: the benchmark runner. Runs each section (scripts/bench/*) in turn, prints its
 * figures and whether the targets set for it are met; everything a section starts is stopped
 * afterwards, also on failure or Ctrl-C. Binds to 127.0.0.1 only.
 *
 * Flags: --only=api[,…]  sections to run (default: all)   --list  list the sections
 *        --json=FILE      write the figures as JSON        --strict  exit 1 when a target is missed
 * Section flags (see each section): e.g. --db=auto|postgres|pglite, --duration=10, --pacing=both.
 * Environment: DATABASE_URL (a Postgres server to create a temporary database on).
 */
import { writeFileSync } from "node:fs";
import { apiRead } from "./bench/api-read.ts";
import { desktopRelay } from "./bench/desktop/desktop.ts";
import { meetingFanout } from "./bench/fanout/fanout.ts";
import { Cleanup } from "./bench/processes.ts";
import type { BenchSection, SectionResult } from "./bench/section.ts";

const SECTIONS: BenchSection[] = [apiRead, meetingFanout, desktopRelay];

const flags = new Map<string, string>();
for (const arg of process.argv.slice(2)) {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(arg);
  if (!m?.[1]) {
    console.error(`unexpected argument ${arg}`);
    process.exit(2);
  }
  flags.set(m[1], m[2] ?? "true");
}

if (flags.has("list") || flags.has("help")) {
  console.log("sections:");
  for (const s of SECTIONS) console.log(`  ${s.name.padEnd(10)} ${s.summary}`);
  console.log("\nflags: --only=NAME[,NAME] --json=FILE --strict, plus the sections' own (see scripts/bench/*.ts)");
  process.exit(0);
}

const only = flags.get("only")?.split(",");
for (const name of only ?? []) {
  if (!SECTIONS.some((s) => s.name === name)) {
    console.error(`unknown section "${name}"; sections: ${SECTIONS.map((s) => s.name).join(", ")}`);
    process.exit(2);
  }
}
const selected = SECTIONS.filter((s) => !only || only.includes(s.name));

let current: Cleanup | undefined;
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n[bench] ${signal}: stopping…`);
    void (current?.run() ?? Promise.resolve()).finally(() => {
      console.error("[bench] stopped; everything it started is stopped too");
      process.exit(130);
    });
  });
}

const log = (msg: string) => console.error(`[bench] ${msg}`);
const results: { section: string; result?: SectionResult; error?: string }[] = [];
let failed = false;

for (const section of selected) {
  const cleanup = new Cleanup();
  current = cleanup;
  const started = Date.now();
  log(`section ${section.name}: ${section.summary}`);
  try {
    const result = await section.run({ flags, cleanup, log: (m) => log(`${section.name}: ${m}`) });
    results.push({ section: section.name, result });
    console.log(`\n══ ${section.name} ══\n${result.text}\n`);
    for (const check of result.checks) console.log(`${check.ok ? "✔ met   " : "✘ missed"}  ${check.label}: ${check.detail}`);
  } catch (e: unknown) {
    failed = true;
    const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
    results.push({ section: section.name, error: message });
    console.error(`\n[bench] section ${section.name} failed: ${message}`);
  } finally {
    await cleanup.run();
    current = undefined;
    log(`section ${section.name} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
}

const jsonFile = flags.get("json");
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify({ at: new Date().toISOString(), results }, null, 2)}\n`);

const missed = results.some((r) => r.result?.checks.some((c) => !c.ok));
process.exit(failed || (missed && flags.has("strict")) ? 1 : 0);
