import { ManualClock } from '@palisade/shared';
import { eq, inArray } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { type IngestAlertInput, ingestAlerts } from '../../src/alerts/index.js';
import { type AlertFacts, chooseCase, DEFAULT_CORRELATION, scorePair } from '../../src/cases/correlate.js';
import { caseAlerts, cases, caseTimeline } from '../../src/cases/schema.js';
import { normaliseText, textSimilarity } from '../../src/cases/similarity.js';
import { forEachDatabase } from '../helpers/databases.js';
import { seedWorld } from './fixture.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Each test works in its own week so their alerts never fall into each other's windows. */
const week = (n: number) => Date.UTC(2026, 3, 1) + n * 7 * DAY;
const FW_BAD = 'ab'.repeat(32);
const FW_GOOD = 'cd'.repeat(32);

function facts(over: Partial<AlertFacts>): AlertFacts {
  return {
    id: 'a',
    siteId: 's1',
    deviceId: 'd1',
    type: 'attestation_failed',
    firmwareMeasurement: null,
    title: 'x',
    description: '',
    occurredAt: new Date(0),
    ...over,
  };
}

describe('correlation scoring (pure)', () => {
  const p = DEFAULT_CORRELATION;
  it('normalises numbers and hex so only the kind of event remains', () => {
    expect(normaliseText('Device D-17 failed: 0xDEADBEEF01 at 12:30')).toBe('device d 0 failed 0xdeadbeef0 at 0 0');
    expect(textSimilarity('device d-17 failed attestation', 'device d-42 failed attestation')).toBe(1);
    expect(textSimilarity('boot counter rolled back', 'certificate expires soon')).toBeLessThan(0.2);
    expect(textSimilarity('', '')).toBe(0);
  });

  it('same device beats everything; windows are in event time', () => {
    const a = facts({ id: 'n', occurredAt: new Date(10 * HOUR) });
    const b = facts({ id: 'o', occurredAt: new Date(0), type: 'other', title: 'unrelated words here' });
    expect(scorePair(a, b, p)).toEqual({
      strategy: 'device',
      score: 1,
      details: { matchedAlertId: 'o', deltaMs: 10 * HOUR },
    });
    const far = facts({ id: 'o', occurredAt: new Date(25 * HOUR), type: 'other', title: 'unrelated words here' });
    expect(scorePair(a, { ...far, occurredAt: new Date(10 * HOUR + DAY + 1) }, p)).toBeNull();
  });

  it('cohort needs the same measurement and kind; site needs the same site and kind within an hour', () => {
    const a = facts({ id: 'n', deviceId: 'd1', firmwareMeasurement: FW_BAD, siteId: 's1', title: 'alpha' });
    const cohort = facts({
      id: 'c',
      deviceId: 'd2',
      firmwareMeasurement: FW_BAD,
      siteId: 's2',
      title: 'beta',
      occurredAt: new Date(20 * HOUR),
    });
    expect(scorePair({ ...a, occurredAt: new Date(2 * HOUR) }, cohort, p)).toMatchObject({
      strategy: 'cohort',
      score: 0.9,
    });
    expect(scorePair(a, { ...cohort, type: 'firmware_changed' }, p)).toBeNull();
    const site = facts({ id: 's', deviceId: 'd3', siteId: 's1', title: 'gamma', occurredAt: new Date(59 * MIN) });
    expect(scorePair(a, site, p)).toMatchObject({ strategy: 'site', score: 0.6, details: { deltaMs: 59 * MIN } });
    expect(scorePair(a, { ...site, occurredAt: new Date(61 * MIN) }, p)).toBeNull();
  });

  it('text similarity scores 0.85 × Jaccard above the threshold, and records the similarity', () => {
    const a = facts({ id: 'n', deviceId: 'd1', siteId: 's1', title: 'Boot counter rollback detected on d-1' });
    const b = facts({
      id: 'o',
      deviceId: 'd9',
      siteId: 's9',
      type: 'x',
      title: 'Boot counter rollback detected on d-9',
    });
    expect(scorePair(a, b, p)).toEqual({
      strategy: 'text',
      score: 0.85,
      details: { matchedAlertId: 'o', deltaMs: 0, similarity: 1 },
    });
    const c = { ...b, title: 'Certificate expires within 30 days' };
    expect(scorePair(a, c, p)).toBeNull();
  });

  it('chooses deterministically: score, then closeness in time, then the older case, then the id', () => {
    const n = facts({ id: 'n', deviceId: 'd1', firmwareMeasurement: FW_BAD, occurredAt: new Date(5 * HOUR) });
    const mk = (id: string, caseId: string, createdAt: number, over: Partial<AlertFacts>) => ({
      ...facts({ id, ...over }),
      caseId,
      caseCreatedAt: new Date(createdAt),
    });
    const cands = [
      mk('x1', 'case_B', 2, { deviceId: 'd2', firmwareMeasurement: FW_BAD, occurredAt: new Date(4 * HOUR) }),
      mk('x2', 'case_A', 1, { deviceId: 'd1', occurredAt: new Date(0) }),
      mk('x3', 'case_C', 0, { deviceId: 'd1', occurredAt: new Date(3 * HOUR) }),
    ];
    expect(chooseCase(n, cands)).toMatchObject({ caseId: 'case_C', strategy: 'device', score: 1 });
    expect(chooseCase(n, [...cands].reverse())).toEqual(chooseCase(n, cands));
    const tie = [
      mk('y1', 'case_Z', 5, { occurredAt: new Date(4 * HOUR) }),
      mk('y2', 'case_Y', 5, { occurredAt: new Date(6 * HOUR) }),
    ];
    expect(chooseCase(n, tie)?.caseId).toBe('case_Y');
    expect(chooseCase(n, [])).toBeNull();
  });
});

