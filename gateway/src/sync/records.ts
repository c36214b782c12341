import {
  BOARD_FAMILIES,
  type AlertSeverity as CloudSeverity,
  type SyncRecord,
  type SyncTelemetryRollup,
  syncTelemetryRollupSchema,
} from '@palisade/shared';
import type { DbOrTx } from '../store/journal.js';
import { outbox } from '../store/schema.js';

/**
 * Maps outbox rows (snapshots of the gateway's own rows, written by the registry, the alert store and the telemetry
 * roll-up) to the records of the sync contract (`@palisade/shared` sync.ts). A row the contract cannot carry is
 * reported as `skip` with the reason, never sent half-filled: a device not yet attested has no board family, a result
 * whose gateway key was missing has no signature the cloud could verify, and `audit` rows stay local.
 */

/** Outbox kind of telemetry rollups: the payload is a {@link SyncTelemetryRollup} as is. */
export const TELEMETRY_ROLLUP_KIND = 'telemetry_rollup';

export type MapOutcome = { record: SyncRecord } | { skip: string };

export interface OutboxRowLike {
  id: number;
  at: number;
  kind: string;
  entityId: string;
  payload: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const FAMILIES: ReadonlySet<string> = new Set(BOARD_FAMILIES);
const SEVERITY: Record<string, CloudSeverity> = { info: 'info', warning: 'medium', critical: 'critical' };
const RISK: Record<string, number> = { affirming: 0, pending: 20, none: 40, warning: 60, contraindicated: 90 };

function hexOrUndefined(v: unknown, max: number): string | undefined {
  if (typeof v !== 'string') return undefined;
  const h = v.toLowerCase().replace(/[^0-9a-f]/g, '');
  return h.length > 0 && h.length <= max && h.length % 2 === 0 ? h : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function mapOutboxRow(row: OutboxRowLike): MapOutcome {
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(row.payload) as Record<string, unknown>;
  } catch {
    return { skip: 'payload is not JSON' };
  }
  const receivedAt = iso(row.at);
  switch (row.kind) {
    case 'device': {
      const family = str(p.family);
      if (family === undefined || !FAMILIES.has(family)) return { skip: 'device has no known board family yet' };
      const status = str(p.lastStatus) ?? 'pending';
      const quarantined = p.quarantined === true || p.quarantined === 1;
      const lastSeen = num(p.lastSeen);
      const updatedAt = num(p.updatedAt) ?? row.at;
      const version = str(p.firmwareVersion);
      const measurement = hexOrUndefined(p.measurement, 128);
      const serial = hexOrUndefined(p.certSerial, 64);
      return {
        record: {
          kind: 'device',
          id: row.entityId,
          occurredAt: iso(updatedAt),
          receivedAt,
          data: {
            boardFamily: family as (typeof BOARD_FAMILIES)[number],
            attestationStatus: (status in RISK ? status : 'none') as 'pending',
            quarantined,
            riskScore: Math.min(100, (RISK[status] ?? 40) + (quarantined ? 10 : 0)),
            ...(version === undefined ? {} : { firmwareVersion: version.slice(0, 64) }),
            ...(measurement === undefined ? {} : { firmwareMeasurement: measurement }),
            ...(serial === undefined ? {} : { certSerial: serial }),
            ...(lastSeen === undefined ? {} : { lastSeenAt: iso(lastSeen) }),
          },
        },
      };
    }
    case 'attestation_result': {
      const jwt = str(p.jwt);
      if (jwt === undefined) return { skip: 'attestation result has no signed EAR' };
      return {
        record: {
          kind: 'attestation_result',
          id: row.entityId,
          occurredAt: iso(num(p.createdAt) ?? row.at),
          receivedAt,
          data: { jwt },
        },
      };
    }
    case 'alert': {
      const type = str(p.type) ?? 'unknown';
      const deviceId = str(p.deviceId);
      let details: Record<string, unknown> | undefined;
      try {
        const d = typeof p.details === 'string' ? (JSON.parse(p.details) as unknown) : p.details;
        if (d !== null && typeof d === 'object' && !Array.isArray(d)) details = d as Record<string, unknown>;
      } catch {
        details = undefined;
      }
      const firstSeen = num(p.firstSeen) ?? row.at;
      const lastSeen = num(p.lastSeen);
      const count = num(p.count);
      return {
        record: {
          kind: 'alert',
          id: row.entityId,
          occurredAt: iso(firstSeen),
          receivedAt,
          data: {
            type,
            severity: SEVERITY[str(p.severity) ?? ''] ?? 'medium',
            title: deviceId === undefined ? type.replaceAll('_', ' ') : `${type.replaceAll('_', ' ')} on ${deviceId}`,
            ...(deviceId === undefined ? {} : { deviceId }),
            ...(count === undefined ? {} : { count: Math.max(1, Math.trunc(count)) }),
            ...(lastSeen === undefined ? {} : { lastSeenAt: iso(lastSeen) }),
            ...(details === undefined ? {} : { details }),
          },
        },
      };
    }
    case TELEMETRY_ROLLUP_KIND: {
      const parsed = syncTelemetryRollupSchema.safeParse(p);
      if (!parsed.success) return { skip: 'telemetry rollup does not match the contract' };
      return {
        record: {
          kind: 'telemetry_rollup',
          id: row.entityId,
          occurredAt: parsed.data.periodStart,
          receivedAt,
          data: parsed.data,
        },
      };
    }
    default:
      return { skip: `outbox kind ${row.kind} is not synchronised` };
  }
}

/**
 * Queues a closed telemetry period for the cloud, in the caller's transaction (the one that stores the rollup),
 * like every other outbox write. The id is `<deviceId>@<periodStart>`, so a re-sent period replaces itself.
 */
export function recordTelemetryRollup(tx: DbOrTx, rollup: SyncTelemetryRollup, at: number): void {
  const data = syncTelemetryRollupSchema.parse(rollup);
  tx.insert(outbox)
    .values({
      at,
      kind: TELEMETRY_ROLLUP_KIND,
      entityId: `${data.deviceId}@${data.periodStart}`,
      payload: JSON.stringify(data),
    })
    .run();
}
