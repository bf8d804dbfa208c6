/**
 * What the fan-out section measures against:
 *  - Atrium through `wrangler dev`'s port (as `npm start` serves it) and, optionally, on
 *    workerd's own port (the bundle in Miniflare, no proxy): both from ../worker-targets.ts;
 *  - the partyserver per-token baseline (./partyserver-worker) in its own `wrangler dev`.
 * For each, which processes to charge CPU to: the workerd that runs the Worker and its Durable
 * Objects, wrangler's proxy workerd in front of it, and wrangler's own Node process.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CpuGroup } from "../cpu.ts";
import { type Cleanup, descendants, portOwner, root, waitForHttp } from "../processes.ts";
import { spawnWranglerDev, tempDir, type WorkerTarget } from "../worker-targets.ts";

export type PortKind = "wrangler" | "workerd";

export interface FanoutTarget {
  port: PortKind;
  baseUrl: string;
  /** CPU groups; the first is the workerd running the Durable Object */
  cpuGroups: () => CpuGroup[];
  /** the workerd running the Durable Object (for waiting until it is idle) */
  doPid: () => number | undefined;
  /** DevTools inspector of the Worker (own port: with the bundle's source map) */
  inspector?: { http: string; sourceMap?: string };
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/**
 * wrangler dev = wrangler's Node process + two workerd: the one owning the public port is its
 * proxy, the other runs the Worker and its Durable Objects.
 */
export function wranglerCpu(rootPid: number, publicPort: number): Pick<FanoutTarget, "cpuGroups" | "doPid"> {
  let cached: { worker: number[]; proxy: number[]; node: number[] } | undefined;
  const split = () => {
    if (cached?.worker.length) return cached;
    const all = [rootPid, ...descendants(rootPid)];
    const proxyPid = portOwner(publicPort)?.pid;
    const workerd = all.filter((p) => comm(p) === "workerd");
    cached = {
      worker: workerd.filter((p) => p !== proxyPid),
      proxy: workerd.filter((p) => p === proxyPid),
      node: all.filter((p) => comm(p) !== "workerd" && comm(p) !== "esbuild"),
    };
    return cached;
  };
  return {
    cpuGroups: () => [
      { label: "workerd (Worker + DO)", pids: () => split().worker },
      { label: "workerd (wrangler proxy)", pids: () => split().proxy },
      { label: "wrangler (node)", pids: () => split().node },
    ],
    doPid: () => split().worker[0],
  };
}

export function atriumTarget(port: PortKind, w: WorkerTarget): FanoutTarget {
  if (port === "workerd") {
    return {
      port,
      baseUrl: w.baseUrl,
      cpuGroups: () => [{ label: "workerd (Worker + DO)", pids: w.pids }],
      doPid: () => w.pids()[0],
      ...(w.inspector && { inspector: w.inspector }),
    };
  }
  const rootPid = w.pids()[0];
  if (rootPid === undefined) throw new Error("wrangler dev has no pid");
  return { port, baseUrl: w.baseUrl, ...wranglerCpu(rootPid, w.port) };
}

/** The partyserver per-token baseline in its own `wrangler dev`. */
export async function startPartyserver(cleanup: Cleanup): Promise<FanoutTarget> {
  const dir = tempDir(cleanup, "atrium-bench-partyserver-");
  const { child, port } = await spawnWranglerDev(cleanup, "partyserver wrangler dev", dir, [
    "--config",
    join(root, "scripts/bench/fanout/partyserver-worker/wrangler.toml"),
  ]);
  const baseUrl = `http://127.0.0.1:${port}`;
  // a GET on a room is answered by the room itself (405): the Worker and its DO are up
  await waitForHttp(`${baseUrl}/parties/fanout-server/warm-up`, { timeoutMs: 60_000, child });
  const pid = child.proc.pid;
  if (pid === undefined) throw new Error("partyserver wrangler dev has no pid");
  return { port: "wrangler", baseUrl, ...wranglerCpu(pid, port) };
}
