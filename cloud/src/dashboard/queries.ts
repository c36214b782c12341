import {
  and,
  asc,
  count,
  desc,
  eq,
  gte,
  inArray,
  isNull,
  lt,
  max,
  or,
  type SQL,
  type SQLWrapper,
  sql,
} from 'drizzle-orm';
import { alerts } from '../alerts/schema.js';
import { caseAlerts } from '../cases/schema.js';
import type { Tx } from '../db/types.js';
import { gateways } from '../gateways/schema.js';
import { attestationResults, devices } from '../inventory/schema.js';
import { sites } from '../tenancy/schema.js';

/** Rows per page on every dashboard list. */
export const PAGE_SIZE = 50;

export const RANGES = {
  '6h': { ms: 6 * 3600_000, bucketS: 600 },
  '24h': { ms: 86_400_000, bucketS: 3600 },
  '7d': { ms: 7 * 86_400_000, bucketS: 6 * 3600 },
} as const;
export type RangeKey = keyof typeof RANGES;

/** `floor(epoch / bucket) * bucket` in seconds; the bucket is one of the fixed sizes above, inlined so GROUP BY matches. */
function bucketOf(col: SQLWrapper, bucketS: number): SQL<number> {
  return sql<number>`(floor(extract(epoch from ${col}) / ${sql.raw(String(bucketS))}) * ${sql.raw(String(bucketS))})::bigint`;
}

export interface PassRatePoint {
  t: number;
  siteId: string;
  total: number;
  passed: number;
}

/** Attestation results per time bucket and site: how many, how many affirming. */
export async function passRateSeries(tx: Tx, orgId: string, fromMs: number, bucketS: number): Promise<PassRatePoint[]> {
  const b = bucketOf(attestationResults.appraisedAt, bucketS);
  const rows = await tx
    .select({
      t: b,
      siteId: attestationResults.siteId,
      total: count(),
      passed: sql<number>`(count(*) filter (where ${attestationResults.status} = 'affirming'))::int`,
    })
    .from(attestationResults)
    .where(and(eq(attestationResults.orgId, orgId), gte(attestationResults.appraisedAt, new Date(fromMs))))
    .groupBy(sql`1`, attestationResults.siteId)
    .orderBy(sql`1`);
  return rows.map((r) => ({ t: Number(r.t), siteId: r.siteId, total: Number(r.total), passed: Number(r.passed) }));
}

export async function alertSeries(
  tx: Tx,
  orgId: string,
  fromMs: number,
  bucketS: number,
): Promise<{ t: number; severity: string; n: number }[]> {
  const b = bucketOf(alerts.occurredAt, bucketS);
  const rows = await tx
    .select({ t: b, severity: alerts.severity, n: count() })
    .from(alerts)
    .where(and(eq(alerts.orgId, orgId), gte(alerts.occurredAt, new Date(fromMs))))
    .groupBy(sql`1`, alerts.severity)
    .orderBy(sql`1`);
  return rows.map((r) => ({ t: Number(r.t), severity: r.severity, n: Number(r.n) }));
}

export interface SiteSummary {
  id: string;
  name: string;
  devices: number;
  passed: number;
  failed: number;
  quarantined: number;
}

/** Per site: device counts by attestation state (one grouped scan of the org's devices). */
export async function siteSummaries(tx: Tx, orgId: string): Promise<SiteSummary[]> {
  const siteRows = await tx
    .select({ id: sites.id, name: sites.name })
    .from(sites)
    .where(eq(sites.orgId, orgId))
    .orderBy(asc(sites.name))
    .limit(500);
  const agg = await tx
    .select({
      siteId: devices.siteId,
      devices: count(),
      passed: sql<number>`(count(*) filter (where ${devices.attestationStatus} = 'affirming'))::int`,
      failed: sql<number>`(count(*) filter (where ${devices.attestationStatus} = 'contraindicated'))::int`,
      quarantined: sql<number>`(count(*) filter (where ${devices.quarantined}))::int`,
    })
    .from(devices)
    .where(eq(devices.orgId, orgId))
    .groupBy(devices.siteId);
  const by = new Map(agg.map((a) => [a.siteId, a]));
  return siteRows.map((s) => {
    const a = by.get(s.id);
    return {
      id: s.id,
      name: s.name,
      devices: Number(a?.devices ?? 0),
      passed: Number(a?.passed ?? 0),
      failed: Number(a?.failed ?? 0),
      quarantined: Number(a?.quarantined ?? 0),
    };
  });
}

export async function gatewaysOf(tx: Tx, orgId: string) {
  const deviceCounts = await tx
    .select({ gatewayId: devices.gatewayId, n: count() })
    .from(devices)
    .where(eq(devices.orgId, orgId))
    .groupBy(devices.gatewayId);
  const n = new Map(deviceCounts.map((d) => [d.gatewayId, Number(d.n)]));
  const rows = await tx
    .select({
      id: gateways.id,
      siteId: gateways.siteId,
      name: gateways.name,
      lastSeenAt: gateways.lastSeenAt,
      syncLagMs: gateways.syncLagMs,
      clockSkewMs: gateways.clockSkewMs,
      revokedAt: gateways.revokedAt,
    })
    .from(gateways)
    .where(eq(gateways.orgId, orgId))
    .orderBy(asc(gateways.name))
    .limit(1000);
  return rows.map((g) => ({ ...g, devices: n.get(g.id) ?? 0 }));
}

export interface CohortSummary {
  firmwareMeasurement: string;
  boardFamily: string;
  firmwareVersion: string | null;
  devices: number;
  passed: number;
  failed: number;
}

