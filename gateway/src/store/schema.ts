import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * The gateway's SQLite schema. Private to the gateway: other packages see devices, results and alerts only through
 * the contracts in `@palisade/shared`. Times are integers, milliseconds since the epoch; binary values are lower-case
 * hex text so the CLI and the panel can show them as they are.
 * Migrations: `npx drizzle-kit generate` (from `gateway/`), applied by `openStore` at start.
 */

export const ENROLLMENT_STATES = ['pending', 'approved', 'revoked'] as const;
export type EnrollmentState = (typeof ENROLLMENT_STATES)[number];

export const ENROLLMENT_SOURCES = ['manufacturer-root', 'allow-list', 'credentials', 'operator', 'anonymous'] as const;
export type EnrollmentSource = (typeof ENROLLMENT_SOURCES)[number];

export const devices = sqliteTable(
  'devices',
  {
    id: text('id').primaryKey(),
    family: text('family'),
    enrollment: text('enrollment', { enum: ENROLLMENT_STATES }).notNull().default('pending'),
    enrolledVia: text('enrolled_via', { enum: ENROLLMENT_SOURCES }).notNull(),
    quarantined: integer('quarantined', { mode: 'boolean' }).notNull().default(false),
    quarantineReason: text('quarantine_reason'),
    /** `system` when the gateway quarantined on a failed appraisal, else `operator:<name>`. */
    quarantinedBy: text('quarantined_by'),
    quarantinedAt: integer('quarantined_at'),
    certSerial: text('cert_serial'),
    certSubject: text('cert_subject'),
    certNotAfter: integer('cert_not_after'),
    certFingerprint: text('cert_fingerprint'),
    ueid: text('ueid'),
    /** Registered attestation public key (SPKI DER, hex): a PSA device's IAK. [FP-5.3-1] */
    attestationKey: text('attestation_key'),
    firmwareVersion: text('firmware_version'),
    /** The combined firmware measurement last appraised (hex digest over the sorted component digests). */
    measurement: text('measurement'),
    lastBootCount: integer('last_boot_count'),
    bootSeed: text('boot_seed'),
    reboots: integer('reboots').notNull().default(0),
    lastSeen: integer('last_seen'),
    /** Status of the last attestation result (`affirming`, `warning`, `contraindicated`, `none`). */
    lastStatus: text('last_status'),
    lastResultId: text('last_result_id'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('devices_enrollment_idx').on(t.enrollment), index('devices_cert_not_after_idx').on(t.certNotAfter)],
);

export const attestationResults = sqliteTable(
  'attestation_results',
  {
    id: text('id').primaryKey(),
    deviceId: text('device_id')
      .notNull()
      .references(() => devices.id, { onDelete: 'cascade' }),
    status: text('status').notNull(),
    /** JSON array of reason codes. */
    reasons: text('reasons').notNull(),
    /** The signed EAR (ES256 JWT); null when the gateway key was not available. */
    jwt: text('jwt'),
    nonce: text('nonce'),
    /** SHA-256 (hex) of the appraised evidence token, to answer a duplicate evidence message. [FP-7.2-2] */
    evidenceDigest: text('evidence_digest'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    index('attestation_results_device_idx').on(t.deviceId, t.createdAt),
    index('attestation_results_nonce_idx').on(t.deviceId, t.nonce),
  ],
);

/**
 * Every challenge nonce the gateway issued. A nonce is accepted once: consuming sets `used_at` in the same
 * statement that checks it is null, so a replay is refused also after a restart. [FP-4.3-2]
 */
export const usedNonces = sqliteTable(
  'used_nonces',
  {
    nonce: text('nonce').primaryKey(),
    deviceId: text('device_id').notNull(),
    issuedAt: integer('issued_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    usedAt: integer('used_at'),
  },
  (t) => [index('used_nonces_expires_idx').on(t.expiresAt)],
);

export const ALERT_STATES = ['open', 'acknowledged', 'closed'] as const;
export type AlertState = (typeof ALERT_STATES)[number];
export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

export const alerts = sqliteTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    /** At most one open or acknowledged alert per key; a repeat increments `count` instead of adding a row. */
    dedupKey: text('dedup_key').notNull(),
    type: text('type').notNull(),
    severity: text('severity', { enum: ALERT_SEVERITIES }).notNull(),
    deviceId: text('device_id'),
    count: integer('count').notNull().default(1),
    firstSeen: integer('first_seen').notNull(),
    lastSeen: integer('last_seen').notNull(),
    details: text('details').notNull(),
    state: text('state', { enum: ALERT_STATES }).notNull().default('open'),
  },
  (t) => [
    uniqueIndex('alerts_open_dedup_key_idx').on(t.dedupKey).where(sql`${t.state} <> 'closed'`),
    index('alerts_device_idx').on(t.deviceId),
  ],
);

export const telemetryRaw = sqliteTable(
  'telemetry_raw',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    deviceId: text('device_id').notNull(),
    /** Gateway receive time; device clocks are not trusted for retention. */
    ts: integer('ts').notNull(),
    seq: integer('seq').notNull(),
    metric: text('metric').notNull(),
    value: real('value').notNull(),
    /** Payload size of the message, on its first reading's row (0 on the others): summed into sync rollups. */
    bytes: integer('bytes').notNull().default(0),
  },
  // Only the time index: inserts then append at the end of every b-tree (a per-device index costs ~5x ingest
  // rate). Per-device history is read from `telemetry_rollups`, whose key starts with the device.
  (t) => [index('telemetry_raw_ts_idx').on(t.ts)],
);

