/**
 * Small JSON state files in the bridge's state dir: read and validated with zod (a corrupt or
 * foreign file is set aside, never trusted), written atomically (temp file + rename, mode 0600
 * because they can hold per-session data tokens) so a crash mid-write leaves the old version.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { z } from "zod";
import type { Logger } from "./log.ts";

/** The file's parsed content, or `undefined` when it is missing or unusable (then it is renamed aside). */
export async function readJsonFile<T>(path: string, schema: z.ZodType<T>, log: Logger): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const aside = `${path}.corrupt-${Date.now()}`;
  log.warn("state file is unreadable; starting without it", { path, movedTo: aside });
  await rename(path, aside).catch(() => {});
  return undefined;
}

/** Serialises writes per file so the last state always wins and no two renames race. */
export class JsonFileWriter {
  readonly #path: string;
  #chain: Promise<void> = Promise.resolve();
  #seq = 0;

  constructor(path: string) {
    this.#path = path;
  }

  write(data: unknown): Promise<void> {
    const text = `${JSON.stringify(data)}\n`;
    const next = this.#chain.then(async () => {
      await mkdir(dirname(this.#path), { recursive: true, mode: 0o700 });
      const tmp = `${this.#path}.${process.pid}.${++this.#seq}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, this.#path);
    });
    // A failed write must not wedge later ones; the caller still sees this one's error.
    this.#chain = next.catch(() => {});
    return next;
  }

  /** Resolves once every write issued so far has finished (successfully or not). */
  idle(): Promise<void> {
    return this.#chain;
  }
}
