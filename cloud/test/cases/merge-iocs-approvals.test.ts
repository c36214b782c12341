import { ManualClock } from '@palisade/shared';
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  addCaseIoc,
  addComment,
  decideApproval,
  getCase,
  listApprovals,
  listApprovalsPage,
  listCaseIocs,
  listCaseIocsPage,
  listCases,
  listComments,
  listIocs,
  listTimeline,
  mergeCases,
  normaliseIoc,
  patchCase,
  removeCaseIoc,
  requestApproval,
  updateCaseSettings,
} from '../../src/cases/index.js';
import { caseAlerts, cases, iocs } from '../../src/cases/schema.js';
import { forEachDatabase } from '../helpers/databases.js';
import { openCase, seedWorld } from './fixture.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

describe('IOC normalisation', () => {
  it('gives each indicator one spelling', () => {
    expect(normaliseIoc('sha256', 'AB'.repeat(32))).toBe('ab'.repeat(32));
    expect(normaliseIoc('domain', 'Evil.Example.COM.')).toBe('evil.example.com');
    expect(normaliseIoc('mac', 'AA-BB-CC-DD-EE-0F')).toBe('aa:bb:cc:dd:ee:0f');
    expect(normaliseIoc('cert_serial', '00:0A:FF')).toBe('aff');
    expect(normaliseIoc('url', 'HTTP://Example.com/a b')).toBe('http://example.com/a%20b');
    expect(normaliseIoc('ip', '2001:DB8::1')).toBe('2001:db8::1');
  });
  it('refuses what is not the type it claims, with a reason code', () => {
    for (const [type, value] of [
      ['ip', '999.1.1.1'],
      ['sha256', 'abc'],
      ['domain', 'no_underscores.example'],
      ['url', 'javascript:alert(1)'],
      ['device_id', 'a/b'],
      ['mac', '11:22'],
    ] as const) {
      expect(() => normaliseIoc(type, value)).toThrow(expect.objectContaining({ code: 'validation.ioc' }));
    }
  });
});

