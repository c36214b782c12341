import type { ErrorBody, SyncAlert, SyncRecord } from '@palisade/shared';
import { expect, it } from 'vitest';
import { forEachDatabase } from '../helpers/databases.js';
import { makeWorld, type Org, ROLES, type TestGateway, type World } from '../helpers/world.js';

const FW = 'be'.repeat(32);
const HOUR = 3_600_000;

function alertRecord(
  gw: TestGateway,
  id: string,
  at: number,
  data: Partial<SyncAlert>,
): Extract<SyncRecord, { kind: 'alert' }> {
  return {
    kind: 'alert',
    id,
    occurredAt: new Date(at).toISOString(),
    receivedAt: new Date(at).toISOString(),
    data: { type: 'attestation.firmware_mismatch', severity: 'high', title: `Unknown firmware on ${gw.id}`, ...data },
  };
}

async function errorOf(res: Response): Promise<ErrorBody['error']> {
  return ((await res.json()) as ErrorBody).error;
}

forEachDatabase(
  'case and alert API',
  async (db) => makeWorld(db),
  (world) => {
    let north: TestGateway;
    let south: TestGateway;
    let caseId: string;

    it('alerts synced by two gateways about one firmware cohort land in one case, late or not', async () => {
      const w = world();
      north = await w.enrollGateway(w.org, 'plant-north');
      south = await w.enrollGateway(w.org, 'plant-south');
      const t = w.clock.now() - 2 * HOUR;
      const r1 = await north.send(
        north.batch(1, [
          alertRecord(north, 'n-1', t, { deviceId: 'plc-n1', firmwareMeasurement: FW, severity: 'medium' }),
        ]),
      );
      expect(r1.status).toBe(200);
      // South was offline: it syncs its event from 90 minutes later only now, 6 hours on.
      w.clock.advance(6 * HOUR);
      const r2 = await south.send(
        south.batch(1, [
          alertRecord(south, 's-1', t + 90 * 60_000, {
            deviceId: 'plc-s7',
            firmwareMeasurement: FW.toUpperCase(),
            severity: 'critical',
            title: 'Measurement not in reference values',
          }),
        ]),
      );
      expect(r2.status).toBe(200);
      // The same batch again (a retry) stores nothing new.
      const again = await south.send(
        south.batch(1, [
          alertRecord(south, 's-1', t + 90 * 60_000, {
            deviceId: 'plc-s7',
            firmwareMeasurement: FW.toUpperCase(),
            severity: 'critical',
            title: 'Measurement not in reference values',
          }),
        ]),
      );
      expect(again.status).toBe(200);

      const list = await w.json('GET', '/api/v1/cases?device=plc-s7', { key: w.org.keys.viewer });
      expect(list.items).toHaveLength(1);
      caseId = list.items[0].id;
      expect(list.items[0]).toMatchObject({ alertCount: 2, severity: 'critical', state: 'new' });
      const alerts = await w.json('GET', `/api/v1/alerts?caseId=${caseId}`, { key: w.org.keys.viewer });
      expect(
        alerts.items.map((a: { gatewayId: string; link: { strategy: string; score: number } }) => [
          a.gatewayId,
          a.link.strategy,
          a.link.score,
        ]),
      ).toEqual([
        [south.id, 'cohort', 0.9],
        [north.id, 'seed', 1],
      ]);
      expect(alerts.items[0]).toMatchObject({ firmwareMeasurement: FW, siteId: south.siteId });
      const one = await w.json('GET', `/api/v1/alerts/${alerts.items[0].id}`, { key: w.org.keys.viewer });
      expect(one.link).toMatchObject({ caseId, details: { deltaMs: 90 * 60_000 } });
    });

    it('works a case over HTTP: patch, comment, IOC, approvals, timeline, in the one error shape', async () => {
      const w = world();
      const k = w.org.keys;
      const c = await w.json('PATCH', `/api/v1/cases/${caseId}`, {
        key: k.analyst,
        body: { state: 'triaged', techniques: ['T0839'] },
      });
      expect(c).toMatchObject({ state: 'triaged', techniques: ['T0839'] });
      const bad = await w.call('PATCH', `/api/v1/cases/${caseId}`, { key: k.analyst, body: { state: 'resolved' } });
      // triaged → resolved is allowed; contained is not.
      expect(bad.status).toBe(200);
      const illegal = await w.call('PATCH', `/api/v1/cases/${caseId}`, {
        key: k.analyst,
        body: { state: 'contained' },
      });
      expect(illegal.status).toBe(409);
      expect(await illegal.json()).toMatchObject({
        error: {
          code: 'conflict.case_transition',
          details: { from: 'resolved', to: 'contained', allowed: ['investigating'] },
        },
      });
      const invalid = await w.call('PATCH', `/api/v1/cases/${caseId}`, {
        key: k.analyst,
        body: { severity: 'apocalyptic' },
      });
      expect(invalid.status).toBe(400);
      expect((await errorOf(invalid)).code).toMatch(/^validation\./);
      await w.json('POST', `/api/v1/cases/${caseId}/comments`, {
        key: k.analyst,
        body: { body: 'reflashed over the air' },
      });
      const ioc = await w.json('POST', `/api/v1/cases/${caseId}/iocs`, {
        key: k.analyst,
        body: { type: 'firmware_measurement', value: FW },
        expect: 200,
      });
      expect(ioc).toMatchObject({ created: true, linked: true });
      const apr = await w.json('POST', `/api/v1/cases/${caseId}/approvals`, {
        key: k.analyst,
        body: { action: 'device.quarantine' },
      });
      w.clock.advance(5 * HOUR);
      const late = await w.call('POST', `/api/v1/cases/${caseId}/approvals/${apr.id}/decision`, {
        key: k.admin,
        body: { decision: 'approve' },
      });
      expect(late.status).toBe(409);
      expect((await errorOf(late)).code).toBe('conflict.approval_expired');
      const tl = await w.json('GET', `/api/v1/cases/${caseId}/timeline?limit=100`, { key: k.viewer });
      expect(tl.items.map((e: { action: string }) => e.action)).toEqual([
        'case.created',
        'alert.linked',
        'case.severity',
        'case.state',
        'case.techniques',
        'case.state',
        'comment.added',
        'ioc.added',
        'approval.requested',
      ]);
      const missing = await w.call('GET', '/api/v1/cases/case_nope', { key: k.viewer });
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({
        error: { code: 'not_found.case', message: 'no such case', details: { caseId: 'case_nope' } },
      });
      const settings = await w.json('GET', '/api/v1/cases/settings', { key: k.viewer });
      expect(settings.sla.critical).toEqual({ acknowledgeMinutes: 15, resolveMinutes: 240 });
      const techniques = await w.json('GET', '/api/v1/cases/techniques', { key: k.viewer });
      expect(techniques.items).toContainEqual({ id: 'T0857', name: 'System Firmware' });
      const doc = await w.json('GET', '/api/v1/openapi.json');
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/cases/{id}/merge', '/api/v1/alerts']));
    });

    it('RBAC: every route × every role', async () => {
      const w = world();
      const a = await w.json('GET', `/api/v1/cases?limit=1`, { key: w.org.keys.viewer });
      const id = a.items[0].id as string;
      const routes: Array<{ method: string; path: string; body?: unknown; least: 'viewer' | 'analyst' | 'admin' }> = [
        { method: 'GET', path: '/api/v1/cases', least: 'viewer' },
        { method: 'GET', path: `/api/v1/cases/${id}`, least: 'viewer' },
        { method: 'GET', path: `/api/v1/cases/${id}/timeline`, least: 'viewer' },
        { method: 'GET', path: `/api/v1/cases/${id}/comments`, least: 'viewer' },
        { method: 'GET', path: `/api/v1/cases/${id}/iocs`, least: 'viewer' },
        { method: 'GET', path: `/api/v1/cases/${id}/approvals`, least: 'viewer' },
        { method: 'GET', path: '/api/v1/cases/settings', least: 'viewer' },
        { method: 'GET', path: '/api/v1/cases/techniques', least: 'viewer' },
        { method: 'GET', path: '/api/v1/alerts', least: 'viewer' },
        { method: 'GET', path: '/api/v1/iocs', least: 'viewer' },
        { method: 'PATCH', path: `/api/v1/cases/${id}`, body: { severity: 'high' }, least: 'analyst' },
        { method: 'POST', path: `/api/v1/cases/${id}/comments`, body: { body: 'x' }, least: 'analyst' },
        {
          method: 'POST',
          path: `/api/v1/cases/${id}/iocs`,
          body: { type: 'ip', value: '192.0.2.1' },
          least: 'analyst',
        },
        { method: 'DELETE', path: `/api/v1/cases/${id}/iocs/ioc_none`, least: 'analyst' },
        { method: 'POST', path: `/api/v1/cases/${id}/merge`, body: { sourceCaseIds: ['case_none'] }, least: 'analyst' },
        { method: 'POST', path: `/api/v1/cases/${id}/approvals`, body: { action: 'x' }, least: 'analyst' },
        {
          method: 'POST',
          path: `/api/v1/cases/${id}/approvals/apr_none/decision`,
          body: { decision: 'reject' },
          least: 'admin',
        },
        { method: 'PUT', path: '/api/v1/cases/settings', body: { approvalTtlMinutes: 240 }, least: 'admin' },
      ];
      const rank = { viewer: 0, analyst: 1, admin: 2 };
      for (const r of routes) {
        const anon = await w.call(r.method, r.path, { body: r.body });
        expect(anon.status, `${r.method} ${r.path} anonymous`).toBe(401);
        for (const role of ROLES) {
          const res = await w.call(r.method, r.path, { key: w.org.keys[role], body: r.body });
          const label = `${r.method} ${r.path} as ${role}`;
          if (rank[role] < rank[r.least]) {
            expect(res.status, label).toBe(403);
            expect((await errorOf(res)).code, label).toBe('auth.forbidden');
          } else {
            // Allowed: anything but an authorisation failure (some targets deliberately do not exist → 404).
            expect([200, 201, 404], label).toContain(res.status);
          }
        }
      }
    });

    it('another organisation sees none of it and can change none of it', async () => {
      const w: World = world();
      const other: Org = await w.addOrg('Other Co');
      const list = await w.json('GET', '/api/v1/cases', { key: other.keys.admin });
      expect(list.items).toEqual([]);
      expect((await w.json('GET', '/api/v1/alerts', { key: other.keys.admin })).items).toEqual([]);
      for (const [method, path, body] of [
        ['GET', `/api/v1/cases/${caseId}`, undefined],
        ['PATCH', `/api/v1/cases/${caseId}`, { severity: 'low' }],
        ['POST', `/api/v1/cases/${caseId}/comments`, { body: 'x' }],
        ['GET', `/api/v1/cases/${caseId}/timeline`, undefined],
      ] as const) {
        const res = await w.call(method, path, { key: other.keys.admin, body });
        expect(res.status, `${method} ${path}`).toBe(404);
      }
      const mine = await w.json('GET', `/api/v1/cases/${caseId}`, { key: w.org.keys.viewer });
      expect(mine.severity).not.toBe('low');
    });
  },
);
