import { createHash } from 'node:crypto';
import type { Clock } from '@palisade/shared';
import { ConflictError, EAR_SUBMOD, type SyncBatch, type SyncRecordOf } from '@palisade/shared';
import { and, eq, sql } from 'drizzle-orm';
import { ingestAlerts } from '../alerts/ingest.js';
import type { Tx } from '../db/types.js';
import { gateways } from '../gateways/schema.js';
import { attestationResults, devices, telemetryRollups } from '../inventory/schema.js';
import type { VerifiedResult } from './decode.js';
import { rawAlerts, syncBatches } from './schema.js';

/** Rows per multi-row INSERT: well under PostgreSQL's 65 535 bind parameters for the widest table. */
const CHUNK = 1000;

export interface BatchContext {
  orgId: string;
  siteId: string;
  gatewayId: string;
  now: number;
  clock: Clock;
}

export interface StoredBatch {
  ackedSequence: number;
  duplicate: boolean;
  counts: Record<string, number>;
}

/** Hash of the batch content (as decoded): the same batch re-sent as JSON or as CBOR is the same batch. */
export function batchHash(batch: SyncBatch): string {
  return createHash('sha256').update(JSON.stringify(batch)).digest('hex');
}

function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += CHUNK) out.push(rows.slice(i, i + CHUNK));
  return out;
}

/** The last record per key wins (by event time): a multi-row upsert may not touch a row twice. */
function latestBy<T extends { occurredAt: string }>(records: T[], key: (r: T) => string): T[] {
  const m = new Map<string, T>();
  for (const r of records) {
    const k = key(r);
    const prev = m.get(k);
    if (!prev || Date.parse(prev.occurredAt) <= Date.parse(r.occurredAt)) m.set(k, r);
  }
  return [...m.values()];
}

function ofKind<K extends SyncBatch['records'][number]['kind']>(batch: SyncBatch, kind: K): SyncRecordOf<K>[] {
  return batch.records.filter((r): r is SyncRecordOf<K> => r.kind === kind);
}

/**
 * Stores one batch inside the caller's tenant transaction: all of it or none of it. Idempotent per (gateway,
 * sequence): the batch row is inserted first; if it already exists with the same content the batch is acknowledged
 * again without touching anything, with other content it is a conflict (the gateway reused a sequence number).
 * Everything written carries the gateway's org and site from its certificate, never from the batch, so a gateway
 * writes only its own site's data; a device row that belongs to another site is left alone.
 */
