/**
 * Access tokens (HS256 JWT via jose, 15 minutes) and refresh tokens (opaque, 7 days, stored
 * only as SHA-256 hashes and rotated on every use; see routes/auth.ts for reuse detection).
 */
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { ApiError } from "./errors.ts";

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 60 * 60;
const ISSUER = "atrium";
const AUDIENCE = "atrium-api";

export interface AccessClaims {
  /** user id */
  sub: string;
  name: string;
  adm: boolean;
  /** must change password before anything else */
  pwc: boolean;
  /** refresh-token family the token was issued under ("local" in single-user mode) */
  fam: string;
}

// The imported HMAC key is cached per isolate: importing it on every verify cost ~7% of a request.
type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
const keyCache = new Map<string, Promise<HmacKey>>();
function signingKey(secret: string): Promise<HmacKey> {
  let key = keyCache.get(secret);
  if (!key) {
    if (secret.length < 32) throw new Error("JWT_SECRET must be at least 32 characters");
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keyCache.set(secret, key);
  }
  return key;
}

export async function signAccessToken(secret: string, claims: AccessClaims): Promise<string> {
  const { sub, ...rest } = claims;
  return new SignJWT({ ...rest, typ: "access" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${ACCESS_TOKEN_TTL_SECONDS}s`)
    .sign(await signingKey(secret));
}

export async function verifyAccessToken(secret: string, token: string): Promise<AccessClaims> {
  try {
    const { payload } = await jwtVerify(token, await signingKey(secret), {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: ["HS256"],
    });
    if (
      payload.typ !== "access" ||
      typeof payload.sub !== "string" ||
      typeof payload.name !== "string" ||
      typeof payload.adm !== "boolean" ||
      typeof payload.pwc !== "boolean" ||
      typeof payload.fam !== "string"
    ) {
      throw new ApiError("INVALID_TOKEN", "The access token is malformed.");
    }
    return { sub: payload.sub, name: payload.name, adm: payload.adm, pwc: payload.pwc, fam: payload.fam };
  } catch (e: unknown) {
    if (e instanceof ApiError) throw e;
    if (e instanceof joseErrors.JWTExpired) throw new ApiError("TOKEN_EXPIRED", "The access token has expired.");
    throw new ApiError("INVALID_TOKEN", "The access token is not valid.");
  }
}
