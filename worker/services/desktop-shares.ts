/**
 * Who may redeem a desktop's share link. The owner decides when making it: the teammates they
 * name, or everyone who shares a team with them at that moment. That set is stored with the link
 * and never grows: someone the owner (or anyone) adds to a team later is not let in without the
 * owner making a new link. A recipient also has to still share a team with the owner when
 * redeeming, so leaving the team ends the access.
 */
import { and, asc, eq, inArray, ne } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { desktopShareRecipients, desktopShares, teamMembers, users } from "../../migrations/schema.ts";
import { type Db, type TxDb, withTransaction } from "../db/client.ts";
import { areTeammates } from "./desktop-sessions.ts";

/** One recipient of a share link, as the API shows it. */
export interface ShareRecipient {
  id: string;
  displayName: string;
}

export interface NewShare {
  sessionId: string;
  ownerId: string;
  /** the teammates the owner named; undefined: every teammate the owner has now */
  userIds: readonly string[] | undefined;
  tokenHash: string;
  expiresAt: Date;
}

export type CreatedShare =
  | { ok: true; share: typeof desktopShares.$inferSelect; recipients: ShareRecipient[] }
  | { ok: false; message: string };

/** Recipient rows are inserted in batches of this many (Postgres caps a statement's parameters). */
const INSERT_BATCH = 1000;

/** The owner's teammates (people sharing at least one team with them), optionally only among `among`. */
async function teammatesOf(db: Db | TxDb, ownerId: string, among?: readonly string[]): Promise<ShareRecipient[]> {
  const mine = alias(teamMembers, "mine");
  const theirs = alias(teamMembers, "theirs");
  return db
    .selectDistinct({ id: users.id, displayName: users.displayName })
    .from(mine)
    .innerJoin(theirs, eq(theirs.teamId, mine.teamId))
    .innerJoin(users, eq(users.id, theirs.userId))
    .where(and(eq(mine.userId, ownerId), ne(theirs.userId, ownerId), among ? inArray(theirs.userId, [...among]) : undefined))
    .orderBy(asc(users.displayName), asc(users.id));
}

/** Creates a share link and fixes its recipients, in one transaction. */
export async function createShare(env: Env, input: NewShare): Promise<CreatedShare> {
  return withTransaction(env, async (tx) => {
    // The owner may always open their own desktop: naming themselves adds nothing.
    const named = input.userIds?.filter((id) => id !== input.ownerId);
    if (named && named.length === 0) return { ok: false, message: "Name at least one teammate other than yourself." };
    const recipients = await teammatesOf(tx, input.ownerId, named);
    if (named && recipients.length !== new Set(named).size)
      return { ok: false, message: "No such teammate: share links are for people in one of your teams." };
    if (recipients.length === 0)
      return { ok: false, message: "You have no teammates to share with: share links are for people in one of your teams." };
    const [share] = await tx
      .insert(desktopShares)
      .values({ sessionId: input.sessionId, tokenHash: input.tokenHash, createdBy: input.ownerId, expiresAt: input.expiresAt })
      .returning();
    if (!share) throw new Error("share insert returned no row");
    for (let at = 0; at < recipients.length; at += INSERT_BATCH) {
      await tx
        .insert(desktopShareRecipients)
        .values(recipients.slice(at, at + INSERT_BATCH).map((r) => ({ shareId: share.id, userId: r.id })));
    }
    return { ok: true, share, recipients };
  });
}

/** The recipients of each of `shareIds`. */
export async function shareRecipients(db: Db, shareIds: readonly string[]): Promise<Map<string, ShareRecipient[]>> {
  const out = new Map<string, ShareRecipient[]>();
  if (shareIds.length === 0) return out;
  const rows = await db
    .select({ shareId: desktopShareRecipients.shareId, id: users.id, displayName: users.displayName })
    .from(desktopShareRecipients)
    .innerJoin(users, eq(users.id, desktopShareRecipients.userId))
    .where(inArray(desktopShareRecipients.shareId, [...shareIds]))
    .orderBy(asc(users.displayName), asc(users.id));
  for (const { shareId, ...recipient } of rows) out.set(shareId, [...(out.get(shareId) ?? []), recipient]);
  return out;
}

/** Whether `userId` may redeem the link now: one of its recipients, still a teammate of the owner. */
export async function mayRedeem(db: Db, shareId: string, ownerId: string, userId: string): Promise<boolean> {
  const [recipient] = await db
    .select({ userId: desktopShareRecipients.userId })
    .from(desktopShareRecipients)
    .where(and(eq(desktopShareRecipients.shareId, shareId), eq(desktopShareRecipients.userId, userId)));
  return recipient !== undefined && (await areTeammates(db, ownerId, userId));
}
