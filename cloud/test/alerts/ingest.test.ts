import { ManualClock } from '@palisade/shared';
import { and, eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { type IngestAlertInput, ingestAlerts } from '../../src/alerts/index.js';
import { alerts } from '../../src/alerts/schema.js';
import { caseAlerts, cases } from '../../src/cases/schema.js';
import { seedWorld } from '../cases/fixture.js';
import { forEachDatabase } from '../helpers/databases.js';

const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;

function alert(over: Partial<IngestAlertInput> & { at: number }): IngestAlertInput {
  const { at, ...rest } = over;
  return {
    type: 'attestation_failed',
    severity: 'high',
    title: 'Attestation failed: firmware measurement not in reference values',
    description: 'The device reported a firmware measurement that matches no reference value.',
    occurredAt: new Date(at).toISOString(),
    ...rest,
  };
}

forEachDatabase('alert ingest', seedWorld, (world) => {
  it('stores a re-delivered alert once: same content inserts nothing and increments nothing', async () => {
    const { database, orgA, siteA1, gwA1 } = world();
    const clock = new ManualClock(T0 + HOUR);
    const a = alert({
      deviceId: 'dedup-1',
      at: T0,
      sourceAlertId: 'g-1',
      count: 3,
      type: 'auth_failures',
      title: 'Repeated authentication failures on dedup-1',
    });
    const first = await database.withTenant(orgA, (tx) => ingestAlerts(tx, orgA, siteA1, gwA1, [a], { clock }));
    expect(first).toMatchObject({ inserted: 1, updated: 0, duplicates: 0 });
    clock.advance(MIN);
    const again = await database.withTenant(orgA, (tx) => ingestAlerts(tx, orgA, siteA1, gwA1, [a, a], { clock }));
    expect(again).toMatchObject({ inserted: 0, updated: 0, duplicates: 2 });
    // Same content relayed by another gateway of the site is the same alert.
    const relayed = await database.withTenant(orgA, (tx) =>
      ingestAlerts(tx, orgA, siteA1, 'gw_a2', [{ ...a, sourceAlertId: 'other' }], { clock }),
    );
    expect(relayed.duplicates).toBe(1);
    const rows = await database.withTenant(orgA, (tx) =>
      tx.select().from(alerts).where(eq(alerts.deviceId, 'dedup-1')),
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ count: 3, receivedAt: new Date(T0 + HOUR) });
    const links = await database.withTenant(orgA, (tx) =>
      tx.select().from(caseAlerts).where(eq(caseAlerts.alertId, rows[0]!.id)),
    );
    expect(links).toHaveLength(1);
  });

  it('a true repeat with a higher count updates count and last seen only; an older copy changes nothing', async () => {
    const { database, orgA, siteA1, gwA1 } = world();
    // A day later than the other tests' alerts, so it correlates with nothing of theirs.
    const T1 = T0 + 48 * HOUR;
    const clock = new ManualClock(T1 + HOUR);
    const base = alert({ deviceId: 'dedup-2', at: T1, count: 1, type: 'rate_anomaly', title: 'Message rate anomaly' });
    const r1 = await database.withTenant(orgA, (tx) => ingestAlerts(tx, orgA, siteA1, gwA1, [base], { clock }));
    const id = r1.alerts[0]!.alertId;
    // The gateway saw it again: higher count, later sighting, new details, escalated severity.
    const repeat = {
      ...base,
      count: 5,
      severity: 'critical' as const,
      details: { ratePerSecond: 900 },
      lastSeenAt: new Date(T1 + 30 * MIN).toISOString(),
    };
    const r2 = await database.withTenant(orgA, (tx) => ingestAlerts(tx, orgA, siteA1, gwA1, [repeat], { clock }));
    expect(r2).toMatchObject({ inserted: 0, updated: 1, duplicates: 0, alerts: [{ status: 'updated', alertId: id }] });
    const older = { ...base, count: 2, lastSeenAt: new Date(T1 + 10 * MIN).toISOString() };
    const r3 = await database.withTenant(orgA, (tx) => ingestAlerts(tx, orgA, siteA1, gwA1, [older], { clock }));
    expect(r3.duplicates).toBe(1);
    const [row] = await database.withTenant(orgA, (tx) => tx.select().from(alerts).where(eq(alerts.id, id)));
    expect(row).toMatchObject({
      count: 5,
      lastSeenAt: new Date(T1 + 30 * MIN),
      occurredAt: new Date(T1),
      severity: 'critical',
      details: { ratePerSecond: 900 },
    });
    const [c] = await database.withTenant(orgA, (tx) =>
      tx
        .select({ n: cases.alertCount })
        .from(cases)
        .innerJoin(caseAlerts, eq(caseAlerts.caseId, cases.id))
        .where(eq(caseAlerts.alertId, id)),
    );
    expect(c?.n).toBe(1);
    const [span] = await database.withTenant(orgA, (tx) =>
      tx
        .select({ last: cases.lastEventAt })
        .from(cases)
        .innerJoin(caseAlerts, eq(caseAlerts.caseId, cases.id))
        .where(eq(caseAlerts.alertId, id)),
    );
    expect(span?.last).toEqual(new Date(T1 + 30 * MIN));
    const [esc] = await database.withTenant(orgA, (tx) =>
      tx
        .select({ severity: cases.severity })
        .from(cases)
        .innerJoin(caseAlerts, eq(caseAlerts.caseId, cases.id))
        .where(eq(caseAlerts.alertId, id)),
    );
    expect(esc?.severity).toBe('critical');
  });

  it('refuses a malformed alert with a reason code and stores nothing of the batch', async () => {
    const { database, orgA, siteA1, gwA1 } = world();
    const good = alert({ deviceId: 'bad-batch-1', at: T0 });
    const bad = { ...alert({ deviceId: 'bad/batch', at: T0 }) };
    await expect(
      database.withTenant(orgA, (tx) => ingestAlerts(tx, orgA, siteA1, gwA1, [good, bad])),
    ).rejects.toMatchObject({ code: 'validation.alert', details: { index: 1 } });
    await expect(
      database.withTenant(orgA, (tx) =>
        ingestAlerts(tx, orgA, siteA1, gwA1, [{ ...good, severity: 'apocalyptic' as 'high' }]),
      ),
    ).rejects.toMatchObject({ code: 'validation.alert' });
    await expect(
      database.withTenant(orgA, (tx) => ingestAlerts(tx, orgA, siteA1, gwA1, [{ ...good, occurredAt: 'yesterday' }])),
    ).rejects.toMatchObject({ code: 'validation.alert' });
    const rows = await database.withTenant(orgA, (tx) =>
      tx
        .select()
        .from(alerts)
        .where(and(eq(alerts.orgId, orgA), eq(alerts.deviceId, 'bad-batch-1'))),
    );
    expect(rows).toHaveLength(0);
  });

  it('keeps known ATT&CK for ICS tags and sets unknown ones aside instead of failing the batch', async () => {
    const { database, orgA, siteA1, gwA1 } = world();
    const r = await database.withTenant(orgA, (tx) =>
      ingestAlerts(tx, orgA, siteA1, gwA1, [
        alert({ deviceId: 'tags-1', at: T0, techniques: ['t0857', 'T0839', 'T1059', 'T0857'] }),
      ]),
    );
    const [row] = await database.withTenant(orgA, (tx) =>
      tx.select().from(alerts).where(eq(alerts.id, r.alerts[0]!.alertId)),
    );
    expect(row?.techniques).toEqual(['T0839', 'T0857']);
    expect(row?.details).toMatchObject({ unknownTechniques: ['T1059'] });
  });

  it('alerts of one organisation are invisible to another', async () => {
    const { database, orgA, orgB, siteA1, gwA1 } = world();
    await database.withTenant(orgA, (tx) =>
      ingestAlerts(tx, orgA, siteA1, gwA1, [alert({ deviceId: 'secret-1', at: T0 })]),
    );
    // Even without an org filter, row-level security hides org A's rows from org B's transaction.
    const seen = await database.withTenant(orgB, (tx) => tx.select().from(alerts));
    expect(seen.filter((a) => a.deviceId === 'secret-1')).toHaveLength(0);
    const seenCases = await database.withTenant(orgB, (tx) => tx.select().from(cases));
    expect(seenCases).toHaveLength(0);
  });

  it('the same content in two organisations is two alerts (the hash is unique per organisation)', async () => {
    const { database, orgA, orgB, siteB1, gwB1 } = world();
    const a = alert({ deviceId: 'shared-name', at: T0 + 5 * HOUR });
    const rb = await database.withTenant(orgB, (tx) => ingestAlerts(tx, orgB, siteB1, gwB1, [a]));
    const ra = await database.withTenant(orgA, (tx) => ingestAlerts(tx, orgA, siteB1, gwB1, [a]));
    expect(rb.inserted).toBe(1);
    expect(ra.inserted).toBe(1);
  });
});
