import { z } from 'zod';
import { DEVICE_ID_PATTERN } from '../ids.js';
import { gatewayCommandSchema } from './commands.js';

/**
 * Gateway → cloud sync: the gateway sends what it learned in numbered batches to `POST /api/v1/sync/batches`
 * (JSON or `application/cbor`, signed per request-signing.ts). The cloud stores a batch in one transaction and
 * answers `{ackedSequence}`; a batch re-sent under the same `(gatewayId, sequence)` is acknowledged again and stored
 * once, so the gateway may retry freely until it sees the ack. A different body under an acknowledged sequence is a
 * conflict (409). Times are ISO 8601 strings: `occurredAt` is when the event happened on the device (event time, what
 * correlation uses), `receivedAt` when the gateway received it (their difference plus the upload delay is sync lag).
 */

export const SYNC_RECORD_KINDS = ['device', 'attestation_result', 'alert', 'telemetry_rollup'] as const;
export type SyncRecordKind = (typeof SYNC_RECORD_KINDS)[number];

/** Limits the cloud enforces (413 beyond the byte limit, 400 beyond the record limit). */
export const SYNC_MAX_BODY_BYTES = 4 * 1024 * 1024;
export const SYNC_MAX_RECORDS = 5000;

const isoTime = z.iso.datetime({ offset: true });
const deviceId = z.string().regex(DEVICE_ID_PATTERN);
const hex = (max: number) =>
  z
    .string()
    .regex(/^[0-9a-f]*$/)
    .max(max);

export const BOARD_FAMILIES = ['stm32', 'nrf52', 'esp32'] as const;
export const DEVICE_ATTESTATION_STATUSES = ['affirming', 'warning', 'contraindicated', 'none', 'pending'] as const;

/** A device as its gateway currently knows it; `id` is the device id. */
export const syncDeviceSchema = z.object({
  boardFamily: z.enum(BOARD_FAMILIES),
  firmwareVersion: z.string().max(64).optional(),
  /** Hex digest of the running firmware image: the firmware cohort key. */
  firmwareMeasurement: hex(128).optional(),
  /** Serial of the device certificate, hex. */
  certSerial: hex(64).optional(),
  attestationStatus: z.enum(DEVICE_ATTESTATION_STATUSES),
  quarantined: z.boolean().default(false),
  /** 0 (no known risk) … 100. */
  riskScore: z.number().min(0).max(100).default(0),
  lastSeenAt: isoTime.optional(),
});
export type SyncDevice = z.infer<typeof syncDeviceSchema>;

/** A signed attestation result; `id` is the result id (the JWT's `jti`). */
export const syncAttestationResultSchema = z.object({
  /** Compact ES256 JWS of the EAR claims (ear.ts), signed with the gateway's enrolled key. */
  jwt: z
    .string()
    .min(20)
    .max(16 * 1024)
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/),
});
export type SyncAttestationResult = z.infer<typeof syncAttestationResultSchema>;

export const ALERT_SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/**
 * An alert raised by a gateway; `id` is the gateway's alert id, `occurredAt` the device event time of its first
 * occurrence. The cloud de-duplicates by content and correlates alerts into cases.
 */
export const syncAlertSchema = z.object({
  /** Machine-readable kind (`attestation.firmware_mismatch`, `broker.auth_flood`). */
  type: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/),
  severity: z.enum(ALERT_SEVERITIES),
  title: z.string().min(1).max(500),
  description: z.string().max(10_000).optional(),
  deviceId: deviceId.optional(),
  firmwareMeasurement: z
    .string()
    .regex(/^[0-9a-fA-F]{32,128}$/)
    .optional(),
  /** MITRE ATT&CK for ICS technique ids (`T0839`). */
  techniques: z.array(z.string().max(16)).max(32).optional(),
  /** How many times the gateway saw it (repeats raise the count), and when last (device event time). */
  count: z.int().min(1).max(2_147_483_647).optional(),
  lastSeenAt: isoTime.optional(),
  /** Free-form context (bounded by the batch size limit). */
  details: z.record(z.string(), z.unknown()).optional(),
});
export type SyncAlert = z.infer<typeof syncAlertSchema>;

/** Per-device counters over one period; `id` is `<deviceId>@<periodStart>` or any id unique per gateway. */
export const syncTelemetryRollupSchema = z.object({
  deviceId,
  periodStart: isoTime,
  periodSeconds: z.int().min(1).max(86_400),
  messages: z.int().min(0),
  bytes: z.int().min(0),
  rejected: z.int().min(0).default(0),
});
export type SyncTelemetryRollup = z.infer<typeof syncTelemetryRollupSchema>;

const recordBase = {
  id: z.string().min(1).max(128),
  occurredAt: isoTime,
  receivedAt: isoTime,
};

export const syncRecordSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('device'), ...recordBase, id: deviceId, data: syncDeviceSchema }),
  z.object({ kind: z.literal('attestation_result'), ...recordBase, data: syncAttestationResultSchema }),
  z.object({ kind: z.literal('alert'), ...recordBase, data: syncAlertSchema }),
  z.object({ kind: z.literal('telemetry_rollup'), ...recordBase, data: syncTelemetryRollupSchema }),
]);
export type SyncRecord = z.infer<typeof syncRecordSchema>;
export type SyncRecordOf<K extends SyncRecordKind> = Extract<SyncRecord, { kind: K }>;

export const syncBatchSchema = z.object({
  gatewayId: z.string().min(1).max(64),
  /** Positive, per gateway; each batch has its own. */
  sequence: z.int().min(1).max(2_147_483_647),
  sentAt: isoTime,
  records: z.array(syncRecordSchema).max(SYNC_MAX_RECORDS),
});
export type SyncBatch = z.infer<typeof syncBatchSchema>;

export const syncAckSchema = z.object({
  ackedSequence: z.int(),
  /** True when this sequence had been stored before (a re-sent batch). */
  duplicate: z.boolean(),
  /** Commands waiting for this gateway (commands.ts), delivered with the ack so no extra round trip is needed. */
  commands: z.array(gatewayCommandSchema).optional(),
});
export type SyncAck = z.infer<typeof syncAckSchema>;
