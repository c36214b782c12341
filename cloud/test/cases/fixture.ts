import type { Clock } from '@palisade/shared';
import { type IngestAlertInput, ingestAlerts } from '../../src/alerts/index.js';
import type { CaseActor } from '../../src/cases/actor.js';
import type { CloudDatabase } from '../../src/db/types.js';
import { gateways } from '../../src/gateways/schema.js';
import { organizations, sites, users } from '../../src/tenancy/schema.js';

export interface World {
  database: CloudDatabase;
  orgA: string;
  orgB: string;
  siteA1: string;
  siteA2: string;
  siteB1: string;
  gwA1: string;
  gwA2: string;
  gwB1: string;
  admin: CaseActor;
  admin2: CaseActor;
  analyst: CaseActor;
  viewer: CaseActor;
  /** A member of org B, for cross-tenant checks. */
  adminB: CaseActor;
}

/**
 * Seeds a fresh, migrated database (one per test file and target, from `forEachDatabase`) with two
 * organisations, their sites and gateways, and one user per role, written directly as the owner role.
 */
export async function seedWorld(database: CloudDatabase): Promise<World> {
  const { db } = database;
  await db.insert(organizations).values([
    { id: 'org_a', name: 'Org A' },
    { id: 'org_b', name: 'Org B' },
  ]);
  await db.insert(sites).values([
    { id: 'site_a1', orgId: 'org_a', name: 'Plant North' },
    { id: 'site_a2', orgId: 'org_a', name: 'Plant South' },
    { id: 'site_b1', orgId: 'org_b', name: 'B Plant' },
  ]);
  const gw = (id: string, orgId: string, siteId: string) => ({
    id,
    orgId,
    siteId,
    name: id,
    certPem: 'test-only',
    certSerial: `serial-${id}`,
    publicKeySpki: 'test-only',
  });
  await db
    .insert(gateways)
    .values([gw('gw_a1', 'org_a', 'site_a1'), gw('gw_a2', 'org_a', 'site_a2'), gw('gw_b1', 'org_b', 'site_b1')]);
  const user = (id: string, orgId: string, role: 'admin' | 'analyst' | 'viewer') => ({
    id,
    orgId,
    email: `${id}@example.test`,
    role,
    passwordHash: 'not-used',
  });
  await db
    .insert(users)
    .values([
      user('u_admin', 'org_a', 'admin'),
      user('u_admin2', 'org_a', 'admin'),
      user('u_analyst', 'org_a', 'analyst'),
      user('u_viewer', 'org_a', 'viewer'),
      user('u_admin_b', 'org_b', 'admin'),
    ]);
  return {
    database,
    orgA: 'org_a',
    orgB: 'org_b',
    siteA1: 'site_a1',
    siteA2: 'site_a2',
    siteB1: 'site_b1',
    gwA1: 'gw_a1',
    gwA2: 'gw_a2',
    gwB1: 'gw_b1',
    admin: { kind: 'user', id: 'u_admin', role: 'admin' },
    admin2: { kind: 'user', id: 'u_admin2', role: 'admin' },
    analyst: { kind: 'user', id: 'u_analyst', role: 'analyst' },
    viewer: { kind: 'user', id: 'u_viewer', role: 'viewer' },
    adminB: { kind: 'user', id: 'u_admin_b', role: 'admin' },
  };
}

let caseCounter = 0;

/**
 * Opens a new case through real ingest: one alert from a device of its own, a month away from any other, so it
 * correlates with nothing. Returns the case id and the alert id.
 */
export async function openCase(
  w: World,
  clock: Clock,
  over: Partial<IngestAlertInput> = {},
  orgId: string = w.orgA,
): Promise<{ caseId: string; alertId: string }> {
  const n = ++caseCounter;
  const letters = String.fromCharCode(97 + (n % 26), 97 + ((n * 7) % 26), 97 + ((n * 13) % 26));
  const site = orgId === w.orgA ? w.siteA1 : w.siteB1;
  const gw = orgId === w.orgA ? w.gwA1 : w.gwB1;
  const r = await w.database.withTenant(orgId, (tx) =>
    ingestAlerts(
      tx,
      orgId,
      site,
      gw,
      [
        {
          deviceId: `case-dev-${n}`,
          type: `kind_${letters}`,
          severity: 'high',
          title: `Incident ${letters}${letters} number ${n}`,
          occurredAt: new Date(Date.UTC(2027, 0, 1) + n * 30 * 24 * 3_600_000).toISOString(),
          ...over,
        },
      ],
      { clock },
    ),
  );
  const a = r.alerts[0];
  if (a?.status !== 'inserted' || !a.correlation.created)
    throw new Error('openCase: the alert joined an existing case');
  return { caseId: a.correlation.caseId, alertId: a.alertId };
}
