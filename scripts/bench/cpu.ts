/**
 * CPU accounting from /proc (Linux): user+system time of chosen processes (or threads) over a
 * measurement, so a section can say how many CPU-milliseconds each component spent per request.
 */
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime in ms from a /proc stat file, or 0 if it is gone. */
function statCpuMs(path: string): number {
  try {
    const stat = readFileSync(path, "utf8");
    // the command name (field 2) may contain spaces: split after its closing parenthesis
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** A group of processes (whole processes) or threads (`{ pid, tid }`) to account together. */
export interface CpuGroup {
  label: string;
  pids: () => number[];
  threads?: () => { pid: number; tid: number }[];
}

export function processCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

export function threadCpuMs(pid: number, tid: number): number {
  return statCpuMs(`/proc/${pid}/task/${tid}/stat`);
}

/** Pids whose command name (comm) is `name`, e.g. "postgres". */
export function pidsByName(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === name) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function groupCpuMs(group: CpuGroup): Map<string, number> {
  const values = new Map<string, number>();
  for (const pid of group.pids()) values.set(`p${pid}`, processCpuMs(pid));
  for (const t of group.threads?.() ?? []) values.set(`t${t.pid}/${t.tid}`, threadCpuMs(t.pid, t.tid));
  return values;
}

/** Starts counting; the returned function gives each group's CPU ms since the start. */
export function startCpuCount(groups: CpuGroup[]): () => { label: string; cpuMs: number }[] {
  const before = groups.map(groupCpuMs);
  return () =>
    groups.map((group, i) => {
      const start = before[i] ?? new Map<string, number>();
      let cpuMs = 0;
      for (const [key, value] of groupCpuMs(group)) cpuMs += value - (start.get(key) ?? 0);
      return { label: group.label, cpuMs };
    });
}

function machineTicks(): { idle: number; total: number } {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  return { idle: (fields[3] ?? 0) + (fields[4] ?? 0), total: fields.reduce((a, b) => a + b, 0) };
}

/** Starts counting; the returned function gives the share (0–1) of all cores busy since the start. */
export function startMachineBusy(): () => number {
  const before = machineTicks();
  return () => {
    const after = machineTicks();
    const total = after.total - before.total;
    return total > 0 ? 1 - (after.idle - before.idle) / total : 0;
  };
}
