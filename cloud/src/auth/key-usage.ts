import type { Clock, Logger } from '@palisade/shared';
import { and, eq, isNull, lt, or } from 'drizzle-orm';
import type { CloudDatabase } from '../db/types.js';
import { apiKeys } from '../tenancy/schema.js';

/** `lastUsedAt` is kept to this precision: it answers "is this key still in use?", not "when exactly". */
export const KEY_USAGE_RESOLUTION_MS = 60_000;

/**
 * Records when each API key last authenticated a request, so an admin can tell a forgotten key from a live one
 * before revoking it. A busy automation key authenticates many requests a second: a write for each would turn
 * every read into a write, so a key is written at most once per {@link KEY_USAGE_RESOLUTION_MS} by this process
 * (remembered here, so a burst of concurrent requests does not all write) and not at all while the stored value
 * is that recent (so several cloud instances do not each write it).
 *
 * The write is bookkeeping: when it fails the request still goes ahead, and the key is not retried before the next
 * interval, so a failing database is not hit once more per request.
 */
export class ApiKeyUsage {
  /** Key id → when this process last wrote (or tried to write) it. Holds only keys that authenticated. */
  private readonly written = new Map<string, number>();

  constructor(
    private readonly database: CloudDatabase,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async used(key: { id: string; orgId: string; lastUsedAt: Date | null }): Promise<void> {
    const now = this.clock.now();
    const stored = key.lastUsedAt?.getTime();
    if (stored !== undefined && now - stored < KEY_USAGE_RESOLUTION_MS) return;
    const last = this.written.get(key.id);
    if (last !== undefined && now - last < KEY_USAGE_RESOLUTION_MS) return;
    this.written.set(key.id, now);
    const at = new Date(now);
    try {
      // As the key's tenant, like every other write of tenant data; never moves the value backwards (another
      // instance with a later clock may have written meanwhile).
      await this.database.withTenant(key.orgId, (tx) =>
        tx
          .update(apiKeys)
          .set({ lastUsedAt: at })
          .where(
            and(
              eq(apiKeys.orgId, key.orgId),
              eq(apiKeys.id, key.id),
              or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, at)),
            ),
          ),
      );
    } catch (e) {
      this.logger.warn({ apiKeyId: key.id, err: (e as Error).message }, 'could not record API key use');
    }
  }
}
