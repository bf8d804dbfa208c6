/**
 * The stalled-viewer case: a viewer reads the desktop's endless stream for a moment, then stops
 * reading (its socket is paused, so TCP backpressure reaches workerd) while the desktop keeps
 * sending. Without backpressure workerd would buffer everything the bridge sends (TOOLCHAIN.md:
 * 1.3 GB); the DesktopSession pauses the bridge's data socket above 4 MiB of unsent bytes. Samples
 * workerd's and the bridge's RSS every 100 ms, counts what the source managed to send during the
 * stall, then resumes and checks the stream went on without a gap.
 */
import { readFileSync } from "node:fs";
import { sleep } from "../section.ts";
import type { IpcChild } from "../ipc-child.ts";
import { StreamVerifier } from "./pattern.ts";
import type { Opener } from "./viewers.ts";
import type { SourceCommand, SourceReport } from "./vnc-source.ts";

const MIB = 1024 * 1024;
const BEFORE_BYTES = 32 * MIB;
const AFTER_BYTES = 64 * MIB;
/** Ends the stall early past this growth: the figure is already far off target and the machine is shared. */
const GROWTH_CAP_MIB = 2048;

export interface StallFigures {
  seconds: number;
  /** when the stall was cut short because workerd grew past GROWTH_CAP_MIB */
  cutShortAfterSeconds?: number;
  workerdBeforeMiB: number;
  workerdMaxMiB: number;
  workerdGrowthMiB: number;
  bridgeGrowthMiB: number;
  sentDuringStallMiB: number;
  /** what the source sent in the stall's last second: ~0 once the bridge is paused */
  sentLastSecondMiB: number;
  afterMiB: number;
  intact: boolean;
}

function rssMiB(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb ? Number(kb) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

export async function measureStall(o: {
  source: IpcChild<SourceCommand, SourceReport>;
  open: Opener;
  workerdPid: number;
  bridgePid: number;
  seconds: number;
}): Promise<StallFigures> {
  const written = async () => (await o.source.request<Extract<SourceReport, { type: "stats" }>>({ type: "stats" }, "stats")).written;
  await o.source.request({ type: "stream-bytes", bytes: -1 }, "stats");
  const pipe = await o.open();
  const verifier = new StreamVerifier();
  let goal = BEFORE_BYTES;
  let reached: (() => void) | undefined;
  pipe.onData((chunk) => {
    verifier.push(chunk);
    if (verifier.bytes >= goal && reached) {
      const r = reached;
      reached = undefined;
      r();
    }
  });
  const until = (bytes: number) =>
    Promise.race([
      new Promise<void>((resolve, reject) => {
        goal = bytes;
        if (verifier.bytes >= bytes) return resolve();
        const timer = setTimeout(() => reject(new Error(`stalled viewer: only ${verifier.bytes} of ${bytes} bytes`)), 60_000);
        reached = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
      pipe.failed,
    ]);
  try {
    await until(BEFORE_BYTES);
    pipe.pause();
    const workerdBefore = rssMiB(o.workerdPid);
    const bridgeBefore = rssMiB(o.bridgePid);
    const sentAtPause = await written();
    let workerdMax = workerdBefore;
    let bridgeMax = bridgeBefore;
    let sentSecondAgo = sentAtPause;
    let sentNow = sentAtPause;
    let cutShortAfterSeconds: number | undefined;
    const samples = Math.round((o.seconds * 1000) / 100);
    for (let i = 0; i < samples; i++) {
      await sleep(100);
      workerdMax = Math.max(workerdMax, rssMiB(o.workerdPid));
      bridgeMax = Math.max(bridgeMax, rssMiB(o.bridgePid));
      if ((i + 1) % 10 === 0) {
        sentSecondAgo = sentNow;
        sentNow = await written();
      }
      if (workerdMax - workerdBefore > GROWTH_CAP_MIB) {
        cutShortAfterSeconds = ((i + 1) * 100) / 1000;
        break;
      }
    }
    const sentAtEnd = await written();
    const resumedAt = verifier.bytes;
    pipe.resume();
    await until(resumedAt + AFTER_BYTES);
    return {
      seconds: o.seconds,
      ...(cutShortAfterSeconds !== undefined && { cutShortAfterSeconds }),
      workerdBeforeMiB: workerdBefore,
      workerdMaxMiB: workerdMax,
      workerdGrowthMiB: workerdMax - workerdBefore,
      bridgeGrowthMiB: bridgeMax - bridgeBefore,
      sentDuringStallMiB: (sentAtEnd - sentAtPause) / MIB,
      // a stall cut short within its first second: what it got
      sentLastSecondMiB: (sentNow === sentAtPause ? sentAtEnd - sentAtPause : sentNow - sentSecondAgo) / MIB,
      afterMiB: (verifier.bytes - resumedAt) / MIB,
      intact: verifier.ok,
    };
  } finally {
    pipe.close();
    await o.source.request({ type: "stream-bytes", bytes: 0 }, "stats");
  }
}
