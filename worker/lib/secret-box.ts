/**
 * Secrets at rest (users' API keys, later OAuth tokens): AES-256-GCM under a key derived with
 * HKDF from a versioned master key (Worker secret ENCRYPTION_KEYS = "v1:<base64 32 bytes>,v2:…";
 * the last one encrypts, all decrypt) and bound to the user and purpose, so a ciphertext copied
 * to another user's row does not decrypt. Format: `<version>.<iv b64url>.<ciphertext b64url>`.
 */
import { base64url } from "./bytes.ts";

export interface MasterKey {
  version: string;
  bytes: Uint8Array;
}

export function parseMasterKeys(spec: string | undefined): MasterKey[] {
  if (!spec) throw new Error("ENCRYPTION_KEYS is not set");
  const keys = spec.split(",").map((part) => {
    const [version, b64] = part.trim().split(":");
    if (!version || !/^v\d+$/.test(version) || !b64) throw new Error("ENCRYPTION_KEYS must look like v1:<base64>,v2:<base64>");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    if (bytes.length < 32) throw new Error(`ENCRYPTION_KEYS ${version} must be at least 32 bytes`);
    return { version, bytes };
  });
  if (keys.length === 0) throw new Error("ENCRYPTION_KEYS is empty");
  return keys;
}

async function deriveKey(master: MasterKey, context: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", new Uint8Array(master.bytes), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode("atrium/secret-box/v1"), info: new TextEncoder().encode(context) },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** Encrypts `plaintext` for `context` (e.g. `anthropic-key:<userId>`) under the newest master key. */
export async function sealSecret(keys: MasterKey[], context: string, plaintext: string): Promise<string> {
  const master = keys[keys.length - 1];
  if (!master) throw new Error("no master key");
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await deriveKey(master, context);
  const data = new TextEncoder().encode(plaintext);
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(context) }, key, data);
  return `${master.version}.${base64url.encode(iv)}.${base64url.encode(new Uint8Array(ct))}`;
}

/** Decrypts what `sealSecret` produced for the same context; throws if it was tampered with. */
export async function openSecret(keys: MasterKey[], context: string, sealed: string): Promise<string> {
  const [version, ivText, ctText] = sealed.split(".");
  const master = keys.find((k) => k.version === version);
  if (!master || !ivText || !ctText) throw new Error("unknown secret format or key version");
  const key = await deriveKey(master, context);
  const pt = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: new Uint8Array(base64url.decode(ivText)), additionalData: new TextEncoder().encode(context) },
    key,
    new Uint8Array(base64url.decode(ctText)),
  );
  return new TextDecoder().decode(pt);
}
