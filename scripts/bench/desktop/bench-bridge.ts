/**
 * A node-bridge for the desktop section, in its own process so its CPU and memory are measured on
 * their own: node-bridge's real ControlClient (hello, heartbeats, `ack` on receipt, then
 * `complete`) and, in relay mode, its real SessionManager and data path, with a bench driver in
 * place of Xvfb + VNC whose `vncEndpoint` is the section's TCP source (vnc-source.ts).
 *
 * Modes (argv[2] is a JSON BridgeArgs):
 *  - relay: start_session opens the session's sockets to its DesktopSession exactly as a real
 *    bridge does; each viewer's data socket is piped to a fresh TCP connection to the stream or
 *    echo port, chosen per session by the parent ({type:"route"}).
 *  - commands: every command completes at once (the driver does nothing), and its arrival time
 *    (= when the ack went out) is reported to the parent for the dispatch → ack figures.
 *
 * IPC out: {type:"welcome"} once connected, {type:"command", id, action, sessionId, at} (commands
 * mode), {type:"routed"} after a route. `at` is performance.timeOrigin + performance.now() (ms).
 */
import type { CommandFrame, Platform, ReportedSession, StartPayload } from "../../../durable-objects/bridge/protocol.ts";
import { CommandMemory } from "../../../node-bridge/command-memory.ts";
import { ControlClient } from "../../../node-bridge/control-client.ts";
import type { DesktopDriver, VncEndpoint } from "../../../node-bridge/drivers/driver.ts";
import { createLogger } from "../../../node-bridge/log.ts";
import { SessionManager } from "../../../node-bridge/session-manager.ts";

export interface BridgeArgs {
  mode: "relay" | "commands";
  controlUrl: string;
  token: string;
  bridgeId: string;
  platform: Platform;
  region: string;
  capacity: number;
  /** relay mode: the TCP source's stream port (the default route) */
  streamPort?: number;
  /** relay mode: largest binary message the data path sends (node-bridge's default is 64 KiB) */
  maxMessageBytes?: number;
}

export type BridgeCommand = { type: "route"; sessionId: string; port: number };
export type BridgeReport =
  | { type: "welcome" }
  | { type: "routed" }
  | { type: "command"; id: string; action: CommandFrame["action"]; sessionId: string; at: number };

const args = JSON.parse(process.argv[2] ?? "{}") as BridgeArgs;
const log = createLogger({ level: "warn", fields: { bridge: args.region } });
const send = (r: BridgeReport) => process.send?.(r);
const now = () => performance.timeOrigin + performance.now();

/** Desktops that are "running" as far as this bridge reports (heartbeats reconcile against them). */
const running = new Map<string, ReportedSession["state"]>();
const routes = new Map<string, number>();

/** A driver with nothing to start: the desktop is the section's TCP source. */
const benchDriver: DesktopDriver = {
  platform: args.platform,
  canHibernate: args.platform !== "local",
  list: async () => [...running].map(([sessionId, state]) => ({ sessionId, state })),
  start: async (payload: StartPayload) => void running.set(payload.sessionId, "running"),
  wake: async (payload: StartPayload) => void running.set(payload.sessionId, "running"),
  hibernate: async (sessionId: string) => void running.set(sessionId, "hibernated"),
  stop: async (sessionId: string) => void running.delete(sessionId),
  vncEndpoint: async (sessionId: string): Promise<VncEndpoint> => ({
    host: "127.0.0.1",
    port: routes.get(sessionId) ?? args.streamPort ?? 0,
  }),
};

const sessions =
  args.mode === "relay"
    ? new SessionManager({
        driver: benchDriver,
        log,
        ...(args.maxMessageBytes && { relayOptions: { maxMessageBytes: args.maxMessageBytes } }),
      })
    : undefined;

async function runCommand(command: CommandFrame): Promise<Record<string, unknown>> {
  if (sessions) return sessions.run(command);
  send({ type: "command", id: command.id, action: command.action, sessionId: command.payload.sessionId, at: now() });
  const { sessionId } = command.payload;
  if (command.action === "stop_session") await benchDriver.stop(sessionId);
  else if (command.action === "hibernate_session") await benchDriver.hibernate(sessionId);
  else running.set(sessionId, "running");
  return { sessionId };
}

const control = new ControlClient({
  url: args.controlUrl,
  token: args.token,
  identity: { bridgeId: args.bridgeId, platform: args.platform, region: args.region, version: "bench", capacity: args.capacity },
  listSessions: () => benchDriver.list(),
  runCommand,
  memory: await CommandMemory.open(undefined, { log, capacity: 100_000 }),
  log,
});
control.once("welcome", () => send({ type: "welcome" }));
control.start();

process.on("message", (raw: unknown) => {
  const cmd = raw as BridgeCommand;
  if (cmd.type === "route") {
    routes.set(cmd.sessionId, cmd.port);
    send({ type: "routed" });
  }
});
process.on("disconnect", () => process.exit(0));
