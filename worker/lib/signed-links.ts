/**
 * Short-lived signed download links for VM images: `…/images/{id}/download?expires=<unix s>&sig=`
 * where `sig` is HMAC-SHA256 over the image id and the expiry. Bridges fetch images with them
 * and hold no other credential for R2. The key is derived from JWT_SECRET under its own label,
 * so no extra secret has to be configured and a token signature can never pass for a link's.
 */
import { base64url } from "./bytes.ts";

/** How long a link works. Bridges get a fresh one with every delivery of a start command. */
export const IMAGE_LINK_TTL_SECONDS = 60 * 60;

const keys = new Map<string, Promise<CryptoKey>>();
function linkKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle
      .digest("SHA-256", new TextEncoder().encode(`atrium:image-links:v1:${secret}`))
      .then((raw) => crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]));
    keys.set(secret, key);
  }
  return key;
}

const message = (imageId: string, expires: number) => new TextEncoder().encode(`image:${imageId}:${expires}`);

export async function signImageLink(
  secret: string,
  origin: string,
  imageId: string,
  ttlSeconds = IMAGE_LINK_TTL_SECONDS,
  now = Date.now(),
) {
  const expires = Math.floor(now / 1000) + ttlSeconds;
  const sig = base64url.encode(new Uint8Array(await crypto.subtle.sign("HMAC", await linkKey(secret), message(imageId, expires))));
  const url = `${origin}/api/v1/images/${imageId}/download?expires=${expires}&sig=${sig}`;
  return { url, expiresAt: new Date(expires * 1000).toISOString() };
}

/** "ok", or why the link does not work. A forged signature is "invalid" whatever its expiry. */
export async function verifyImageLink(
  secret: string,
  imageId: string,
  expires: number,
  sig: string,
  now = Date.now(),
): Promise<"ok" | "invalid" | "expired"> {
  let signature: Uint8Array;
  try {
    signature = base64url.decode(sig);
  } catch {
    return "invalid";
  }
  const valid = await crypto.subtle.verify("HMAC", await linkKey(secret), signature, message(imageId, expires));
  if (!valid) return "invalid";
  return expires * 1000 > now ? "ok" : "expired";
}
