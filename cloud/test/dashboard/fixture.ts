import { ManualClock } from '@palisade/shared';
import { Hono } from 'hono';
import { ingestAlerts } from '../../src/alerts/ingest.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { cases } from '../../src/cases/schema.js';
import { registerDashboard } from '../../src/dashboard/index.js';
import type { CloudDatabase } from '../../src/db/types.js';
import { gateways } from '../../src/gateways/schema.js';
import { attestationResults, devices } from '../../src/inventory/schema.js';
import { organizations, sites, users } from '../../src/tenancy/schema.js';

export const PASSWORD = 'correct horse battery staple';
export const USERS = {
  admin: 'admin@acme.test',
  analyst: 'ana@acme.test',
  viewer: 'vic@acme.test',
} as const;
export const ORG = 'org_acme';
export const OTHER_ORG = 'org_other';
export const TAMPERED = 'esp32-meter-02';
export const COHORT = 'ab'.repeat(32);

export interface DashWorld {
  app: Hono;
  database: CloudDatabase;
  clock: ManualClock;
}

/**
 * A cloud organisation as the dashboard sees it after some days of syncing: two sites with a gateway each, devices
 * of the three families, attestation results over the last day, and alerts ingested through the real ingest path
 * (so correlation has made the cases). A second organisation holds a device the first must never see.
 */
export async function dashWorld(
  database: CloudDatabase,
  clock = new ManualClock(Date.UTC(2026, 10, 25, 12)),
): Promise<DashWorld> {
  const { db } = database;
  const now = clock.now();
  await db.insert(organizations).values([
    { id: ORG, name: 'Acme Water' },
    { id: OTHER_ORG, name: 'Other Org' },
  ]);
  await db.insert(sites).values([
    { id: 'site_north', orgId: ORG, name: 'Plant North' },
    { id: 'site_south', orgId: ORG, name: 'Plant South' },
    { id: 'site_other', orgId: OTHER_ORG, name: 'Elsewhere' },
  ]);
  const gw = (id: string, orgId: string, siteId: string, lagMs: number) => ({
    id,
    orgId,
    siteId,
    name: id,
    certPem: 'test-only',
    certSerial: `serial-${id}`,
    publicKeySpki: 'test-only',
    lastSeenAt: new Date(now - 20_000),
    syncLagMs: lagMs,
  });
  await db
    .insert(gateways)
    .values([
      gw('gw-north-1', ORG, 'site_north', 1800),
      gw('gw-south-1', ORG, 'site_south', 45_000),
      gw('gw-other', OTHER_ORG, 'site_other', 0),
    ]);
  const hash = await hashPassword(PASSWORD, 10);
  await db.insert(users).values([
    { id: 'usr_admin', orgId: ORG, email: USERS.admin, role: 'admin', passwordHash: hash },
    { id: 'usr_analyst', orgId: ORG, email: USERS.analyst, role: 'analyst', passwordHash: hash },
    { id: 'usr_viewer', orgId: ORG, email: USERS.viewer, role: 'viewer', passwordHash: hash },
  ]);
  const fleet: [string, string, string, string, string][] = [
    ['stm32-pump-01', 'stm32', '1.4.2', 'site_north', 'gw-north-1'],
    ['stm32-pump-02', 'stm32', '1.4.2', 'site_north', 'gw-north-1'],
    ['nrf52-valve-01', 'nrf52', '2.0.1', 'site_north', 'gw-north-1'],
    ['esp32-meter-01', 'esp32', '3.1.0', 'site_south', 'gw-south-1'],
    [TAMPERED, 'esp32', '3.1.0', 'site_south', 'gw-south-1'],
    ['nrf52-valve-02', 'nrf52', '2.0.1', 'site_south', 'gw-south-1'],
  ];
  await db.insert(devices).values([
    ...fleet.map(([id, family, version, siteId, gatewayId]) => ({
      orgId: ORG,
      id,
      siteId,
      gatewayId,
      boardFamily: family,
      firmwareVersion: version,
      firmwareMeasurement: family === 'esp32' ? COHORT : family === 'stm32' ? 'cd'.repeat(32) : 'ef'.repeat(32),
      certSerial: `0x${id.length}`,
      attestationStatus: id === TAMPERED ? 'contraindicated' : 'affirming',
      quarantined: id === TAMPERED,
      riskScore: id === TAMPERED ? 90 : 5,
      lastSeenAt: new Date(now - 30_000),
      lastAttestedAt: new Date(now - 60_000),
    })),
    {
      orgId: OTHER_ORG,
      id: 'secret-device',
      siteId: 'site_other',
      gatewayId: 'gw-other',
      boardFamily: 'stm32',
      attestationStatus: 'affirming',
    },
  ]);
  const results = [];
  for (let h = 23; h >= 0; h--) {
    for (const [id, , , siteId, gatewayId] of fleet) {
      const failing = id === TAMPERED && h < 3;
      results.push({
        orgId: ORG,
        gatewayId,
        jti: `ar-${id}-${h}`,
        siteId,
        deviceId: id,
        status: failing ? 'contraindicated' : 'affirming',
        reasons: failing ? ['appraisal.measurement_mismatch'] : [],
        claims: {},
        jwt: 'header.payload.signature',
        appraisedAt: new Date(now - h * 3600_000 - 60_000),
      });
    }
  }
  await db.insert(attestationResults).values(results);
  await database.withTenant(ORG, (tx) =>
    ingestAlerts(
      tx,
      ORG,
      'site_south',
      'gw-south-1',
      [
        {
          sourceAlertId: 'al-1',
          deviceId: TAMPERED,
          type: 'attestation_failed',
          severity: 'critical',
          title: `Attestation failed on ${TAMPERED}: measurement mismatch`,
          firmwareMeasurement: COHORT,
          occurredAt: new Date(now - 3 * 3600_000),
          details: { reasons: ['appraisal.measurement_mismatch'] },
        },
        {
          sourceAlertId: 'al-2',
          deviceId: TAMPERED,
          type: 'boot_rollback',
          severity: 'high',
          title: `Boot counter went backwards on ${TAMPERED}`,
          firmwareMeasurement: COHORT,
          occurredAt: new Date(now - 2 * 3600_000),
        },
        {
          sourceAlertId: 'al-3',
          deviceId: 'nrf52-valve-02',
          type: 'message_rate_anomaly',
          severity: 'medium',
          title: 'Message rate anomaly on nrf52-valve-02',
          occurredAt: new Date(now - 20 * 3600_000),
        },
      ],
      { clock },
    ),
  );
  const app = new Hono();
  registerDashboard(app, { database, clock, secureCookies: false });
  return { app, database, clock };
}