export async function storeBatch(
  tx: Tx,
  ctx: BatchContext,
  batch: SyncBatch,
  results: Map<string, VerifiedResult>,
): Promise<StoredBatch> {
  const hash = batchHash(batch);
  const counts: Record<string, number> = { device: 0, attestation_result: 0, alert: 0, telemetry_rollup: 0 };
  for (const r of batch.records) counts[r.kind] = (counts[r.kind] ?? 0) + 1;
  const now = new Date(ctx.now);

  const inserted = await tx
    .insert(syncBatches)
    .values({
      orgId: ctx.orgId,
      gatewayId: ctx.gatewayId,
      seq: batch.sequence,
      bodyHash: hash,
      counts,
      receivedAt: now,
    })
    .onConflictDoNothing()
    .returning({ seq: syncBatches.seq });
  if (inserted.length === 0) {
    const [prev] = await tx
      .select({ bodyHash: syncBatches.bodyHash, counts: syncBatches.counts })
      .from(syncBatches)
      .where(and(eq(syncBatches.gatewayId, ctx.gatewayId), eq(syncBatches.seq, batch.sequence)));
    if (prev?.bodyHash !== hash) {
      throw new ConflictError('conflict.sync_sequence_reused', 'this sequence was acknowledged with other content', {
        details: { sequence: batch.sequence },
      });
    }
    return { ackedSequence: batch.sequence, duplicate: true, counts: prev.counts };
  }

  const deviceRows: DeviceRow[] = latestBy(ofKind(batch, 'device'), (r) => r.id).map((r) => ({
    org_id: ctx.orgId,
    id: r.id,
    site_id: ctx.siteId,
    gateway_id: ctx.gatewayId,
    board_family: r.data.boardFamily,
    firmware_version: r.data.firmwareVersion ?? null,
    firmware_measurement: r.data.firmwareMeasurement ?? null,
    cert_serial: r.data.certSerial ?? null,
    attestation_status: r.data.attestationStatus,
    quarantined: r.data.quarantined,
    risk_score: r.data.riskScore,
    last_seen_at: r.data.lastSeenAt ?? r.occurredAt,
    updated_at: r.occurredAt,
  }));
  if (deviceRows.length > 0) await upsertDevices(tx, deviceRows);

  const resultRows = ofKind(batch, 'attestation_result').map((r) => {
    const v = results.get(r.id);
    if (!v) throw new Error(`attestation result ${r.id} was not verified`);
    const appraisal = v.claims.submods[EAR_SUBMOD];
    return {
      orgId: ctx.orgId,
      gatewayId: ctx.gatewayId,
      jti: r.id,
      siteId: ctx.siteId,
      deviceId: v.claims.sub,
      status: v.claims.ear_status,
      reasons: appraisal.ear_verifier_claims.reasons,
      claims: v.claims,
      jwt: v.jwt,
      appraisedAt: new Date(v.claims.iat * 1000),
      receivedAt: now,
    };
  });
  for (const rows of chunks(resultRows)) await tx.insert(attestationResults).values(rows).onConflictDoNothing();
  if (resultRows.length > 0) await markAttested(tx, ctx, resultRows);

  const rollups = latestBy(ofKind(batch, 'telemetry_rollup'), (r) => `${r.data.deviceId}@${r.data.periodStart}`).map(
    (r) => ({
      orgId: ctx.orgId,
      gatewayId: ctx.gatewayId,
      deviceId: r.data.deviceId,
      periodStart: new Date(r.data.periodStart),
      periodSeconds: r.data.periodSeconds,
      messages: r.data.messages,
      bytes: r.data.bytes,
      rejected: r.data.rejected,
    }),
  );
  for (const rows of chunks(rollups)) {
    await tx
      .insert(telemetryRollups)
      .values(rows)
      .onConflictDoUpdate({
        target: [telemetryRollups.gatewayId, telemetryRollups.deviceId, telemetryRollups.periodStart],
        set: {
          periodSeconds: sql`excluded.period_seconds`,
          messages: sql`excluded.messages`,
          bytes: sql`excluded.bytes`,
          rejected: sql`excluded.rejected`,
        },
      });
  }

  const alertRecords = ofKind(batch, 'alert');
  if (alertRecords.length > 0) {
    // The alert as received stays as the trail of what the gateway said; the alerts domain de-duplicates and
    // correlates it into cases in this same transaction.
    for (const rows of chunks(alertRecords)) {
      await tx
        .insert(rawAlerts)
        .values(
          rows.map((r) => ({
            orgId: ctx.orgId,
            gatewayId: ctx.gatewayId,
            alertId: r.id,
            seq: batch.sequence,
            body: r,
            receivedAt: now,
          })),
        )
        .onConflictDoNothing();
    }
    await ingestAlerts(
      tx,
      ctx.orgId,
      ctx.siteId,
      ctx.gatewayId,
      alertRecords.map((r) => ({
        sourceAlertId: r.id,
        type: r.data.type,
        severity: r.data.severity,
        title: r.data.title,
        occurredAt: r.occurredAt,
        ...(r.data.deviceId === undefined ? {} : { deviceId: r.data.deviceId }),
        ...(r.data.description === undefined ? {} : { description: r.data.description }),
        ...(r.data.firmwareMeasurement === undefined ? {} : { firmwareMeasurement: r.data.firmwareMeasurement }),
        ...(r.data.techniques === undefined ? {} : { techniques: r.data.techniques }),
        ...(r.data.count === undefined ? {} : { count: r.data.count }),
        ...(r.data.lastSeenAt === undefined ? {} : { lastSeenAt: r.data.lastSeenAt }),
        ...(r.data.details === undefined ? {} : { details: r.data.details }),
      })),
      { clock: ctx.clock },
    );
  }

  // Sync lag: how long the oldest record of this batch waited at the gateway before the cloud had it.
  const oldest = batch.records.reduce((m, r) => Math.min(m, Date.parse(r.receivedAt)), Number.POSITIVE_INFINITY);
  await tx
    .update(gateways)
    .set({
      lastSeenAt: now,
      ackedSeq: sql`greatest(${gateways.ackedSeq}, ${batch.sequence})`,
      ...(Number.isFinite(oldest) ? { syncLagMs: clampInt(ctx.now - oldest) } : {}),
      clockSkewMs: clampInt(ctx.now - Date.parse(batch.sentAt)),
    })
    .where(eq(gateways.id, ctx.gatewayId));

  return { ackedSequence: batch.sequence, duplicate: false, counts };
}