forEachDatabase('merge, IOCs, approvals, isolation', seedWorld, (world) => {
  it('merges cases: alerts, IOCs, comments and timeline move; merged cases close with a pointer', async () => {
    const w = world();
    const clock = new ManualClock(Date.UTC(2027, 1, 1));
    const target = await openCase(w, clock, { severity: 'medium', techniques: ['T0839'] });
    const s1 = await openCase(w, clock, { severity: 'critical', techniques: ['T0857'] });
    const s2 = await openCase(w, clock, { severity: 'low' });
    const ip = { type: 'ip' as const, value: '203.0.113.9' };
    await addCaseIoc(w.database, w.orgA, w.analyst, target.caseId, ip, clock);
    await addCaseIoc(w.database, w.orgA, w.analyst, s1.caseId, ip, clock);
    await addCaseIoc(w.database, w.orgA, w.analyst, s1.caseId, { type: 'device_id', value: 'plc-4' }, clock);
    await addComment(w.database, w.orgA, w.analyst, s2.caseId, { body: 'same actor as the other one' }, clock);
    await patchCase(w.database, w.orgA, w.analyst, s2.caseId, { state: 'triaged' }, clock);
    clock.advance(HOUR);

    const merged = await mergeCases(
      w.database,
      w.orgA,
      w.analyst,
      target.caseId,
      { sourceCaseIds: [s1.caseId, s2.caseId, s1.caseId], note: 'one campaign' },
      clock,
    );
    expect(merged).toMatchObject({ alertCount: 3, severity: 'critical', techniques: ['T0839', 'T0857'] });
    const links = await w.database.withTenant(w.orgA, (tx) =>
      tx.select().from(caseAlerts).where(eq(caseAlerts.caseId, target.caseId)),
    );
    expect(links.map((l) => l.alertId).sort()).toEqual([target.alertId, s1.alertId, s2.alertId].sort());
    expect(links.every((l) => l.strategy === 'seed')).toBe(true);
    const iocList = await listCaseIocs(w.database, w.orgA, w.viewer, target.caseId);
    expect(iocList.map((i) => `${i.type}:${i.value}`)).toEqual(['device_id:plc-4', 'ip:203.0.113.9']);
    const comments = await listComments(w.database, w.orgA, w.viewer, target.caseId, {});
    expect(comments.items.map((c) => c.body)).toEqual(['same actor as the other one']);
    const tl = await listTimeline(w.database, w.orgA, w.viewer, target.caseId, { limit: 100 });
    expect(tl.items.filter((e) => e.action === 'case.created')).toHaveLength(3);
    expect(tl.items.at(-1)).toMatchObject({
      action: 'case.merged',
      actorId: 'u_analyst',
      after: { sourceCaseIds: [s1.caseId, s2.caseId].sort(), note: 'one campaign', alertCount: 3 },
    });
    for (const s of [s1, s2]) {
      const c = await getCase(w.database, w.orgA, w.viewer, s.caseId, clock);
      expect(c).toMatchObject({ state: 'merged', mergedIntoId: target.caseId, alertCount: 0, allowedTransitions: [] });
      const own = await listTimeline(w.database, w.orgA, w.viewer, s.caseId, {});
      expect(own.items.map((e) => e.action)).toEqual(['case.merged_into']);
      await expect(
        patchCase(w.database, w.orgA, w.analyst, s.caseId, { state: 'investigating' }, clock),
      ).rejects.toMatchObject({
        code: 'conflict.case_merged',
        details: { mergedIntoId: target.caseId },
      });
    }
    // Merged cases leave the default list but can be asked for.
    const open = await listCases(w.database, w.orgA, w.viewer, { limit: 500 }, clock);
    expect(open.items.map((c) => c.id)).not.toContain(s1.caseId);
    const gone = await listCases(w.database, w.orgA, w.viewer, { state: 'merged' }, clock);
    expect(gone.items.map((c) => c.id)).toEqual(expect.arrayContaining([s1.caseId, s2.caseId]));
  });

  it('refuses bad merges, leaving every case as it was', async () => {
    const w = world();
    const clock = new ManualClock(Date.UTC(2027, 2, 1));
    const a = await openCase(w, clock);
    const b = await openCase(w, clock);
    const foreign = await openCase(w, clock, {}, w.orgB);
    await expect(
      mergeCases(w.database, w.orgA, w.analyst, a.caseId, { sourceCaseIds: [a.caseId] }, clock),
    ).rejects.toMatchObject({
      code: 'validation.merge_self',
    });
    await expect(
      mergeCases(w.database, w.orgA, w.analyst, a.caseId, { sourceCaseIds: [b.caseId, foreign.caseId] }, clock),
    ).rejects.toMatchObject({ code: 'not_found.case', details: { caseIds: [foreign.caseId] } });
    await expect(
      mergeCases(w.database, w.orgA, w.viewer, a.caseId, { sourceCaseIds: [b.caseId] }, clock),
    ).rejects.toMatchObject({
      code: 'auth.forbidden',
    });
    await expect(
      mergeCases(w.database, w.orgA, w.analyst, a.caseId, { sourceCaseIds: [] }, clock),
    ).rejects.toMatchObject({
      code: 'validation.merge',
    });
    expect((await getCase(w.database, w.orgA, w.viewer, b.caseId, clock)).state).toBe('new');
    expect((await getCase(w.database, w.orgB, w.adminB, foreign.caseId, clock)).state).toBe('new');
    await mergeCases(w.database, w.orgA, w.analyst, a.caseId, { sourceCaseIds: [b.caseId] }, clock);
    await expect(
      mergeCases(w.database, w.orgA, w.analyst, a.caseId, { sourceCaseIds: [b.caseId] }, clock),
    ).rejects.toMatchObject({
      code: 'conflict.case_merged',
    });
  });

  it('IOCs are unique by (type, value) per organisation and shared between cases', async () => {
    const w = world();
    const clock = new ManualClock(Date.UTC(2027, 3, 1));
    const a = await openCase(w, clock);
    const b = await openCase(w, clock);
    const fw = 'EF'.repeat(32);
    const r1 = await addCaseIoc(
      w.database,
      w.orgA,
      w.analyst,
      a.caseId,
      { type: 'firmware_measurement', value: fw },
      clock,
    );
    expect(r1).toMatchObject({ created: true, linked: true, ioc: { value: fw.toLowerCase() } });
    clock.advance(MIN);
    const r2 = await addCaseIoc(
      w.database,
      w.orgA,
      w.analyst,
      b.caseId,
      { type: 'firmware_measurement', value: fw.toLowerCase() },
      clock,
    );
    expect(r2).toMatchObject({ created: false, linked: true, ioc: { id: r1.ioc.id } });
    expect(r2.ioc.lastSeenAt > r2.ioc.firstSeenAt).toBe(true);
    const r3 = await addCaseIoc(
      w.database,
      w.orgA,
      w.analyst,
      b.caseId,
      { type: 'firmware_measurement', value: fw },
      clock,
    );
    expect(r3).toMatchObject({ created: false, linked: false });
    // Another organisation gets its own row for the same indicator.
    const foreign = await openCase(w, clock, {}, w.orgB);
    const rb = await addCaseIoc(
      w.database,
      w.orgB,
      w.adminB,
      foreign.caseId,
      { type: 'firmware_measurement', value: fw },
      clock,
    );
    expect(rb.created).toBe(true);
    expect(rb.ioc.id).not.toBe(r1.ioc.id);
    const rows = await w.database.withTenant(w.orgA, (tx) =>
      tx.select().from(iocs).where(sql`${iocs.type} = 'firmware_measurement' and ${iocs.value} = ${fw.toLowerCase()}`),
    );
    expect(rows).toHaveLength(1);
    // The database itself refuses a second row, whatever the service does.
    await expect(
      w.database.withTenant(w.orgA, (tx) =>
        tx.insert(iocs).values({
          id: 'ioc_dup',
          orgId: w.orgA,
          type: 'firmware_measurement',
          value: fw.toLowerCase(),
          firstSeenAt: new Date(),
          lastSeenAt: new Date(),
        }),
      ),
    ).rejects.toThrow();
    await removeCaseIoc(w.database, w.orgA, w.analyst, b.caseId, r1.ioc.id, clock);
    expect(await listCaseIocs(w.database, w.orgA, w.viewer, b.caseId)).toHaveLength(0);
    expect(await listCaseIocs(w.database, w.orgA, w.viewer, a.caseId)).toHaveLength(1);
    await expect(removeCaseIoc(w.database, w.orgA, w.analyst, b.caseId, r1.ioc.id, clock)).rejects.toMatchObject({
      code: 'not_found.ioc',
    });
    const tl = await listTimeline(w.database, w.orgA, w.viewer, b.caseId, {});
    expect(tl.items.map((e) => e.action)).toEqual(['case.created', 'ioc.added', 'ioc.removed']);
  });

  it('lists indicators per case and across the organisation, paged, with the cases that carry each', async () => {
    const w = world();
    const clock = new ManualClock(Date.UTC(2027, 7, 1));
    const a = await openCase(w, clock);
    const b = await openCase(w, clock);
    for (const v of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
      await addCaseIoc(w.database, w.orgA, w.analyst, a.caseId, { type: 'ip', value: v }, clock);
    }
    await addCaseIoc(w.database, w.orgA, w.analyst, a.caseId, { type: 'domain', value: 'c2.example.net' }, clock);
    await addCaseIoc(w.database, w.orgA, w.analyst, b.caseId, { type: 'ip', value: '198.51.100.2' }, clock);
    const p1 = await listCaseIocsPage(w.database, w.orgA, w.viewer, a.caseId, { limit: 3 });
    const p2 = await listCaseIocsPage(w.database, w.orgA, w.viewer, a.caseId, { limit: 3, cursor: p1.nextCursor! });
    expect([...p1.items, ...p2.items].map((i) => i.value)).toEqual([
      'c2.example.net',
      '198.51.100.1',
      '198.51.100.2',
      '198.51.100.3',
    ]);
    expect(p2.nextCursor).toBeNull();
    const ips = await listCaseIocsPage(w.database, w.orgA, w.viewer, a.caseId, { type: 'ip' });
    expect(ips.items).toHaveLength(3);
    const shared = await listIocs(w.database, w.orgA, w.viewer, { type: 'ip', value: '100.2' });
    expect(shared.items).toEqual([
      expect.objectContaining({ value: '198.51.100.2', caseIds: [a.caseId, b.caseId].sort() }),
    ]);
    expect((await listIocs(w.database, w.orgB, w.adminB, { value: '198.51.100' })).items).toEqual([]);
  });

  it('lists approvals by effective status', async () => {
    const w = world();
    const clock = new ManualClock(Date.UTC(2027, 8, 1));
    const { caseId } = await openCase(w, clock);
    const old = await requestApproval(
      w.database,
      w.orgA,
      w.analyst,
      caseId,
      { action: 'a.one', ttlMinutes: 10 },
      clock,
    );
    clock.advance(20 * MIN);
    const live = await requestApproval(w.database, w.orgA, w.analyst, caseId, { action: 'a.two' }, clock);
    clock.advance(1); // ids are time-ordered: one millisecond apart lists them in request order
    const done = await requestApproval(w.database, w.orgA, w.analyst, caseId, { action: 'a.three' }, clock);
    await decideApproval(w.database, w.orgA, w.admin, caseId, done.id, { decision: 'reject' }, clock);
    const ids = async (status?: 'pending' | 'expired' | 'rejected') =>
      (await listApprovalsPage(w.database, w.orgA, w.viewer, caseId, status ? { status } : {}, clock)).items.map(
        (a) => a.id,
      );
    expect(await ids('expired')).toEqual([old.id]);
    expect(await ids('pending')).toEqual([live.id]);
    expect(await ids('rejected')).toEqual([done.id]);
    expect(await ids()).toEqual([old.id, live.id, done.id]);
  });

  it('approvals expire: an expired request cannot be approved, a live one can, once, by someone else', async () => {
    const w = world();
    const clock = new ManualClock(Date.UTC(2027, 4, 1));
    const { caseId } = await openCase(w, clock);
    const a1 = await requestApproval(
      w.database,
      w.orgA,
      w.analyst,
      caseId,
      { action: 'device.quarantine', reason: 'reflashed' },
      clock,
    );
    expect(a1).toMatchObject({ status: 'pending', expiresAt: new Date(clock.now() + 4 * HOUR).toISOString() });
    clock.advance(4 * HOUR);
    const [listed] = await listApprovals(w.database, w.orgA, w.viewer, caseId, clock);
    expect(listed?.status).toBe('expired');
    await expect(
      decideApproval(w.database, w.orgA, w.admin, caseId, a1.id, { decision: 'approve' }, clock),
    ).rejects.toMatchObject({ code: 'conflict.approval_expired' });

    const a2 = await requestApproval(
      w.database,
      w.orgA,
      w.admin,
      caseId,
      { action: 'device.quarantine', ttlMinutes: 30 },
      clock,
    );
    await expect(
      decideApproval(w.database, w.orgA, w.admin, caseId, a2.id, { decision: 'approve' }, clock),
    ).rejects.toMatchObject({ code: 'auth.self_approval' });
    await expect(
      decideApproval(w.database, w.orgA, w.analyst, caseId, a2.id, { decision: 'approve' }, clock),
    ).rejects.toMatchObject({ code: 'auth.forbidden' });
    clock.advance(29 * MIN);
    const ok = await decideApproval(
      w.database,
      w.orgA,
      w.admin2,
      caseId,
      a2.id,
      { decision: 'approve', note: 'go' },
      clock,
    );
    expect(ok).toMatchObject({ status: 'approved', decidedBy: 'u_admin2', decisionNote: 'go' });
    await expect(
      decideApproval(w.database, w.orgA, w.admin2, caseId, a2.id, { decision: 'reject' }, clock),
    ).rejects.toMatchObject({ code: 'conflict.approval_decided' });
    // Decided approvals never turn into "expired".
    clock.advance(10 * HOUR);
    expect((await listApprovals(w.database, w.orgA, w.viewer, caseId, clock)).map((a) => a.status)).toEqual([
      'expired',
      'approved',
    ]);
    const tl = await listTimeline(w.database, w.orgA, w.viewer, caseId, {});
    expect(tl.items.map((e) => e.action)).toEqual([
      'case.created',
      'approval.requested',
      'approval.requested',
      'approval.approved',
    ]);
    await expect(requestApproval(w.database, w.orgA, w.viewer, caseId, { action: 'x' }, clock)).rejects.toMatchObject({
      code: 'auth.forbidden',
    });
  });

  it('the approval lifetime is the admin-configured cap', async () => {
    const w = world();
    const clock = new ManualClock(Date.UTC(2027, 5, 1));
    const { caseId } = await openCase(w, clock, {}, w.orgB);
    await updateCaseSettings(w.database, w.orgB, w.adminB, { approvalTtlMinutes: 10 }, clock);
    const a = await requestApproval(
      w.database,
      w.orgB,
      w.adminB,
      caseId,
      { action: 'firmware.rollback', ttlMinutes: 600 },
      clock,
    );
    expect(a.expiresAt).toBe(new Date(clock.now() + 10 * MIN).toISOString());
  });

  it('cases of one organisation cannot be read or changed from another, even with a known id', async () => {
    const w = world();
    const clock = new ManualClock(Date.UTC(2027, 6, 1));
    const { caseId } = await openCase(w, clock);
    const tries: Array<() => Promise<unknown>> = [
      () => getCase(w.database, w.orgB, w.adminB, caseId, clock),
      () => patchCase(w.database, w.orgB, w.adminB, caseId, { state: 'triaged' }, clock),
      () => addComment(w.database, w.orgB, w.adminB, caseId, { body: 'x' }, clock),
      () => listTimeline(w.database, w.orgB, w.adminB, caseId, {}),
      () => addCaseIoc(w.database, w.orgB, w.adminB, caseId, { type: 'ip', value: '10.0.0.1' }, clock),
      () => requestApproval(w.database, w.orgB, w.adminB, caseId, { action: 'x' }, clock),
    ];
    for (const t of tries) await expect(t()).rejects.toMatchObject({ code: 'not_found.case' });
    const listB = await listCases(w.database, w.orgB, w.adminB, { limit: 500 }, clock);
    expect(listB.items.map((c) => c.id)).not.toContain(caseId);
    // Row-level security: org B's transaction cannot see or update org A's case even without an org filter.
    const raw = await w.database.withTenant(w.orgB, (tx) => tx.select().from(cases).where(eq(cases.id, caseId)));
    expect(raw).toHaveLength(0);
    const updated = await w.database.withTenant(w.orgB, (tx) =>
      tx.update(cases).set({ state: 'resolved' }).where(eq(cases.id, caseId)).returning(),
    );
    expect(updated).toHaveLength(0);
    // Writing a row into another organisation is refused by the policy's check.
    await expect(
      w.database.withTenant(w.orgB, (tx) =>
        tx.insert(cases).values({
          id: 'case_smuggled',
          orgId: w.orgA,
          title: 'x',
          state: 'new',
          severity: 'low',
          createdAt: new Date(),
          updatedAt: new Date(),
        }),
      ),
    ).rejects.toThrow();
    expect((await getCase(w.database, w.orgA, w.viewer, caseId, clock)).state).toBe('new');
  });
});
