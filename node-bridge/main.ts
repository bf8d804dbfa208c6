/**
 * node-bridge entry point: `node node-bridge/main.ts`. Reads the configuration, builds the driver,
 * re-opens the data relays (primary sockets) of desktops that outlived a previous run, then keeps
 * the control channel to Atrium open until SIGTERM/SIGINT, when it drains (no new commands,
 * in-flight ones finish, close 1001), closes every session's primary and data sockets (1001) and
 * lets the driver clean up (the local driver kills its desktops).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type BridgeConfig, ConfigError, loadConfig, redactConfig } from "./config.ts";
import { CommandMemory } from "./command-memory.ts";
import { ControlClient } from "./control-client.ts";
import { createDriver } from "./drivers/create-driver.ts";
import { errorMessage } from "./errors.ts";
import { createLogger, type Logger } from "./log.ts";
import { SessionManager } from "./session-manager.ts";

/** Everything `main` wires together, returned so tests and embedders can stop it. */
export interface RunningBridge {
  control: ControlClient;
  sessions: SessionManager;
  stop(): Promise<void>;
}

/** Starts a bridge from a validated configuration. */
export async function startBridge(config: BridgeConfig, log: Logger): Promise<RunningBridge> {
  const driver = await createDriver(config, log);
  const memory = await CommandMemory.open(join(config.stateDir, "commands.json"), { log });
  const sessions = new SessionManager({ driver, log, relayFile: join(config.stateDir, "relays.json") });
  await sessions.restore().catch((e: unknown) => log.warn("could not restore data relays", { error: errorMessage(e) }));

  const control = new ControlClient({
    url: config.controlUrl,
    token: config.token,
    identity: {
      bridgeId: config.bridgeId,
      platform: config.platform,
      region: config.region,
      version: bridgeVersion(),
      capacity: config.capacity,
    },
    listSessions: () => sessions.list(),
    runCommand: (command) => sessions.run(command),
    memory,
    log,
    drainTimeoutMs: config.drainTimeoutMs,
  });
  driver.onSessionState?.((session) => control.reportSessionState(session));
  control.start();

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await control.shutdown();
      await sessions.closeRelays();
      await driver.close?.();
    })();
    return stopping;
  };
  return { control, sessions, stop };
}

/** The version reported in `hello`: the project's package.json version. */
export function bridgeVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    if (typeof pkg === "object" && pkg !== null && "version" in pkg && typeof pkg.version === "string") return pkg.version;
  } catch {
    // fall through
  }
  return "0.0.0";
}

async function main(): Promise<void> {
  let config: BridgeConfig;
  try {
    config = loadConfig(process.env);
  } catch (e: unknown) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw e;
  }
  const log = createLogger({ level: config.logLevel, fields: { bridgeId: config.bridgeId } });
  log.info("node-bridge starting", { version: bridgeVersion(), config: redactConfig(config) });
  const bridge = await startBridge(config, log);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log.warn("second signal: exiting now", { signal });
      process.exit(1);
    }
    log.info("shutting down", { signal });
    bridge.stop().then(
      () => {
        log.info("node-bridge stopped");
        process.exit(0);
      },
      (e: unknown) => {
        log.error("shutdown failed", { error: errorMessage(e) });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

if (import.meta.main) {
  main().catch((e: unknown) => {
    process.stderr.write(`node-bridge failed to start: ${errorMessage(e)}\n`);
    process.exit(1);
  });
}
