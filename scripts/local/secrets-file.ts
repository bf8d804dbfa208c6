/**
 * `secrets.json` in `npm start`'s data folder: the values generated once per data folder so that
 * sign-ins, stored keys and the local bridge's token survive a restart. Read with zod (a file
 * edited by hand that no longer parses is an error, not something to overwrite silently) and
 * written owner-only.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { z } from "zod";
import { randomToken } from "../../worker/lib/bytes.ts";

const SecretsSchema = z.object({
  JWT_SECRET: z.string().min(32).optional(),
  ENCRYPTION_KEYS: z.string().min(1).optional(),
  /** The local node-bridge's token; Postgres holds only its SHA-256 hash. */
  LOCAL_BRIDGE_TOKEN: z.string().min(16).optional(),
});

export interface LocalSecrets {
  JWT_SECRET: string;
  ENCRYPTION_KEYS: string;
  LOCAL_BRIDGE_TOKEN?: string;
}

/** Reads the file, fills in whatever is missing and writes it back. */
export function loadSecrets(file: string): LocalSecrets {
  const text = existsSync(file) ? readFileSync(file, "utf8") : "{}";
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON; fix it or restore it (deleting it means new keys: sign-ins and stored API keys are lost)`);
  }
  const parsed = SecretsSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${file} is not a valid secrets file: ${parsed.error.issues[0]?.message ?? "bad shape"}`);
  const secrets: LocalSecrets = {
    ...parsed.data,
    JWT_SECRET: parsed.data.JWT_SECRET ?? randomToken(48),
    ENCRYPTION_KEYS: parsed.data.ENCRYPTION_KEYS ?? `v1:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`,
  };
  if (JSON.stringify(secrets) !== JSON.stringify(parsed.data)) saveSecrets(file, secrets);
  else chmodSync(file, 0o600);
  return secrets;
}

/** Writes the file owner-only and atomically (a crash mid-write leaves the old file, never half of one). */
export function saveSecrets(file: string, secrets: LocalSecrets): void {
  writeFileAtomic(file, JSON.stringify(secrets, null, 2));
}

export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** A `--env-file` for wrangler (`KEY="value"` lines), written like the secrets file. */
export function writeEnvFile(file: string, vars: Record<string, string>): void {
  writeFileAtomic(
    file,
    `${Object.entries(vars)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join("\n")}\n`,
  );
}
