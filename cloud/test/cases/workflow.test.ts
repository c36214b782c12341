import { ManualClock } from '@palisade/shared';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  addComment,
  getCase,
  listCases,
  listComments,
  listTimeline,
  patchCase,
  TRANSITIONS,
  updateCaseSettings,
} from '../../src/cases/index.js';
import { auditLog } from '../../src/tenancy/schema.js';
import { forEachDatabase } from '../helpers/databases.js';
import { openCase, seedWorld } from './fixture.js';

const MIN = 60_000;

describe('transition table', () => {
  it('is explicit, never loops a state onto itself, and nothing but a merge reaches merged', () => {
    for (const [from, tos] of Object.entries(TRANSITIONS)) {
      expect(tos).not.toContain(from);
      expect(tos).not.toContain('merged');
    }
    expect(TRANSITIONS.merged).toEqual([]);
  });
});

forEachDatabase('case workflow', seedWorld, (world) => {
  it('walks new → triaged → investigating → contained → resolved, recording each change on the timeline', async () => {
    const w = world();
    const clock = new ManualClock();
    const { caseId } = await openCase(w, clock);
    const steps = ['triaged', 'investigating', 'contained', 'resolved'] as const;
    for (const state of steps) {
      clock.advance(MIN);
      const c = await patchCase(w.database, w.orgA, w.analyst, caseId, { state }, clock);
      expect(c.state).toBe(state);
    }
    const tl = await listTimeline(w.database, w.orgA, w.viewer, caseId, {});
    expect(tl.items.map((e) => [e.action, e.before, e.after])).toEqual([
      ['case.created', null, expect.objectContaining({ state: 'new' })],
      ['case.state', { state: 'new' }, { state: 'triaged' }],
      ['case.state', { state: 'triaged' }, { state: 'investigating' }],
      ['case.state', { state: 'investigating' }, { state: 'contained' }],
      ['case.state', { state: 'contained' }, { state: 'resolved' }],
    ]);
    expect(tl.items[1]).toMatchObject({ actorKind: 'user', actorId: 'u_analyst' });
    const c = await getCase(w.database, w.orgA, w.viewer, caseId, clock);
    expect(c).toMatchObject({ state: 'resolved', allowedTransitions: ['investigating'] });
    // Every change by a person is also in the audit log.
    const audit = await w.database.withTenant(w.orgA, (tx) =>
      tx.select().from(auditLog).where(eq(auditLog.targetId, caseId)),
    );
    expect(audit.filter((a) => a.action === 'case.state')).toHaveLength(4);
  });

  it('refuses illegal transitions with a reason code and the allowed targets, changing nothing', async () => {
    const w = world();
    const clock = new ManualClock();
    const { caseId } = await openCase(w, clock);
    for (const state of ['contained', 'resolved', 'merged'] as const) {
      await expect(patchCase(w.database, w.orgA, w.analyst, caseId, { state }, clock)).rejects.toMatchObject({
        code: 'conflict.case_transition',
        details: { from: 'new', to: state, allowed: ['triaged', 'investigating', 'false_positive'] },
      });
    }
    await patchCase(w.database, w.orgA, w.analyst, caseId, { state: 'false_positive' }, clock);
    await expect(
      patchCase(w.database, w.orgA, w.analyst, caseId, { state: 'investigating' }, clock),
    ).rejects.toMatchObject({
      code: 'conflict.case_transition',
    });
    // Reopening a false positive is allowed.
    expect((await patchCase(w.database, w.orgA, w.analyst, caseId, { state: 'triaged' }, clock)).state).toBe('triaged');
    const tl = await listTimeline(w.database, w.orgA, w.viewer, caseId, {});
    expect(tl.items.filter((e) => e.action === 'case.state')).toHaveLength(2);
  });

  it('changes severity, assignee, title and techniques with before/after on the timeline', async () => {
    const w = world();
    const clock = new ManualClock();
    const { caseId } = await openCase(w, clock);
    const c = await patchCase(
      w.database,
      w.orgA,
      w.analyst,
      caseId,
      {
        severity: 'critical',
        assigneeId: 'u_analyst',
        title: 'Reflashed PLC',
        techniques: ['t0857', 'T0839', 'T0857'],
      },
      clock,
    );
    expect(c).toMatchObject({
      severity: 'critical',
      assigneeId: 'u_analyst',
      title: 'Reflashed PLC',
      techniques: ['T0839', 'T0857'],
    });
    const tl = await listTimeline(w.database, w.orgA, w.viewer, caseId, {});
    expect(tl.items.slice(1).map((e) => [e.action, e.before, e.after])).toEqual([
      ['case.severity', { severity: 'high' }, { severity: 'critical' }],
      ['case.assignee', { assigneeId: null }, { assigneeId: 'u_analyst' }],
      ['case.title', expect.anything(), { title: 'Reflashed PLC' }],
      ['case.techniques', { techniques: [] }, { techniques: ['T0839', 'T0857'] }],
    ]);
    await expect(
      patchCase(w.database, w.orgA, w.analyst, caseId, { techniques: ['T1059'] }, clock),
    ).rejects.toMatchObject({ code: 'validation.mitre_technique' });
    await expect(
      patchCase(w.database, w.orgA, w.analyst, caseId, { techniques: ['T0899'] }, clock),
    ).rejects.toMatchObject({ code: 'validation.mitre_technique_unknown' });
    await expect(
      patchCase(w.database, w.orgA, w.analyst, caseId, { assigneeId: 'u_viewer' }, clock),
    ).rejects.toMatchObject({ code: 'validation.assignee' });
    // A user of another organisation does not exist from here.
    await expect(
      patchCase(w.database, w.orgA, w.analyst, caseId, { assigneeId: 'u_admin_b' }, clock),
    ).rejects.toMatchObject({ code: 'not_found.user' });
    await expect(patchCase(w.database, w.orgA, w.analyst, caseId, {}, clock)).rejects.toMatchObject({
      code: 'validation.case_patch',
    });
    await expect(
      patchCase(w.database, w.orgA, w.analyst, caseId, { severity: 'urgent' as 'high' }, clock),
    ).rejects.toMatchObject({ code: 'validation.case_patch' });
  });

  it('refuses a change based on a stale version', async () => {
    const w = world();
    const clock = new ManualClock();
    const { caseId } = await openCase(w, clock);
    const c = await getCase(w.database, w.orgA, w.viewer, caseId, clock);
    await patchCase(w.database, w.orgA, w.analyst, caseId, { severity: 'low', version: c.version }, clock);
    await expect(
      patchCase(w.database, w.orgA, w.admin, caseId, { severity: 'critical', version: c.version }, clock),
    ).rejects.toMatchObject({ code: 'conflict.case_version', details: { expected: c.version, actual: c.version + 1 } });
  });

  it('viewers read but cannot change anything; analysts cannot configure', async () => {
    const w = world();
    const clock = new ManualClock();
    const { caseId } = await openCase(w, clock);
    await expect(patchCase(w.database, w.orgA, w.viewer, caseId, { state: 'triaged' }, clock)).rejects.toMatchObject({
      code: 'auth.forbidden',
    });
    await expect(addComment(w.database, w.orgA, w.viewer, caseId, { body: 'hi' }, clock)).rejects.toMatchObject({
      code: 'auth.forbidden',
    });
    await expect(
      updateCaseSettings(w.database, w.orgA, w.analyst, { approvalTtlMinutes: 5 }, clock),
    ).rejects.toMatchObject({
      code: 'auth.forbidden',
    });
    expect((await getCase(w.database, w.orgA, w.viewer, caseId, clock)).state).toBe('new');
  });

  it('keeps comments in order and pages through them', async () => {
    const w = world();
    const clock = new ManualClock();
    const { caseId } = await openCase(w, clock);
    for (let i = 0; i < 5; i++) {
      clock.advance(1);
      await addComment(w.database, w.orgA, w.analyst, caseId, { body: `note ${i}` }, clock);
    }
    const p1 = await listComments(w.database, w.orgA, w.viewer, caseId, { limit: 2 });
    const p2 = await listComments(w.database, w.orgA, w.viewer, caseId, { limit: 2, cursor: p1.nextCursor! });
    const p3 = await listComments(w.database, w.orgA, w.viewer, caseId, { limit: 2, cursor: p2.nextCursor! });
    expect([...p1.items, ...p2.items, ...p3.items].map((c) => c.body)).toEqual([
      'note 0',
      'note 1',
      'note 2',
      'note 3',
      'note 4',
    ]);
    expect(p3.nextCursor).toBeNull();
    await expect(addComment(w.database, w.orgA, w.analyst, caseId, { body: '   ' }, clock)).rejects.toMatchObject({
      code: 'validation.comment',
    });
    await expect(listComments(w.database, w.orgA, w.viewer, caseId, { cursor: 'garbage' })).rejects.toMatchObject({
      code: 'validation.cursor',
    });
  });

  it('SLA clocks: acknowledge and resolve breaches follow the clock and the severity targets', async () => {
    const w = world();
    const clock = new ManualClock(Date.UTC(2027, 5, 1));
    const { caseId } = await openCase(w, clock, { severity: 'critical' });
    let c = await getCase(w.database, w.orgA, w.viewer, caseId, clock);
    expect(c.sla.acknowledge).toMatchObject({ targetMinutes: 15, breached: false, elapsedMs: 0 });
    clock.advance(15 * MIN);
    c = await getCase(w.database, w.orgA, w.viewer, caseId, clock);
    expect(c.sla.acknowledge.breached).toBe(false);
    clock.advance(1);
    c = await getCase(w.database, w.orgA, w.viewer, caseId, clock);
    expect(c.sla.acknowledge).toMatchObject({ breached: true, stoppedAt: null });
    // Triage stops the acknowledge clock (late: it stays breached); the resolve clock keeps running.
    await patchCase(w.database, w.orgA, w.analyst, caseId, { state: 'triaged' }, clock);
    clock.advance(3 * 60 * MIN);
    c = await getCase(w.database, w.orgA, w.viewer, caseId, clock);
    expect(c.sla.acknowledge).toMatchObject({ breached: true, elapsedMs: 15 * MIN + 1 });
    expect(c.sla.resolve).toMatchObject({ targetMinutes: 240, breached: false });
    await patchCase(w.database, w.orgA, w.analyst, caseId, { state: 'resolved' }, clock);
    clock.advance(24 * 60 * MIN);
    c = await getCase(w.database, w.orgA, w.viewer, caseId, clock);
    expect(c.sla.resolve).toMatchObject({ breached: false, elapsedMs: 3 * 60 * MIN + 15 * MIN + 1 });
    // Reopening restarts the resolve clock from the case's creation: now far past 4 hours.
    await patchCase(w.database, w.orgA, w.analyst, caseId, { state: 'investigating' }, clock);
    c = await getCase(w.database, w.orgA, w.viewer, caseId, clock);
    expect(c.sla.resolve).toMatchObject({ breached: true, stoppedAt: null });
  });

  it('an admin sets SLA targets per severity; breaches use them at once', async () => {
    const w = world();
    const clock = new ManualClock(Date.UTC(2027, 6, 1));
    const { caseId } = await openCase(w, clock, { severity: 'low' }, w.orgB);
    clock.advance(10 * MIN);
    let c = await getCase(w.database, w.orgB, w.adminB, caseId, clock);
    expect(c.sla.acknowledge.breached).toBe(false);
    const breached = async (slaBreached: 'acknowledge' | 'resolve' | 'any') =>
      (await listCases(w.database, w.orgB, w.adminB, { slaBreached }, clock)).items.map((k) => k.id);
    expect(await breached('any')).not.toContain(caseId);
    await updateCaseSettings(
      w.database,
      w.orgB,
      w.adminB,
      { sla: { low: { acknowledgeMinutes: 5, resolveMinutes: 60 } } },
      clock,
    );
    c = await getCase(w.database, w.orgB, w.adminB, caseId, clock);
    expect(c.sla.acknowledge).toMatchObject({ targetMinutes: 5, breached: true });
    // The list filter agrees with the computed clocks.
    expect(await breached('acknowledge')).toContain(caseId);
    expect(await breached('any')).toContain(caseId);
    expect(await breached('resolve')).not.toContain(caseId);
    clock.advance(60 * MIN);
    expect(await breached('resolve')).toContain(caseId);
    expect((await getCase(w.database, w.orgB, w.adminB, caseId, clock)).sla.resolve.breached).toBe(true);
    // Acknowledging late keeps the acknowledge breach.
    await patchCase(w.database, w.orgB, w.adminB, caseId, { state: 'triaged' }, clock);
    expect(await breached('acknowledge')).toContain(caseId);
    // Org A's targets are untouched.
    const { caseId: a } = await openCase(w, clock, { severity: 'low' });
    clock.advance(10 * MIN);
    expect((await getCase(w.database, w.orgA, w.viewer, a, clock)).sla.acknowledge).toMatchObject({
      targetMinutes: 24 * 60,
      breached: false,
    });
    await expect(
      updateCaseSettings(
        w.database,
        w.orgB,
        w.adminB,
        { sla: { low: { acknowledgeMinutes: 90, resolveMinutes: 60 } } },
        clock,
      ),
    ).rejects.toMatchObject({ code: 'validation.case_settings' });
  });

  it('lists with filters and cursor pagination', async () => {
    const w = world();
    const clock = new ManualClock();
    const made: string[] = [];
    for (let i = 0; i < 4; i++) {
      clock.advance(1);
      made.push((await openCase(w, clock, { deviceId: `list-dev-${i}`, severity: i % 2 ? 'low' : 'medium' })).caseId);
    }
    await patchCase(w.database, w.orgA, w.analyst, made[0]!, { state: 'triaged', assigneeId: 'u_admin' }, clock);
    const byDevice = await listCases(w.database, w.orgA, w.viewer, { device: 'list-dev-2' }, clock);
    expect(byDevice.items.map((c) => c.id)).toEqual([made[2]]);
    const triaged = await listCases(w.database, w.orgA, w.viewer, { state: 'triaged', assignee: 'u_admin' }, clock);
    expect(triaged.items.map((c) => c.id)).toEqual([made[0]]);
    const low = await listCases(w.database, w.orgA, w.viewer, { severity: 'low', text: 'number' }, clock);
    expect(low.items.map((c) => c.id)).toEqual(expect.arrayContaining([made[1], made[3]]));
    expect(low.items.every((c) => c.severity === 'low')).toBe(true);
    const bySite = await listCases(w.database, w.orgA, w.viewer, { site: w.siteA2 }, clock);
    expect(bySite.items.map((c) => c.id)).not.toContain(made[0]);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const p = await listCases(w.database, w.orgA, w.viewer, { limit: 3, ...(cursor ? { cursor } : {}) }, clock);
      seen.push(...p.items.map((c) => c.id));
      cursor = p.nextCursor ?? undefined;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(made));
    await expect(listCases(w.database, w.orgA, w.viewer, { state: 'open-ish' }, clock)).rejects.toMatchObject({
      code: 'validation.case_query',
    });
    // `%` is literal in text search.
    expect((await listCases(w.database, w.orgA, w.viewer, { text: '%' }, clock)).items).toHaveLength(0);
  });
});
