import { and, count, eq, gte, isNull, lt, or } from 'drizzle-orm';
import type { Db } from './open-store.js';
import { usedNonces } from './schema.js';

/** Why a nonce was refused; `ok` means it was unused, issued to this device, not expired, and is now spent. */
export type NonceOutcome = 'ok' | 'unknown' | 'expired' | 'replayed' | 'wrong_device';

/**
 * Issued challenge nonces, persisted so that a nonce is accepted at most once, before or after a restart.
 * [FP-4.3-2] Consumption is one conditional UPDATE: two evidence messages racing for the same nonce cannot both win.
 */
export class NonceStore {
  constructor(private readonly db: Db) {}

  /** Records a freshly issued nonce (hex). Issuing the same nonce twice is a bug in the random source. */
  issue(nonceHex: string, deviceId: string, issuedAt: number, expiresAt: number): void {
    this.db.insert(usedNonces).values({ nonce: nonceHex, deviceId, issuedAt, expiresAt }).run();
  }

  consume(nonceHex: string, deviceId: string, now: number): NonceOutcome {
    const res = this.db
      .update(usedNonces)
      .set({ usedAt: now })
      .where(and(eq(usedNonces.nonce, nonceHex), eq(usedNonces.deviceId, deviceId), isNull(usedNonces.usedAt)))
      .returning({ expiresAt: usedNonces.expiresAt })
      .all();
    const row = res[0];
    if (row !== undefined) {
      // Spent even when late: a late answer must not stay replayable.
      return row.expiresAt >= now ? 'ok' : 'expired';
    }
    const existing = this.db.select().from(usedNonces).where(eq(usedNonces.nonce, nonceHex)).get();
    if (existing === undefined) return 'unknown';
    if (existing.deviceId !== deviceId) return 'wrong_device';
    return 'replayed';
  }

  /**
   * Forgets nonces that can no longer be answered (expired before `before`). A forgotten nonce is `unknown`, which
   * is refused just like `replayed`, so purging never re-opens a replay.
   */
  purge(before: number): number {
    return this.db
      .delete(usedNonces)
      .where(or(lt(usedNonces.expiresAt, before), lt(usedNonces.usedAt, before)))
      .run().changes;
  }

  /** Nonces issued and still answerable: the depth of the outstanding-challenge queue. */
  outstanding(now: number): number {
    const row = this.db
      .select({ n: count() })
      .from(usedNonces)
      .where(and(isNull(usedNonces.usedAt), gte(usedNonces.expiresAt, now)))
      .get();
    return row?.n ?? 0;
  }
}
