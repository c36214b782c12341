import { bigint, boolean, index, integer, jsonb, pgTable, primaryKey, real, text } from 'drizzle-orm/pg-core';
import { ts } from '../db/columns.js';
import { tenantPolicy } from '../db/tenancy.js';

/** A device as last reported by its gateway. Key: (org, device id). */
export const devices = pgTable(
  'devices',
  {
    orgId: text('org_id').notNull(),
    id: text('id').notNull(),
    siteId: text('site_id').notNull(),
    gatewayId: text('gateway_id').notNull(),
    boardFamily: text('board_family').notNull(),
    firmwareVersion: text('firmware_version'),
    /** Hex measurement of the running firmware (the cohort key). */
    firmwareMeasurement: text('firmware_measurement'),
    certSerial: text('cert_serial'),
    attestationStatus: text('attestation_status').notNull().default('none'),
    quarantined: boolean('quarantined').notNull().default(false),
    riskScore: real('risk_score').notNull().default(0),
    lastSeenAt: ts('last_seen_at'),
    lastAttestedAt: ts('last_attested_at'),
    updatedAt: ts('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.id] }),
    index('devices_org_site').on(t.orgId, t.siteId),
    index('devices_org_measurement').on(t.orgId, t.firmwareMeasurement),
    tenantPolicy('devices', t.orgId),
  ],
);

/** Signed attestation results (EAR JWT kept verbatim with its signature). Unique per (gateway, result id). */
export const attestationResults = pgTable(
  'attestation_results',
  {
    orgId: text('org_id').notNull(),
    gatewayId: text('gateway_id').notNull(),
    jti: text('jti').notNull(),
    siteId: text('site_id').notNull(),
    deviceId: text('device_id').notNull(),
    status: text('status').notNull(),
    reasons: jsonb('reasons').$type<string[]>().notNull(),
    claims: jsonb('claims').notNull(),
    /** The compact JWS as the gateway signed it. */
    jwt: text('jwt').notNull(),
    appraisedAt: ts('appraised_at').notNull(),
    receivedAt: ts('received_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.gatewayId, t.jti] }),
    index('attestation_results_device').on(t.orgId, t.deviceId, t.appraisedAt),
    tenantPolicy('attestation_results', t.orgId),
  ],
);

/** Telemetry rollups per device and period. */
export const telemetryRollups = pgTable(
  'telemetry_rollups',
  {
    orgId: text('org_id').notNull(),
    gatewayId: text('gateway_id').notNull(),
    deviceId: text('device_id').notNull(),
    periodStart: ts('period_start').notNull(),
    periodSeconds: integer('period_seconds').notNull(),
    messages: bigint('messages', { mode: 'number' }).notNull(),
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    rejected: bigint('rejected', { mode: 'number' }).notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.gatewayId, t.deviceId, t.periodStart] }),
    tenantPolicy('telemetry_rollups', t.orgId),
  ],
);
