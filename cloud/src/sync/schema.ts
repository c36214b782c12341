import { integer, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';
import { ts } from '../db/columns.js';
import { tenantPolicy } from '../db/tenancy.js';

/** One row per accepted batch: the idempotency key (gateway, seq). A re-sent batch finds its row and is re-acked. */
export const syncBatches = pgTable(
  'sync_batches',
  {
    orgId: text('org_id').notNull(),
    gatewayId: text('gateway_id').notNull(),
    seq: integer('seq').notNull(),
    /** sha256 of the canonical batch body; a different body under a used seq is a conflict. */
    bodyHash: text('body_hash').notNull(),
    counts: jsonb('counts').$type<Record<string, number>>().notNull(),
    receivedAt: ts('received_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.gatewayId, t.seq] }), tenantPolicy('sync_batches', t.orgId)],
);

/** Raw alerts as received, kept until the alerts domain ingests them (and as the signed-record trail). */
export const rawAlerts = pgTable(
  'raw_alerts',
  {
    orgId: text('org_id').notNull(),
    gatewayId: text('gateway_id').notNull(),
    alertId: text('alert_id').notNull(),
    seq: integer('seq').notNull(),
    body: jsonb('body').notNull(),
    receivedAt: ts('received_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.gatewayId, t.alertId] }), tenantPolicy('raw_alerts', t.orgId)],
);