/** Firmware cohorts (devices grouped by running measurement), largest first, with their pass rate. */
export async function cohortSummaries(tx: Tx, orgId: string, limit = 25): Promise<CohortSummary[]> {
  const rows = await tx
    .select({
      firmwareMeasurement: sql<string>`${devices.firmwareMeasurement}`,
      boardFamily: sql<string>`min(${devices.boardFamily})`,
      firmwareVersion: sql<string | null>`max(${devices.firmwareVersion})`,
      devices: count(),
      passed: sql<number>`(count(*) filter (where ${devices.attestationStatus} = 'affirming'))::int`,
      failed: sql<number>`(count(*) filter (where ${devices.attestationStatus} = 'contraindicated'))::int`,
    })
    .from(devices)
    .where(and(eq(devices.orgId, orgId), sql`${devices.firmwareMeasurement} is not null`))
    .groupBy(devices.firmwareMeasurement)
    .orderBy(desc(count()))
    .limit(limit);
  return rows.map((r) => ({ ...r, devices: Number(r.devices), passed: Number(r.passed), failed: Number(r.failed) }));
}

export interface DeviceFilter {
  siteId?: string | undefined;
  gatewayId?: string | undefined;
  status?: string | undefined;
  cohort?: string | undefined;
  q?: string | undefined;
}

/** One page of devices by id (offset paging: the page number is what an analyst shares), and the filtered count. */
export async function devicePage(tx: Tx, orgId: string, f: DeviceFilter, pageNo: number) {
  const where = and(
    eq(devices.orgId, orgId),
    f.siteId ? eq(devices.siteId, f.siteId) : undefined,
    f.gatewayId ? eq(devices.gatewayId, f.gatewayId) : undefined,
    f.status ? eq(devices.attestationStatus, f.status) : undefined,
    f.cohort ? eq(devices.firmwareMeasurement, f.cohort) : undefined,
    f.q ? sql`${devices.id} ilike ${`%${f.q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`}` : undefined,
  );
  const [total] = await tx.select({ n: count() }).from(devices).where(where);
  const rows = await tx
    .select()
    .from(devices)
    .where(where)
    .orderBy(asc(devices.id))
    .limit(PAGE_SIZE)
    .offset((pageNo - 1) * PAGE_SIZE);
  return { rows, total: Number(total?.n ?? 0) };
}

/**
 * The alert stream, newest received first, keyset-paged on (received_at, id) so a page costs the same at any depth;
 * each alert with the case it was correlated into (strategy and score).
 */
export async function alertPage(
  tx: Tx,
  orgId: string,
  f: { severity?: string | undefined; siteId?: string | undefined; deviceId?: string | undefined },
  before: { at: Date; id: string } | undefined,
) {
  return tx
    .select({
      a: alerts,
      caseId: caseAlerts.caseId,
      strategy: caseAlerts.strategy,
      score: caseAlerts.score,
      siteName: sites.name,
      gatewayName: gateways.name,
    })
    .from(alerts)
    .leftJoin(caseAlerts, and(eq(caseAlerts.orgId, alerts.orgId), eq(caseAlerts.alertId, alerts.id)))
    .leftJoin(sites, eq(sites.id, alerts.siteId))
    .leftJoin(gateways, eq(gateways.id, alerts.gatewayId))
    .where(
      and(
        eq(alerts.orgId, orgId),
        f.severity ? eq(alerts.severity, f.severity) : undefined,
        f.siteId ? eq(alerts.siteId, f.siteId) : undefined,
        f.deviceId ? eq(alerts.deviceId, f.deviceId) : undefined,
        before
          ? or(lt(alerts.receivedAt, before.at), and(eq(alerts.receivedAt, before.at), lt(alerts.id, before.id)))
          : undefined,
      ),
    )
    .orderBy(desc(alerts.receivedAt), desc(alerts.id))
    .limit(PAGE_SIZE + 1);
}

export async function caseAlertRows(tx: Tx, orgId: string, caseId: string) {
  return tx
    .select({ a: alerts, strategy: caseAlerts.strategy, score: caseAlerts.score, linkedAt: caseAlerts.linkedAt })
    .from(caseAlerts)
    .innerJoin(alerts, and(eq(alerts.orgId, caseAlerts.orgId), eq(alerts.id, caseAlerts.alertId)))
    .where(and(eq(caseAlerts.orgId, orgId), eq(caseAlerts.caseId, caseId)))
    .orderBy(desc(alerts.occurredAt))
    .limit(200);
}

export async function devicesByIds(tx: Tx, orgId: string, ids: string[]) {
  if (ids.length === 0) return [];
  return tx
    .select()
    .from(devices)
    .where(and(eq(devices.orgId, orgId), inArray(devices.id, ids.slice(0, 200))))
    .orderBy(asc(devices.id));
}

export async function fleetTotals(tx: Tx, orgId: string) {
  const [d] = await tx
    .select({
      devices: count(),
      failed: sql<number>`(count(*) filter (where ${devices.attestationStatus} = 'contraindicated'))::int`,
      quarantined: sql<number>`(count(*) filter (where ${devices.quarantined}))::int`,
      lastSeen: max(devices.lastSeenAt),
    })
    .from(devices)
    .where(eq(devices.orgId, orgId));
  const [g] = await tx
    .select({ n: count() })
    .from(gateways)
    .where(and(eq(gateways.orgId, orgId), isNull(gateways.revokedAt)));
  return {
    devices: Number(d?.devices ?? 0),
    failed: Number(d?.failed ?? 0),
    quarantined: Number(d?.quarantined ?? 0),
    gateways: Number(g?.n ?? 0),
  };
}
