/**
 * Turns control commands into driver calls and keeps one data relay (data-relay.ts: the primary
 * socket plus a pipe per viewer) per running session. Commands for the same session run one
 * after another (a stop that arrives while the start is still pulling an image waits for it);
 * different sessions run in parallel. Hibernate and stop close the session's relay before the
 * driver takes the desktop down, so viewers see a clean close rather than a dead VNC server.
 *
 * Each session's data URL and token (from its start/wake payload) are kept in `relays.json` in
 * the state dir, so a restarted bridge re-opens the primary sockets of the desktops the driver
 * still runs (pods and containers outlive the bridge process); no command would otherwise tell
 * it where their viewers wait.
 */
import { z } from "zod";
import type { CommandFrame, ReportedSession, StartPayload } from "../durable-objects/bridge/protocol.ts";
import { DataRelay, type DataRelayOptions } from "./data-relay.ts";
import type { DesktopDriver } from "./drivers/driver.ts";
import { BridgeError } from "./errors.ts";
import { JsonFileWriter, readJsonFile } from "./json-file.ts";
import type { Logger } from "./log.ts";

interface RelayTarget {
  dataUrl: string;
  dataToken: string;
}

const RelayFileSchema = z.object({
  version: z.literal(1),
  sessions: z.record(z.string(), z.object({ dataUrl: z.string(), dataToken: z.string() })),
});

export interface SessionManagerOptions {
  driver: DesktopDriver;
  log: Logger;
  /** Where relay targets are persisted; memory only when unset. */
  relayFile?: string;
  /** Extra options for every relay (tests shorten timeouts). */
  relayOptions?: Partial<DataRelayOptions>;
}

export class SessionManager {
  readonly #driver: DesktopDriver;
  readonly #log: Logger;
  readonly #relayOptions: Partial<DataRelayOptions>;
  readonly #writer: JsonFileWriter | undefined;
  readonly #relayFile: string | undefined;
  readonly #targets = new Map<string, RelayTarget>();
  readonly #relays = new Map<string, DataRelay>();
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(options: SessionManagerOptions) {
    this.#driver = options.driver;
    this.#log = options.log.child({ component: "sessions" });
    this.#relayOptions = options.relayOptions ?? {};
    this.#relayFile = options.relayFile;
    this.#writer = options.relayFile ? new JsonFileWriter(options.relayFile) : undefined;
  }

  /** After a restart: re-open the relays (primary sockets) of sessions the driver still runs, forget the others. */
  async restore(): Promise<void> {
    const saved = this.#relayFile ? await readJsonFile(this.#relayFile, RelayFileSchema, this.#log) : undefined;
    const running = new Set(
      (await this.#driver.list()).filter((s) => s.state === "running" || s.state === "starting").map((s) => s.sessionId),
    );
    for (const [sessionId, target] of Object.entries(saved?.sessions ?? {})) {
      if (!running.has(sessionId)) continue;
      this.#targets.set(sessionId, target);
      this.#openRelay(sessionId, target);
    }
    await this.#persist();
    if (this.#relays.size > 0) this.#log.info("re-opened data relays after restart", { count: this.#relays.size });
  }

  list(): Promise<ReportedSession[]> {
    return this.#driver.list();
  }

  /** Runs one command for the control client; resolves with the `complete` result. */
  run(command: CommandFrame): Promise<Record<string, unknown>> {
    const sessionId = command.payload.sessionId;
    const previous = this.#queues.get(sessionId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.#execute(command));
    this.#queues.set(sessionId, next);
    void next
      .catch(() => {})
      .finally(() => {
        if (this.#queues.get(sessionId) === next) this.#queues.delete(sessionId);
      });
    return next;
  }

  /** Closes every relay (the desktops themselves are the driver's business). */
  async closeRelays(code = 1001, reason = "bridge shutting down"): Promise<void> {
    await Promise.all([...this.#relays.values()].map((r) => r.close(code, reason)));
    this.#relays.clear();
  }

  /** The relay of a session, if one is open (tests and diagnostics). */
  relay(sessionId: string): DataRelay | undefined {
    return this.#relays.get(sessionId);
  }

  async #execute(command: CommandFrame): Promise<Record<string, unknown>> {
    const { sessionId } = command.payload;
    switch (command.action) {
      case "start_session":
      case "wake_session": {
        const payload: StartPayload = command.payload;
        if (command.action === "start_session") await this.#driver.start(payload);
        else await this.#driver.wake(payload);
        const target = { dataUrl: payload.dataUrl, dataToken: payload.dataToken };
        this.#targets.set(sessionId, target);
        await this.#persist();
        // A wake may carry a new data token: replace any relay left from before.
        await this.#closeRelay(sessionId, 1000, "session restarted");
        this.#openRelay(sessionId, target);
        return { sessionId, state: "running" };
      }
      case "hibernate_session": {
        if (!this.#driver.canHibernate) {
          throw new BridgeError(
            "HIBERNATE_UNSUPPORTED",
            `the ${this.#driver.platform} driver cannot hibernate sessions; stop the session instead`,
          );
        }
        await this.#closeRelay(sessionId, 1000, "session hibernating");
        await this.#driver.hibernate(sessionId);
        return { sessionId, state: "hibernated" };
      }
      case "stop_session": {
        await this.#closeRelay(sessionId, 1000, "session stopped");
        await this.#driver.stop(sessionId);
        this.#targets.delete(sessionId);
        await this.#persist();
        return { sessionId, state: "stopped" };
      }
    }
  }

  #openRelay(sessionId: string, target: RelayTarget): void {
    const relay = new DataRelay({
      sessionId,
      dataUrl: target.dataUrl,
      dataToken: target.dataToken,
      vncEndpoint: () => this.#driver.vncEndpoint(sessionId),
      log: this.#log,
      ...this.#relayOptions,
    });
    this.#relays.set(sessionId, relay);
    relay.start();
  }

  async #closeRelay(sessionId: string, code: number, reason: string): Promise<void> {
    const relay = this.#relays.get(sessionId);
    if (!relay) return;
    this.#relays.delete(sessionId);
    await relay.close(code, reason);
  }

  #persist(): Promise<void> {
    return this.#writer?.write({ version: 1, sessions: Object.fromEntries(this.#targets) }) ?? Promise.resolve();
  }
}
