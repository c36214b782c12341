import type Database from 'better-sqlite3';
import { and, count, gte, isNull, lt, or } from 'drizzle-orm';
import type { Db } from './open-store.js';
import { usedNonces } from './schema.js';

/** Why a nonce was refused; `ok` means it was unused, issued to this device, not expired, and is now spent. */
export type NonceOutcome = 'ok' | 'unknown' | 'expired' | 'replayed' | 'wrong_device';

/**
 * Issued challenge nonces, persisted so that a nonce is accepted at most once, before or after a restart.
 * [FP-4.3-2] Consumption is one conditional UPDATE: two evidence messages racing for the same nonce cannot both win.
 */
export class NonceStore {
  // Issue and consume run twice per appraisal: compiled once, not built by the query builder each time.
  private readonly issueStmt: Database.Statement<[string, string, number, number]>;
  private readonly consumeStmt: Database.Statement<[number, string, string], { expiresAt: number }>;
  private readonly ownerStmt: Database.Statement<[string], { deviceId: string }>;

  constructor(private readonly db: Db) {
    const sqlite = db.$client;
    this.issueStmt = sqlite.prepare(
      'INSERT INTO used_nonces (nonce, device_id, issued_at, expires_at) VALUES (?, ?, ?, ?)',
    );
    this.consumeStmt = sqlite.prepare(
      'UPDATE used_nonces SET used_at = ? WHERE nonce = ? AND device_id = ? AND used_at IS NULL RETURNING expires_at AS expiresAt',
    );
    this.ownerStmt = sqlite.prepare('SELECT device_id AS deviceId FROM used_nonces WHERE nonce = ?');
  }

  /** Records a freshly issued nonce (hex). Issuing the same nonce twice is a bug in the random source. */
  issue(nonceHex: string, deviceId: string, issuedAt: number, expiresAt: number): void {
    this.issueStmt.run(nonceHex, deviceId, issuedAt, expiresAt);
  }

  consume(nonceHex: string, deviceId: string, now: number): NonceOutcome {
    const row = this.consumeStmt.get(now, nonceHex, deviceId);
    if (row !== undefined) {
      // Spent even when late: a late answer must not stay replayable.
      return row.expiresAt >= now ? 'ok' : 'expired';
    }
    const existing = this.ownerStmt.get(nonceHex);
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
