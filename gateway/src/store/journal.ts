import type { Db } from './open-store.js';
import { audit, outbox } from './schema.js';

/** A drizzle transaction handle; journal writes take it so they commit or roll back with the change they record. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type DbOrTx = Db | Tx;

export interface AuditEntry {
  at: number;
  /** `operator:<name>`, `system`, `cli:<user>`. */
  actor: string;
  action: string;
  deviceId?: string | null;
  details?: Record<string, unknown>;
}

export function recordAudit(tx: DbOrTx, e: AuditEntry): void {
  tx.insert(audit)
    .values({
      at: e.at,
      actor: e.actor,
      action: e.action,
      deviceId: e.deviceId ?? null,
      details: JSON.stringify(e.details ?? {}),
    })
    .run();
}

/** Kinds of change the cloud sync will carry (see the sync contracts in `@palisade/shared`). */
export type OutboxKind = 'device' | 'attestation_result' | 'alert' | 'audit';

export interface OutboxEntry {
  at: number;
  kind: OutboxKind;
  entityId: string;
  payload: Record<string, unknown>;
}

export function recordOutbox(tx: DbOrTx, e: OutboxEntry): void {
  tx.insert(outbox)
    .values({ at: e.at, kind: e.kind, entityId: e.entityId, payload: JSON.stringify(e.payload) })
    .run();
}