/** A `devices` row as the bulk upsert's JSON carries it (column names as in the table). */
interface DeviceRow {
  org_id: string;
  id: string;
  site_id: string;
  gateway_id: string;
  board_family: string;
  firmware_version: string | null;
  firmware_measurement: string | null;
  cert_serial: string | null;
  attestation_status: string;
  quarantined: boolean;
  risk_score: number;
  last_seen_at: string;
  updated_at: string;
}

/**
 * Upserts a batch's devices in one statement with one parameter: the rows as a JSON array expanded by
 * `jsonb_to_recordset`. Building thousands of bind parameters costs more than the insert itself (the ingest
 * benchmark showed query building as the top cost); one JSON document does not. On conflict a row is updated only
 * when it belongs to this site and the record is not older than what is stored: a late batch never rolls a device
 * back, and a gateway never takes over another site's device.
 */
async function upsertDevices(tx: Tx, rows: DeviceRow[]): Promise<void> {
  await tx.execute(sql`
    insert into ${devices} (org_id, id, site_id, gateway_id, board_family, firmware_version, firmware_measurement,
      cert_serial, attestation_status, quarantined, risk_score, last_seen_at, updated_at)
    select org_id, id, site_id, gateway_id, board_family, firmware_version, firmware_measurement,
      cert_serial, attestation_status, quarantined, risk_score, last_seen_at, updated_at
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(org_id text, id text, site_id text, gateway_id text,
      board_family text, firmware_version text, firmware_measurement text, cert_serial text, attestation_status text,
      quarantined boolean, risk_score real, last_seen_at timestamptz, updated_at timestamptz)
    on conflict (org_id, id) do update set
      gateway_id = excluded.gateway_id,
      board_family = excluded.board_family,
      firmware_version = excluded.firmware_version,
      firmware_measurement = excluded.firmware_measurement,
      cert_serial = excluded.cert_serial,
      attestation_status = excluded.attestation_status,
      quarantined = excluded.quarantined,
      risk_score = excluded.risk_score,
      last_seen_at = greatest(devices.last_seen_at, excluded.last_seen_at),
      updated_at = excluded.updated_at
    where devices.site_id = excluded.site_id and devices.updated_at <= excluded.updated_at`);
}

/**
 * Moves each appraised device's `last_attested_at` forward to its newest result in the batch (never back, and only
 * for this site's devices). The device's attestation status itself comes from its device records.
 */
async function markAttested(
  tx: Tx,
  ctx: BatchContext,
  results: { deviceId: string; appraisedAt: Date }[],
): Promise<void> {
  const latest = new Map<string, number>();
  for (const r of results) latest.set(r.deviceId, Math.max(latest.get(r.deviceId) ?? 0, r.appraisedAt.getTime()));
  const rows = [...latest].map(([id, at]) => ({ id, at: new Date(at).toISOString() }));
  await tx.execute(sql`
    update ${devices} set last_attested_at = greatest(devices.last_attested_at, r.at)
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(id text, at timestamptz)
    where devices.org_id = ${ctx.orgId} and devices.site_id = ${ctx.siteId} and devices.id = r.id`);
}

/** The lag columns are int4: a gateway offline for weeks must not make its batch fail on an overflow. */
function clampInt(ms: number): number {
  return Math.max(-2_147_483_647, Math.min(2_147_483_647, Math.round(ms)));
}
