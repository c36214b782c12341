import { assertDeviceId, type Clock } from '@palisade/shared';
import { eq } from 'drizzle-orm';
import type { DeviceCredential } from '../broker/broker.js';
import { hashPassword } from '../broker/passwords.js';
import { recordAudit } from '../store/journal.js';
import type { Db } from '../store/open-store.js';
import { credentials } from '../store/schema.js';

/**
 * Per-device secrets for devices that cannot do TLS client authentication, in the `credentials` table. Only the
 * scrypt hash is stored (the broker's `hashPassword` format), never the secret; the broker verifies it.
 */
export class CredentialStore {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async set(deviceId: string, secret: string, actor: string): Promise<void> {
    const id = assertDeviceId(deviceId);
    const hash = await hashPassword(secret);
    const now = this.clock.now();
    this.db.transaction((tx) => {
      tx.insert(credentials)
        .values({ deviceId: id, hash, createdAt: now })
        .onConflictDoUpdate({ target: credentials.deviceId, set: { hash, createdAt: now } })
        .run();
      recordAudit(tx, { at: now, actor, action: 'credential.set', deviceId: id });
    });
  }

  /** The broker's lookup by MQTT username (= device id). */
  lookup(username: string): DeviceCredential | undefined {
    const row = this.db.select().from(credentials).where(eq(credentials.deviceId, username)).get();
    return row === undefined ? undefined : { deviceId: row.deviceId, passwordHash: row.hash };
  }

  remove(deviceId: string, actor: string): boolean {
    const now = this.clock.now();
    return this.db.transaction((tx) => {
      const n = tx.delete(credentials).where(eq(credentials.deviceId, deviceId)).run().changes;
      if (n > 0) recordAudit(tx, { at: now, actor, action: 'credential.remove', deviceId });
      return n > 0;
    });
  }
}
