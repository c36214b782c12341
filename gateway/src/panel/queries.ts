import type { Store } from '../store/open-store.js';
import type { AlertRow, AttestationResultRow, DeviceRow } from '../store/schema.js';

/** Rows per page of every panel list: a page stays small whatever the size of the fleet. */
export const PAGE_SIZE = 50;

export const STATUS_FILTERS = ['affirming', 'warning', 'contraindicated', 'none'] as const;

export interface DeviceFilter {
  q?: string | undefined;
  status?: string | undefined;
  family?: string | undefined;
  enrollment?: string | undefined;
  quarantined?: 'yes' | 'no' | undefined;
}

interface RawDevice {
  id: string;
  family: string | null;
  enrollment: DeviceRow['enrollment'];
  quarantined: number;
  quarantine_reason: string | null;
  quarantined_by: string | null;
  firmware_version: string | null;
  last_seen: number | null;
  last_status: string | null;
  last_result_id: string | null;
  reasons: string | null;
}

export interface DeviceListRow {
  id: string;
  family: string | null;
  enrollment: string;
  quarantined: boolean;
  quarantineReason: string | null;
  quarantinedBy: string | null;
  firmwareVersion: string | null;
  lastSeen: number | null;
  lastStatus: string | null;
  reasons: string[];
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

function whereOf(f: DeviceFilter): { sql: string; args: (string | number)[] } {
  const conds: string[] = [];
  const args: (string | number)[] = [];
  if (f.q) {
    const like = `%${escapeLike(f.q)}%`;
    conds.push(
      `(d.id LIKE ? ESCAPE '\\' OR d.cert_subject LIKE ? ESCAPE '\\' OR d.firmware_version LIKE ? ESCAPE '\\' OR d.cert_serial LIKE ? ESCAPE '\\')`,
    );
    args.push(like, like, like, like);
  }
  if (f.status === 'none') conds.push(`(d.last_status IS NULL OR d.last_status = 'none')`);
  else if (f.status) {
    conds.push('d.last_status = ?');
    args.push(f.status);
  }
  if (f.family) {
    conds.push('d.family = ?');
    args.push(f.family);
  }
  if (f.enrollment) {
    conds.push('d.enrollment = ?');
    args.push(f.enrollment);
  }
  if (f.quarantined) conds.push(`d.quarantined = ${f.quarantined === 'yes' ? 1 : 0}`);
  return { sql: conds.length ? `WHERE ${conds.join(' AND ')}` : '', args };
}

/**
 * One page of devices, ordered by id, with the reasons of each device's last result (a join on the result's
 * primary key, so the page costs `PAGE_SIZE` look-ups, not a scan of the history). The count runs on the same filter.
 */
export function listDevices(store: Store, f: DeviceFilter, pageNo: number): { rows: DeviceListRow[]; total: number } {
  const w = whereOf(f);
  const total = (store.sqlite.prepare(`SELECT COUNT(*) AS n FROM devices d ${w.sql}`).get(...w.args) as { n: number })
    .n;
  const raw = store.sqlite
    .prepare(
      `SELECT d.id, d.family, d.enrollment, d.quarantined, d.quarantine_reason, d.quarantined_by, d.firmware_version, d.last_seen,
              d.last_status, d.last_result_id, r.reasons
       FROM devices d LEFT JOIN attestation_results r ON r.id = d.last_result_id
       ${w.sql} ORDER BY d.id LIMIT ? OFFSET ?`,
    )
    .all(...w.args, PAGE_SIZE, (pageNo - 1) * PAGE_SIZE) as RawDevice[];
  return {
    total,
    rows: raw.map((d) => ({
      id: d.id,
      family: d.family,
      enrollment: d.enrollment,
      quarantined: d.quarantined === 1,
      quarantineReason: d.quarantine_reason,
      quarantinedBy: d.quarantined_by,
      firmwareVersion: d.firmware_version,
      lastSeen: d.last_seen,
      lastStatus: d.last_status,
      reasons: parseReasons(d.reasons),
    })),
  };
}

export function deviceCounts(store: Store): { total: number; failed: number; quarantined: number; pending: number } {
  return store.sqlite
    .prepare(
      `SELECT COUNT(*) AS total,
              COALESCE(SUM(last_status = 'contraindicated'), 0) AS failed,
              COALESCE(SUM(quarantined), 0) AS quarantined,
              COALESCE(SUM(enrollment = 'pending'), 0) AS pending
       FROM devices`,
    )
    .get() as { total: number; failed: number; quarantined: number; pending: number };
}

export function families(store: Store): string[] {
  return (
    store.sqlite
      .prepare('SELECT DISTINCT family FROM devices WHERE family IS NOT NULL ORDER BY family LIMIT 50')
      .all() as {
      family: string;
    }[]
  ).map((r) => r.family);
}

export function parseReasons(json: string | null): string[] {
  if (json === null) return [];
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** The boot counter the device reported, read from the EAR the gateway signed (its `ear_attester_claims`). */
export function bootCountOf(result: Pick<AttestationResultRow, 'jwt'>): number | undefined {
  const payload = result.jwt?.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    return findBootCount(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')), 0);
  } catch {
    return undefined;
  }
}

function findBootCount(v: unknown, depth: number): number | undefined {
  if (depth > 5 || v === null || typeof v !== 'object') return undefined;
  const rec = v as Record<string, unknown>;
  if (typeof rec['bootcount'] === 'number') return rec['bootcount'];
  for (const child of Object.values(rec)) {
    const found = findBootCount(child, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

export interface AlertFilter {
  state?: string | undefined;
  severity?: string | undefined;
  deviceId?: string | undefined;
}

export function listAlerts(store: Store, f: AlertFilter, pageNo: number): { rows: AlertRow[]; total: number } {
  const conds: string[] = [];
  const args: string[] = [];
  if (f.state) {
    conds.push('state = ?');
    args.push(f.state);
  }
  if (f.severity) {
    conds.push('severity = ?');
    args.push(f.severity);
  }
  if (f.deviceId) {
    conds.push('device_id = ?');
    args.push(f.deviceId);
  }
  const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
  const total = (store.sqlite.prepare(`SELECT COUNT(*) AS n FROM alerts ${where}`).get(...args) as { n: number }).n;
  const rows = store.sqlite
    .prepare(
      `SELECT id, dedup_key AS dedupKey, type, severity, device_id AS deviceId, count, first_seen AS firstSeen,
              last_seen AS lastSeen, details, state
       FROM alerts ${where} ORDER BY last_seen DESC, id DESC LIMIT ? OFFSET ?`,
    )
    .all(...args, PAGE_SIZE, (pageNo - 1) * PAGE_SIZE) as AlertRow[];
  return { rows, total };
}

/**
 * A fingerprint of what the panel shows, cheap to compute (indexed max/count look-ups): the live-update stream
 * sends a `change` event when it moves.
 */
export function changeMark(store: Store): string {
  const r = store.sqlite
    .prepare(
      `SELECT (SELECT MAX(updated_at) FROM devices) AS d, (SELECT COUNT(*) FROM devices) AS n,
              (SELECT MAX(last_seen) FROM alerts) AS a, (SELECT MAX(rowid) FROM attestation_results) AS r,
              (SELECT COUNT(*) FROM alerts WHERE state = 'open') AS o`,
    )
    .get() as Record<string, number | null>;
  return `${r['d']}|${r['n']}|${r['a']}|${r['r']}|${r['o']}`;
}

export interface MinutePoint {
  t: number;
  min: number;
  max: number;
  avg: number;
}

/** Metrics a device reported recently (raw readings) or earlier (minute rollups). */
export function deviceMetrics(store: Store, deviceId: string): string[] {
  return (
    store.sqlite
      .prepare(
        `SELECT metric FROM (SELECT DISTINCT metric FROM telemetry_raw WHERE device_id = ?
         UNION SELECT DISTINCT metric FROM telemetry_rollups WHERE device_id = ? AND resolution = 'minute') ORDER BY metric LIMIT 20`,
      )
      .all(deviceId, deviceId) as { metric: string }[]
  ).map((m) => m.metric);
}

/**
 * One metric of one device per minute over `[from, to)`: raw readings are grouped here (retention folds them into
 * minute rollups only after hours), and minutes already folded come from the rollups. Oldest first.
 */
export function minuteSeries(store: Store, deviceId: string, metric: string, from: number, to: number): MinutePoint[] {
  const rows = store.sqlite
    .prepare(
      `SELECT t, MIN(mn) AS min, MAX(mx) AS max, SUM(s) / SUM(n) AS avg FROM (
         SELECT (ts / 60000) * 60000 AS t, MIN(value) AS mn, MAX(value) AS mx, SUM(value) AS s, COUNT(*) AS n
           FROM telemetry_raw WHERE device_id = ? AND metric = ? AND ts >= ? AND ts < ? GROUP BY 1
         UNION ALL
         SELECT bucket_start, min, max, sum, count FROM telemetry_rollups
           WHERE device_id = ? AND metric = ? AND resolution = 'minute' AND bucket_start >= ? AND bucket_start < ?)
       GROUP BY t ORDER BY t LIMIT 2000`,
    )
    .all(deviceId, metric, from, to, deviceId, metric, from, to) as MinutePoint[];
  return rows;
}
