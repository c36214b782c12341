import { index, integer, jsonb, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { ts } from '../db/columns.js';
import { tenantPolicy } from '../db/tenancy.js';
import { organizations } from '../tenancy/schema.js';

/**
 * Alerts from every gateway, one row per distinct alert content. `content_hash` is unique per organisation, so a
 * re-delivered alert never makes a second row; a repeat the gateway counted raises `count` and `last_seen_at`.
 * Times: `occurred_at`/`last_seen_at` are the device's event times as the gateway recorded them; `received_at` is
 * when the cloud first stored the alert (a gateway that syncs late shows a large gap between the two).
 */
export const alerts = pgTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    orgId: text('org_id')
      .notNull()
      .references(() => organizations.id),
    siteId: text('site_id').notNull(),
    gatewayId: text('gateway_id').notNull(),
    /** The gateway's own id for the alert, kept for tracing back to its store. */
    sourceAlertId: text('source_alert_id'),
    deviceId: text('device_id'),
    type: text('type').notNull(),
    severity: text('severity').notNull(),
    title: text('title').notNull(),
    description: text('description').notNull().default(''),
    /** Hex measurement of the firmware the device ran: the firmware cohort. */
    firmwareMeasurement: text('firmware_measurement'),
    techniques: jsonb('techniques').$type<string[]>().notNull().default([]),
    occurredAt: ts('occurred_at').notNull(),
    lastSeenAt: ts('last_seen_at').notNull(),
    receivedAt: ts('received_at').notNull(),
    contentHash: text('content_hash').notNull(),
    count: integer('count').notNull().default(1),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    uniqueIndex('alerts_org_content_hash').on(t.orgId, t.contentHash),
    index('alerts_org_occurred').on(t.orgId, t.occurredAt),
    index('alerts_org_device').on(t.orgId, t.deviceId),
    index('alerts_org_measurement').on(t.orgId, t.firmwareMeasurement),
    tenantPolicy('alerts', t.orgId),
  ],
);

export type AlertRow = typeof alerts.$inferSelect;
