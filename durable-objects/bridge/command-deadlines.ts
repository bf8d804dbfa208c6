/**
 * How long a bridge has to answer a command before the hub gives up on it. A command the bridge
 * never acknowledges (it is offline, or wedged) fails after `ackMs` from its creation; one it
 * acknowledged but never finished fails after its action's run time from the ack (starting a VM
 * may download an image, so starts get longer). The failure reaches the session like any other
 * (start → failed, wake → hibernated, …), so nobody waits on "Starting…" for ever. Pure.
 */
import type { CommandAction } from "./protocol.ts";

export interface CommandTimeouts {
  /** from creation to the bridge's ack */
  ackMs: number;
  /** from the ack to complete / failed, per action */
  runMs: Record<CommandAction, number>;
}

const MINUTE = 60_000;

export const DEFAULT_COMMAND_TIMEOUTS: CommandTimeouts = {
  ackMs: 2 * MINUTE,
  runMs: { start_session: 10 * MINUTE, wake_session: 10 * MINUTE, stop_session: 5 * MINUTE, hibernate_session: 5 * MINUTE },
};

/** What the deadline needs of a queued command. */
export interface CommandTiming {
  action: CommandAction;
  status: "pending" | "sent" | "ack" | "completed" | "failed";
  createdAt: number;
  /** for an acked command: when the ack came */
  updatedAt: number;
}

/** When `cmd` times out, or undefined when it is finished. */
export function commandDeadline(cmd: CommandTiming, timeouts: CommandTimeouts = DEFAULT_COMMAND_TIMEOUTS): number | undefined {
  switch (cmd.status) {
    case "pending":
    case "sent":
      return cmd.createdAt + timeouts.ackMs;
    case "ack":
      return cmd.updatedAt + timeouts.runMs[cmd.action];
    default:
      return undefined;
  }
}

const WHAT: Record<CommandAction, string> = {
  start_session: "starting the desktop",
  wake_session: "waking the desktop",
  stop_session: "stopping the desktop",
  hibernate_session: "hibernating the desktop",
};

const minutes = (ms: number) => {
  const m = Math.max(1, Math.round(ms / MINUTE));
  return `${m} minute${m === 1 ? "" : "s"}`;
};

/**
 * The error a timed-out command fails with: BRIDGE_OFFLINE when the bridge is not connected and
 * never took the command, BRIDGE_TIMEOUT when it is connected but silent or did not finish.
 */
export function timeoutError(
  cmd: CommandTiming,
  connected: boolean,
  timeouts: CommandTimeouts = DEFAULT_COMMAND_TIMEOUTS,
): { code: "BRIDGE_OFFLINE" | "BRIDGE_TIMEOUT"; message: string } {
  if (cmd.status === "ack")
    return {
      code: "BRIDGE_TIMEOUT",
      message: `The bridge did not finish ${WHAT[cmd.action]} within ${minutes(timeouts.runMs[cmd.action])}.`,
    };
  if (!connected)
    return {
      code: "BRIDGE_OFFLINE",
      message: `The desktop's bridge is offline: nothing took the request for ${WHAT[cmd.action]} within ${minutes(timeouts.ackMs)}.`,
    };
  return {
    code: "BRIDGE_TIMEOUT",
    message: `The bridge did not acknowledge ${WHAT[cmd.action]} within ${minutes(timeouts.ackMs)}.`,
  };
}

/** The outstanding commands whose deadline has passed at `now`. */
export function expired<T extends CommandTiming>(
  commands: readonly T[],
  now: number,
  timeouts: CommandTimeouts = DEFAULT_COMMAND_TIMEOUTS,
): T[] {
  return commands.filter((c) => {
    const d = commandDeadline(c, timeouts);
    return d !== undefined && d <= now;
  });
}

/** The earliest deadline among `commands`, if any. */
export function nextDeadline(commands: readonly CommandTiming[], timeouts: CommandTimeouts = DEFAULT_COMMAND_TIMEOUTS): number | undefined {
  let next: number | undefined;
  for (const c of commands) {
    const d = commandDeadline(c, timeouts);
    if (d !== undefined && (next === undefined || d < next)) next = d;
  }
  return next;
}
