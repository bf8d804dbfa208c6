/**
 * Login sessions: a refresh-token family per login, refresh tokens rotated on every use and
 * stored only as SHA-256 hashes, reuse of a rotated token revoking the whole family.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import { refreshTokenFamilies, refreshTokens, socketRooms, users } from "../../migrations/schema.ts";
import type { Db } from "../db/client.ts";
import { randomToken, sha256Hex } from "../lib/bytes.ts";
import { ApiError } from "../lib/errors.ts";
import { ACCESS_TOKEN_TTL_SECONDS, REFRESH_TOKEN_TTL_SECONDS, signAccessToken } from "../lib/tokens.ts";
import { auditInsert } from "./audit.ts";

export type UserRow = typeof users.$inferSelect;

export interface IssuedSession {
  accessToken: string;
  refreshToken: string;
  /** seconds until the access token expires */
  expiresIn: number;
  familyId: string;
}

export interface SessionMeta {
  ip: string;
  userAgent: string | undefined;
}

function newRefreshToken(): string {
  return `rt_${randomToken(32)}`;
}

async function accessFor(secret: string, user: UserRow, familyId: string): Promise<string> {
  return signAccessToken(secret, {
    sub: user.id,
    name: user.username,
    adm: user.isAdmin,
    pwc: user.mustChangePassword,
    fam: familyId,
  });
}

/** Starts a new family for `user` and returns its first tokens. */
export async function issueSession(db: Db, secret: string, user: UserRow, meta: SessionMeta): Promise<IssuedSession> {
  const familyId = crypto.randomUUID();
  const refreshToken = newRefreshToken();
  await db.batch([
    db.insert(refreshTokenFamilies).values({
      id: familyId,
      userId: user.id,
      expiresAt: new Date(Date.now() + REFRESH_TOKEN_TTL_SECONDS * 1000),
      ip: meta.ip,
      userAgent: meta.userAgent?.slice(0, 300) ?? null,
    }),
    db.insert(refreshTokens).values({ tokenHash: await sha256Hex(refreshToken), familyId }),
    // The socket registry (services/socket-access.ts) forgets the rooms of this user's ended
    // sessions here, once per login: no socket of theirs can still be authorized, and without
    // this the registry would keep one row per room ever visited.
    db.delete(socketRooms).where(
      and(
        eq(socketRooms.userId, user.id),
        sql`${socketRooms.familyId} in (select ${refreshTokenFamilies.id}::text from ${refreshTokenFamilies}
          where ${refreshTokenFamilies.userId} = ${user.id} and (${refreshTokenFamilies.revokedAt} is not null or ${refreshTokenFamilies.expiresAt} < now()))`,
      ),
    ),
  ]);
  return { accessToken: await accessFor(secret, user, familyId), refreshToken, expiresIn: ACCESS_TOKEN_TTL_SECONDS, familyId };
}

/**
 * Exchanges a refresh token for a new pair. A token that was already used means it leaked (or
 * a client misbehaves): the whole family is revoked and the caller must log in again.
 */
export async function rotateSession(
  db: Db,
  secret: string,
  presented: string,
  meta: SessionMeta,
  /** called after a reuse revoked the family, to end what it still holds open (its sockets) */
  onRevoked?: (userId: string, familyId: string) => Promise<void>,
): Promise<{ session: IssuedSession; user: UserRow }> {
  const hash = await sha256Hex(presented);
  const [found] = await db
    .select({ token: refreshTokens, family: refreshTokenFamilies, user: users })
    .from(refreshTokens)
    .innerJoin(refreshTokenFamilies, eq(refreshTokenFamilies.id, refreshTokens.familyId))
    .innerJoin(users, eq(users.id, refreshTokenFamilies.userId))
    .where(eq(refreshTokens.tokenHash, hash))
    .limit(1);
  if (!found) throw new ApiError("REFRESH_TOKEN_INVALID", "The refresh token is not valid. Sign in again.");
  const { token, family, user } = found;
  if (family.revokedAt || family.expiresAt.getTime() <= Date.now()) {
    throw new ApiError("REFRESH_TOKEN_INVALID", "This session has ended. Sign in again.");
  }
  if (token.usedAt) {
    await revokeForReuse(db, family.id, user, meta);
    await onRevoked?.(user.id, family.id);
    throw new ApiError("REFRESH_TOKEN_REUSED", "This refresh token was already used; the session has been ended. Sign in again.");
  }
  if (!user.isActive) throw new ApiError("ACCOUNT_DISABLED", "This account has been deactivated.");

  const next = newRefreshToken();
  const nextHash = await sha256Hex(next);
  // One statement: mark the old token used only if nobody beat us to it, and insert its successor.
  const rotated = await db.execute<{ family_id: string }>(sql`
    with used as (
      update ${refreshTokens} set used_at = now()
      where ${refreshTokens.tokenHash} = ${hash} and ${refreshTokens.usedAt} is null
      returning ${refreshTokens.familyId}
    )
    insert into ${refreshTokens} (token_hash, family_id)
    select ${nextHash}, family_id from used
    returning family_id`);
  if (rotated.rows.length === 0) {
    await revokeForReuse(db, family.id, user, meta);
    await onRevoked?.(user.id, family.id);
    throw new ApiError("REFRESH_TOKEN_REUSED", "This refresh token was already used; the session has been ended. Sign in again.");
  }
  return {
    user,
    session: {
      accessToken: await accessFor(secret, user, family.id),
      refreshToken: next,
      expiresIn: ACCESS_TOKEN_TTL_SECONDS,
      familyId: family.id,
    },
  };
}

async function revokeForReuse(db: Db, familyId: string, user: UserRow, meta: SessionMeta): Promise<void> {
  await db.batch([
    db
      .update(refreshTokenFamilies)
      .set({ revokedAt: new Date(), revokedReason: "reuse_detected" })
      .where(and(eq(refreshTokenFamilies.id, familyId), isNull(refreshTokenFamilies.revokedAt))),
    auditInsert(db, {
      actorId: user.id,
      actorName: user.username,
      action: "auth.refresh.reuse_detected",
      targetType: "user",
      targetId: user.id,
      ip: meta.ip,
      detail: { familyId },
    }),
  ]);
}

/** Ends one family (logout). Returns its owner and id if the token was known. */
export async function revokeFamilyByToken(db: Db, presented: string): Promise<{ userId: string; familyId: string } | undefined> {
  const hash = await sha256Hex(presented);
  const rows = await db.execute<{ user_id: string; id: string }>(sql`
    update ${refreshTokenFamilies} set revoked_at = now(), revoked_reason = 'logout'
    where ${refreshTokenFamilies.id} = (select family_id from ${refreshTokens} where token_hash = ${hash})
      and ${refreshTokenFamilies.revokedAt} is null
    returning user_id, id`);
  const row = rows.rows[0];
  return row && { userId: row.user_id, familyId: row.id };
}

export function revokeFamily(db: Db, familyId: string, reason: string) {
  return db
    .update(refreshTokenFamilies)
    .set({ revokedAt: new Date(), revokedReason: reason })
    .where(and(eq(refreshTokenFamilies.id, familyId), isNull(refreshTokenFamilies.revokedAt)));
}

/** Ends every session of a user (password change, deactivation). */
export function revokeAllFamilies(db: Db, userId: string, reason: string) {
  return db
    .update(refreshTokenFamilies)
    .set({ revokedAt: new Date(), revokedReason: reason })
    .where(and(eq(refreshTokenFamilies.userId, userId), isNull(refreshTokenFamilies.revokedAt)));
}
