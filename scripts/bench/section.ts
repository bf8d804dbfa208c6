/**
 * What a benchmark section is (api, and later meeting fan-out, VNC relay, …) and small helpers
 * the sections share for printing their figures.
 */
import type { Cleanup } from "./processes.ts";

export interface SectionContext {
  /** `--name=value` flags after the section selection (e.g. `--db=pglite`, `--duration=10`) */
  flags: Map<string, string>;
  /** registered undo steps; bench.ts runs them after the section, also on failure or Ctrl-C */
  cleanup: Cleanup;
  log: (msg: string) => void;
}

export interface TargetCheck {
  label: string;
  ok: boolean;
  detail: string;
}

export interface SectionResult {
  /** the printed report */
  text: string;
  /** targets set by the issue, each met or not */
  checks: TargetCheck[];
  /** the figures, for --json */
  data: unknown;
}

export interface BenchSection {
  name: string;
  summary: string;
  run(ctx: SectionContext): Promise<SectionResult>;
}

/** A fixed-width text table; numbers right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "─".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—";
}

export function fmtMs(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "—";
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0);
}

/** A positive number from `--name=…`, or `fallback` when the flag is absent. */
export function numFlag(flags: Map<string, string>, name: string, fallback: number): number {
  const v = flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
