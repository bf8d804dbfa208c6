/**
 * What the bridge remembers of commands it has finished: a bounded LRU of command id → outcome
 * (`complete` result or `failed` error), persisted to `commands.json` in the state dir. Command
 * ids are idempotency keys (DESIGN §5): a redelivered id is answered from here instead of being
 * run again — also after the bridge restarts. Each entry also records whether its answer reached
 * the hub; answers produced while the control socket was down are sent after the next `hello`.
 */
import { z } from "zod";
import type { CommandError } from "./errors.ts";
import { JsonFileWriter, readJsonFile } from "./json-file.ts";
import type { Logger } from "./log.ts";

export type CommandOutcome = { kind: "complete"; result: Record<string, unknown> } | { kind: "failed"; error: CommandError };

export interface RememberedCommand {
  id: string;
  outcome: CommandOutcome;
  /** true once the `complete`/`failed` frame was written to a hub socket */
  delivered: boolean;
}

const OutcomeSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("complete"), result: z.record(z.string(), z.unknown()) }),
  z.object({ kind: z.literal("failed"), error: z.object({ code: z.string(), message: z.string() }) }),
]);
const FileSchema = z.object({
  version: z.literal(1),
  entries: z.array(z.object({ id: z.string().min(1).max(100), outcome: OutcomeSchema, delivered: z.boolean() })),
});

export interface CommandMemoryOptions {
  /** How many finished ids to keep; the least recently used go first. */
  capacity?: number;
  log: Logger;
}

export class CommandMemory {
  readonly #entries = new Map<string, RememberedCommand>();
  readonly #capacity: number;
  readonly #writer: JsonFileWriter | undefined;

  private constructor(capacity: number, writer: JsonFileWriter | undefined) {
    this.#capacity = capacity;
    this.#writer = writer;
  }

  /** Loads the memory from `file` (missing → empty). Without a file it lives in memory only. */
  static async open(file: string | undefined, options: CommandMemoryOptions): Promise<CommandMemory> {
    const capacity = options.capacity ?? 1000;
    const memory = new CommandMemory(capacity, file ? new JsonFileWriter(file) : undefined);
    const saved = file ? await readJsonFile(file, FileSchema, options.log) : undefined;
    for (const entry of saved?.entries.slice(-capacity) ?? []) memory.#entries.set(entry.id, entry);
    return memory;
  }

  /** The finished command with this id (and marks it recently used), if remembered. */
  get(id: string): RememberedCommand | undefined {
    const entry = this.#entries.get(id);
    if (entry) {
      this.#entries.delete(id);
      this.#entries.set(id, entry);
    }
    return entry;
  }

  /** Records a finished command (not yet delivered) and persists before resolving. */
  async remember(id: string, outcome: CommandOutcome): Promise<RememberedCommand> {
    const entry: RememberedCommand = { id, outcome, delivered: false };
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    while (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    await this.#persist();
    return entry;
  }

  async markDelivered(id: string): Promise<void> {
    const entry = this.#entries.get(id);
    if (!entry || entry.delivered) return;
    entry.delivered = true;
    await this.#persist();
  }

  /** Answers not yet written to any hub socket, oldest first. */
  undelivered(): RememberedCommand[] {
    return [...this.#entries.values()].filter((e) => !e.delivered);
  }

  /** Resolves once everything remembered so far is on disk (shutdown waits for it). */
  flushed(): Promise<void> {
    return this.#writer?.idle() ?? Promise.resolve();
  }

  get size(): number {
    return this.#entries.size;
  }

  #persist(): Promise<void> {
    return this.#writer?.write({ version: 1, entries: [...this.#entries.values()] }) ?? Promise.resolve();
  }
}