/** One row (`id = 1`): raw readings with `ts` below `rolledUpTo` are already counted in the minute rollups. */
export const telemetryState = sqliteTable(
  'telemetry_state',
  {
    id: integer('id').primaryKey(),
    rolledUpTo: integer('rolled_up_to').notNull(),
  },
  (t) => [check('telemetry_state_single_row', sql`${t.id} = 1`)],
);

export const ROLLUP_RESOLUTIONS = ['minute', 'hour'] as const;
export type RollupResolution = (typeof ROLLUP_RESOLUTIONS)[number];

export const telemetryRollups = sqliteTable(
  'telemetry_rollups',
  {
    deviceId: text('device_id').notNull(),
    metric: text('metric').notNull(),
    resolution: text('resolution', { enum: ROLLUP_RESOLUTIONS }).notNull(),
    bucketStart: integer('bucket_start').notNull(),
    min: real('min').notNull(),
    max: real('max').notNull(),
    sum: real('sum').notNull(),
    count: integer('count').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.deviceId, t.metric, t.resolution, t.bucketStart] }),
    index('telemetry_rollups_bucket_idx').on(t.resolution, t.bucketStart),
  ],
);

/**
 * Reference values, one row per entry of the `refvals` JSON format (attestation/reference-values.ts), kept whole as
 * JSON so an export gives back exactly what was imported. An import replaces entries with the same key.
 */
export const referenceValues = sqliteTable(
  'reference_values',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    family: text('family').notNull(),
    firmwareVersion: text('firmware_version').notNull(),
    /** PSA implementation id (hex) the entry is pinned to, or '' for any. */
    implementationId: text('implementation_id').notNull().default(''),
    entry: text('entry').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('reference_values_key_idx').on(t.family, t.firmwareVersion, t.implementationId)],
);

/** Per-device credentials for devices that cannot do TLS. Only the scrypt hash is stored, never the secret. */
export const credentials = sqliteTable('credentials', {
  deviceId: text('device_id').primaryKey(),
  /** `scrypt$N$r$p$<salt hex>$<hash hex>` */
  hash: text('hash').notNull(),
  createdAt: integer('created_at').notNull(),
});

export const audit = sqliteTable(
  'audit',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    actor: text('actor').notNull(),
    action: text('action').notNull(),
    deviceId: text('device_id'),
    details: text('details').notNull(),
  },
  (t) => [index('audit_device_idx').on(t.deviceId, t.at)],
);

/**
 * Changes waiting to be synchronised to the cloud. Written in the same transaction as the change itself, so a crash
 * can never lose a change nor send one that was rolled back.
 */
export const outbox = sqliteTable(
  'outbox',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    at: integer('at').notNull(),
    kind: text('kind').notNull(),
    entityId: text('entity_id').notNull(),
    payload: text('payload').notNull(),
    sentAt: integer('sent_at'),
  },
  (t) => [index('outbox_pending_idx').on(t.sentAt, t.id)],
);

export type DeviceRow = typeof devices.$inferSelect;
export type AttestationResultRow = typeof attestationResults.$inferSelect;
export type AlertRow = typeof alerts.$inferSelect;
export type ReferenceValueRow = typeof referenceValues.$inferSelect;
export type AuditRow = typeof audit.$inferSelect;
export type OutboxRow = typeof outbox.$inferSelect;