function attestationFailed(deviceId: string, at: number, over: Partial<IngestAlertInput> = {}): IngestAlertInput {
  return {
    deviceId,
    type: 'attestation_failed',
    severity: 'high',
    title: `Attestation failed on ${deviceId}: unknown firmware`,
    description: 'measurement matches no reference value',
    firmwareMeasurement: FW_BAD,
    occurredAt: new Date(at).toISOString(),
    ...over,
  };
}

forEachDatabase('correlation into cases', seedWorld, (world) => {
  async function caseOf(
    alertId: string,
  ): Promise<{ caseId: string; strategy: string; score: number; details: unknown }> {
    const { database, orgA } = world();
    const [l] = await database.withTenant(orgA, (tx) =>
      tx.select().from(caseAlerts).where(eq(caseAlerts.alertId, alertId)),
    );
    if (!l) throw new Error(`alert ${alertId} has no case`);
    return l;
  }

  it('alerts from two gateways about one firmware cohort land in one case', async () => {
    const { database, orgA, siteA1, siteA2, gwA1, gwA2 } = world();
    const t = week(0);
    const clock = new ManualClock(t + HOUR);
    const r1 = await database.withTenant(orgA, (tx) =>
      ingestAlerts(tx, orgA, siteA1, gwA1, [attestationFailed('north-7', t)], { clock }),
    );
    const r2 = await database.withTenant(orgA, (tx) =>
      ingestAlerts(
        tx,
        orgA,
        siteA2,
        gwA2,
        [
          attestationFailed('south-3', t + 3 * HOUR, {
            title: 'Unexpected image on south-3',
            description: 'reflashed?',
          }),
        ],
        { clock },
      ),
    );
    const first = r1.alerts[0]!;
    const second = r2.alerts[0]!;
    expect(first.status === 'inserted' && first.correlation).toMatchObject({
      created: true,
      strategy: 'seed',
      score: 1,
    });
    expect(second.status === 'inserted' && second.correlation).toMatchObject({
      created: false,
      strategy: 'cohort',
      score: 0.9,
    });
    const link = await caseOf(second.alertId);
    expect(link).toMatchObject({
      caseId: (await caseOf(first.alertId)).caseId,
      strategy: 'cohort',
      score: 0.9,
      details: { matchedAlertId: first.alertId, deltaMs: 3 * HOUR },
    });
    const [c] = await database.withTenant(orgA, (tx) => tx.select().from(cases).where(eq(cases.id, link.caseId)));
    expect(c).toMatchObject({ alertCount: 2, firstEventAt: new Date(t), lastEventAt: new Date(t + 3 * HOUR) });
    // A device on healthy firmware raising the same kind of alert (over an hour later) is not part of the case.
    const r3 = await database.withTenant(orgA, (tx) =>
      ingestAlerts(
        tx,
        orgA,
        siteA2,
        gwA2,
        [
          attestationFailed('south-9', t + 5 * HOUR, {
            firmwareMeasurement: FW_GOOD,
            title: 'Evidence signature invalid',
            description: 'bad signature',
          }),
        ],
        { clock },
      ),
    );
    expect((await caseOf(r3.alerts[0]!.alertId)).caseId).not.toBe(link.caseId);
  });

  it('a late-synced alert inside the event-time window joins the case; one outside does not', async () => {
    const { database, orgA, siteA1, gwA1 } = world();
    const t = week(1);
    const clock = new ManualClock(t + 10 * MIN);
    const type = 'boot_counter_rollback';
    const mk = (at: number, n: number) => ({
      deviceId: 'late-1',
      type,
      severity: 'critical' as const,
      title: `Boot counter went backwards (${n})`,
      description: 'possible reflash',
      occurredAt: new Date(at).toISOString(),
    });
    const seed = await database.withTenant(orgA, (tx) => ingestAlerts(tx, orgA, siteA1, gwA1, [mk(t, 1)], { clock }));
    const caseId = (await caseOf(seed.alerts[0]!.alertId)).caseId;
    // The gateway was offline for 30 hours: it delivers an event from 20 h after the first one at t + 30 h.
    clock.set(t + 30 * HOUR);
    const late = await database.withTenant(orgA, (tx) =>
      ingestAlerts(tx, orgA, siteA1, gwA1, [mk(t + 20 * HOUR, 2)], { clock }),
    );
    const lateLink = await caseOf(late.alerts[0]!.alertId);
    expect(lateLink).toMatchObject({ caseId, strategy: 'device', score: 1, details: { deltaMs: 20 * HOUR } });
    // An event more than 24 h from every alert of the case opens a new case, however promptly it arrives.
    clock.set(t + 70 * HOUR);
    const outside = await database.withTenant(orgA, (tx) =>
      ingestAlerts(tx, orgA, siteA1, gwA1, [mk(t + 20 * HOUR + DAY + MIN, 3)], { clock }),
    );
    const out = outside.alerts[0]!;
    expect(out.status === 'inserted' && out.correlation.created).toBe(true);
    expect((await caseOf(out.alertId)).caseId).not.toBe(caseId);
  });

  it('links by site (same kind within an hour) and by text similarity across sites, each with its score', async () => {
    const { database, orgA, siteA1, siteA2, gwA1, gwA2 } = world();
    const t = week(2);
    const clock = new ManualClock(t + DAY);
    const unknown = (dev: string, at: number, title: string) => ({
      deviceId: dev,
      type: 'unknown_device',
      severity: 'medium' as const,
      title,
      occurredAt: new Date(at).toISOString(),
    });
    const r = await database.withTenant(orgA, (tx) =>
      ingestAlerts(
        tx,
        orgA,
        siteA1,
        gwA1,
        [
          unknown('rogue-1', t, 'Unknown device connected'),
          unknown('rogue-2', t + 20 * MIN, 'Unregistered client id seen'),
        ],
        { clock },
      ),
    );
    const [a1, a2] = r.alerts;
    expect(await caseOf(a2!.alertId)).toMatchObject({
      caseId: (await caseOf(a1!.alertId)).caseId,
      strategy: 'site',
      score: 0.6,
    });
    const x = await database.withTenant(orgA, (tx) =>
      ingestAlerts(
        tx,
        orgA,
        siteA2,
        gwA2,
        [{ ...unknown('rogue-77', t + 2 * HOUR, 'Unknown device connected'), type: 'broker_refused' }],
        { clock },
      ),
    );
    const textLink = await caseOf(x.alerts[0]!.alertId);
    expect(textLink).toMatchObject({
      caseId: (await caseOf(a1!.alertId)).caseId,
      strategy: 'text',
      score: 0.85,
      details: { matchedAlertId: a1!.alertId, similarity: 1 },
    });
  });

  it('raises the case severity to its most severe alert and records it on the timeline', async () => {
    const { database, orgA, siteA1, gwA1 } = world();
    const t = week(3);
    const clock = new ManualClock(t);
    const mk = (sev: 'low' | 'critical', at: number, title: string) => ({
      deviceId: 'sev-1',
      type: 'auth_failures',
      severity: sev,
      title,
      occurredAt: new Date(at).toISOString(),
    });
    const r = await database.withTenant(orgA, (tx) =>
      ingestAlerts(tx, orgA, siteA1, gwA1, [mk('low', t, 'few failures'), mk('critical', t + MIN, 'many failures')], {
        clock,
      }),
    );
    const { caseId } = await caseOf(r.alerts[0]!.alertId);
    const [c] = await database.withTenant(orgA, (tx) => tx.select().from(cases).where(eq(cases.id, caseId)));
    expect(c?.severity).toBe('critical');
    const tl = await database.withTenant(orgA, (tx) =>
      tx.select().from(caseTimeline).where(eq(caseTimeline.caseId, caseId)).orderBy(caseTimeline.seq),
    );
    expect(tl.map((e) => e.action)).toEqual(['case.created', 'alert.linked', 'case.severity']);
    expect(tl[2]).toMatchObject({ actorKind: 'system', before: { severity: 'low' }, after: { severity: 'critical' } });
  });

  it('a closed case collects no new alerts', async () => {
    const { database, orgA, siteA1, gwA1 } = world();
    const t = week(4);
    const clock = new ManualClock(t);
    const mk = (at: number) => ({
      deviceId: 'closed-1',
      type: 'cert_expiring',
      severity: 'low' as const,
      title: 'Certificate expires soon',
      occurredAt: new Date(at).toISOString(),
    });
    const r1 = await database.withTenant(orgA, (tx) => ingestAlerts(tx, orgA, siteA1, gwA1, [mk(t)], { clock }));
    const { caseId } = await caseOf(r1.alerts[0]!.alertId);
    await database.withTenant(orgA, (tx) => tx.update(cases).set({ state: 'resolved' }).where(eq(cases.id, caseId)));
    const r2 = await database.withTenant(orgA, (tx) => ingestAlerts(tx, orgA, siteA1, gwA1, [mk(t + HOUR)], { clock }));
    expect((await caseOf(r2.alerts[0]!.alertId)).caseId).not.toBe(caseId);
  });

  it('two gateways ingesting related alerts at the same moment still produce one case', async () => {
    const { database, orgA, siteA1, siteA2, gwA1, gwA2 } = world();
    const t = week(6);
    const clock = new ManualClock(t + HOUR);
    const fw = 'ee'.repeat(32);
    const [r1, r2] = await Promise.all([
      database.withTenant(orgA, (tx) =>
        ingestAlerts(tx, orgA, siteA1, gwA1, [attestationFailed('race-1', t, { firmwareMeasurement: fw })], { clock }),
      ),
      database.withTenant(orgA, (tx) =>
        ingestAlerts(tx, orgA, siteA2, gwA2, [attestationFailed('race-2', t + MIN, { firmwareMeasurement: fw })], {
          clock,
        }),
      ),
    ]);
    const c1 = await caseOf(r1.alerts[0]!.alertId);
    const c2 = await caseOf(r2.alerts[0]!.alertId);
    expect(c1.caseId).toBe(c2.caseId);
    expect([c1.strategy, c2.strategy].sort()).toEqual(['cohort', 'seed']);
  });

  it('the same batch in any order yields the same cases', async () => {
    const { database, orgB, siteB1, gwB1 } = world();
    const t = week(5);
    const clock = new ManualClock(t + DAY);
    const batch: IngestAlertInput[] = [
      attestationFailed('b-1', t),
      attestationFailed('b-2', t + 2 * HOUR, { title: 'other words entirely', description: 'nothing alike' }),
      {
        deviceId: 'b-3',
        type: 'rate_anomaly',
        severity: 'low',
        title: 'Message rate spike',
        occurredAt: new Date(t + 3 * DAY).toISOString(),
      },
      {
        deviceId: 'b-1',
        type: 'rate_anomaly',
        severity: 'low',
        title: 'Message rate spike',
        occurredAt: new Date(t + 5 * HOUR).toISOString(),
      },
    ];
    const grouping = async (orgSuffix: string, input: IngestAlertInput[]) => {
      const r = await database.withTenant(orgB, (tx) =>
        ingestAlerts(
          tx,
          orgB,
          siteB1,
          gwB1,
          input.map((a) => ({ ...a, details: { run: orgSuffix } })),
          { clock },
        ),
      );
      const ids = r.alerts.map((a) => a.alertId);
      const links = await database.withTenant(orgB, (tx) =>
        tx.select().from(caseAlerts).where(inArray(caseAlerts.alertId, ids)),
      );
      const byAlert = new Map(links.map((l) => [l.alertId, l]));
      // Describe the grouping by the position of each alert in event order and the strategy that linked it.
      const caseIndex = new Map<string, number>();
      return r.alerts.map((a) => {
        const l = byAlert.get(a.alertId)!;
        if (!caseIndex.has(l.caseId)) caseIndex.set(l.caseId, caseIndex.size);
        return [caseIndex.get(l.caseId), l.strategy, l.score];
      });
    };
    const forward = await grouping('1', batch);
    // A second copy shifted by weeks, so the two runs cannot link to each other.
    const shifted = [...batch]
      .reverse()
      .map((a) => ({ ...a, occurredAt: new Date(Date.parse(String(a.occurredAt)) + 14 * DAY).toISOString() }));
    clock.advance(14 * DAY);
    const backward = await grouping('2', shifted);
    expect(backward).toEqual(forward);
    expect(forward).toEqual([
      [0, 'seed', 1],
      [0, 'cohort', 0.9],
      [0, 'device', 1],
      [1, 'seed', 1],
    ]);
  });
});