/** `n` devices and `m` cases written straight into the tables (for the page-size checks at fleet scale). */
export async function seedScale(database: CloudDatabase, nDevices: number, nCases: number, now: number): Promise<void> {
  const { db } = database;
  for (let i = 0; i < nDevices; i += 1000) {
    await db.insert(devices).values(
      Array.from({ length: Math.min(1000, nDevices - i) }, (_, j) => {
        const k = i + j;
        return {
          orgId: ORG,
          id: `bulk-${String(k).padStart(5, '0')}`,
          siteId: k % 2 ? 'site_north' : 'site_south',
          gatewayId: k % 2 ? 'gw-north-1' : 'gw-south-1',
          boardFamily: ['stm32', 'nrf52', 'esp32'][k % 3] ?? 'stm32',
          firmwareVersion: `1.${k % 5}.0`,
          firmwareMeasurement: String(k % 5).repeat(64),
          attestationStatus: k % 41 === 0 ? 'contraindicated' : 'affirming',
          lastSeenAt: new Date(now - k * 1000),
        };
      }),
    );
  }
  for (let i = 0; i < nCases; i += 1000) {
    await db.insert(cases).values(
      Array.from({ length: Math.min(1000, nCases - i) }, (_, j) => {
        const k = i + j;
        return {
          id: `case_bulk_${String(k).padStart(5, '0')}`,
          orgId: ORG,
          title: `Bulk case ${k}`,
          state: k % 3 ? 'new' : 'investigating',
          severity: ['low', 'medium', 'high', 'critical'][k % 4] ?? 'low',
          alertCount: 1,
          createdAt: new Date(now - k * 60_000),
          updatedAt: new Date(now - k * 60_000),
        };
      }),
    );
  }
}
