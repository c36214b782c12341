import { eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { commands } from '../../src/commands/schema.js';
import { forEachDatabase } from '../helpers/databases.js';
import { COHORT, type DashWorld, dashWorld, PASSWORD, TAMPERED, USERS } from './fixture.js';

type Role = keyof typeof USERS;
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

async function signIn(w: DashWorld, role: Role): Promise<{ cookie: string; csrf: string }> {
  const res = await w.app.request('/dashboard/login', {
    method: 'POST',
    headers: FORM,
    body: new URLSearchParams({ email: USERS[role], password: PASSWORD }).toString(),
  });
  expect(res.status).toBe(303);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const html = await (await w.app.request('/dashboard/cases', { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  expect(csrf).not.toBe('');
  return { cookie, csrf };
}

const get = async (w: DashWorld, path: string, cookie: string) => {
  const res = await w.app.request(path, { headers: { cookie } });
  return { status: res.status, html: await res.text() };
};
const post = (w: DashWorld, path: string, cookie: string, fields: Record<string, string>) =>
  w.app.request(path, { method: 'POST', headers: { ...FORM, cookie }, body: new URLSearchParams(fields).toString() });

/** The JSON a chart was given, as the browser's script reads it from the attribute. */
function chart(html: string, id: string): { x: number[]; series: { label: string; y: (number | null)[] }[] } {
  const raw = new RegExp(`id="${id}" data-chart="([^"]+)"`).exec(html)?.[1] ?? '{}';
  return JSON.parse(raw.replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&'));
}

forEachDatabase(
  'SOC dashboard',
  (database) => dashWorld(database),
  (world) => {
    it('sends a visitor to sign in; a wrong password is refused; the session cookie is HttpOnly and SameSite=Strict', async () => {
      const w = world();
      const anon = await w.app.request('/dashboard/cases');
      expect(anon.status).toBe(303);
      expect(anon.headers.get('location')).toBe('/dashboard/login');
      const bad = await w.app.request('/dashboard/login', {
        method: 'POST',
        headers: FORM,
        body: `email=${USERS.analyst}&password=nope`,
      });
      expect(bad.status).toBe(401);
      expect(bad.headers.get('set-cookie')).toBeNull();
      const ok = await w.app.request('/dashboard/login', {
        method: 'POST',
        headers: FORM,
        body: new URLSearchParams({ email: USERS.analyst, password: PASSWORD }).toString(),
      });
      const set = ok.headers.get('set-cookie') ?? '';
      expect(set).toMatch(/^palisade_session=/);
      expect(set).toMatch(/HttpOnly/);
      expect(set).toMatch(/SameSite=Strict/);
      expect(ok.headers.get('x-frame-options')).toBe('DENY');
      expect((await w.app.request('/dashboard/login')).headers.get('content-security-policy')).toContain(
        "frame-ancestors 'none'",
      );
      expect((await w.app.request('/dashboard/cases', { headers: { cookie: 'palisade_session=forged' } })).status).toBe(
        303,
      );
    });

    it('the overview charts attestation pass rate and alerts by severity from the stored results', async () => {
      const w = world();
      const { cookie } = await signIn(w, 'viewer');
      const { html } = await get(w, '/dashboard?range=24h', cookie);
      const pass = chart(html, 'pass-rate-chart');
      const all = pass.series[0]?.y.filter((v): v is number => v !== null) ?? [];
      expect(all.length).toBeGreaterThanOrEqual(20);
      expect(Math.min(...all)).toBeCloseTo((100 * 5) / 6, 5); // the last hours: the tampered device fails
      expect(Math.max(...all)).toBe(100);
      expect(pass.series.map((s) => s.label)).toEqual(
        expect.arrayContaining(['all sites', 'Plant North', 'Plant South']),
      );
      const alerts = chart(html, 'alerts-chart');
      expect(alerts.series.map((s) => s.label).sort()).toEqual(['critical', 'high', 'medium']);
      expect(alerts.series.flatMap((s) => s.y).reduce<number>((a, b) => a + (b ?? 0), 0)).toBe(3);
      expect(html).not.toContain('secret-device');
    });

    it('lists cases with severity and SLA clocks, filters them, and shows a case with its linked alerts, strategy and score', async () => {
      const w = world();
      const { cookie } = await signIn(w, 'analyst');
      const list = await get(w, '/dashboard/cases', cookie);
      expect(list.html).toContain(`Attestation failed on ${TAMPERED}`);
      expect(list.html).toMatch(/ack (due in|overdue)/);
      const critical = await get(w, '/dashboard/cases?severity=critical', cookie);
      expect(critical.html).toContain(TAMPERED);
      expect(critical.html).not.toContain('Message rate anomaly');
      const caseId = /data-case="([^"]+)"/.exec(critical.html)?.[1] ?? '';
      const detail = await get(w, `/dashboard/cases/${caseId}`, cookie);
      expect(detail.status).toBe(200);
      const linked = /<table id="linked-alerts">([\s\S]*?)<\/table>/.exec(detail.html)?.[1] ?? '';
      expect(linked).toContain('Boot counter went backwards');
      expect(linked).toMatch(/<span class="badge">[a-z_]+<\/span><\/td><td class="num">\d\.\d\d<\/td>/);
      expect(detail.html).toContain(`href="/dashboard/devices/${TAMPERED}"`);
      expect(detail.html).toContain('data-transition="triaged"');
    });

    it('an analyst comments and moves a case; a viewer sees no controls and is refused if posting anyway', async () => {
      const w = world();
      const a = await signIn(w, 'analyst');
      const v = await signIn(w, 'viewer');
      const caseId =
        /data-case="([^"]+)"/.exec((await get(w, '/dashboard/cases?severity=critical', a.cookie)).html)?.[1] ?? '';
      expect(
        (
          await post(w, `/dashboard/cases/${caseId}/comments`, a.cookie, {
            _csrf: a.csrf,
            body: 'Pulled the <b>board</b> for forensics',
          })
        ).status,
      ).toBe(303);
      const version =
        /name="version" value="(\d+)"/.exec((await get(w, `/dashboard/cases/${caseId}`, a.cookie)).html)?.[1] ?? '1';
      await post(w, `/dashboard/cases/${caseId}/state`, a.cookie, { _csrf: a.csrf, state: 'triaged', version });
      const moved = (await get(w, `/dashboard/cases/${caseId}`, a.cookie)).html;
      expect(moved).toContain('Case moved to triaged.');
      const v2 = /name="version" value="(\d+)"/.exec(moved)?.[1] ?? '1';
      await post(w, `/dashboard/cases/${caseId}/assign`, a.cookie, { _csrf: a.csrf, version: v2 });
      const after = await get(w, `/dashboard/cases/${caseId}`, a.cookie);
      expect(after.html).toContain(`assigned to ${USERS.analyst}`);
      expect(after.html).toContain('Pulled the &lt;b&gt;board&lt;/b&gt; for forensics');
      expect(after.html).toContain('The case is assigned to you.');
      expect(after.html).toContain('case.state');
      const seen = await get(w, `/dashboard/cases/${caseId}`, v.cookie);
      expect(seen.html).not.toContain('id="case-actions"');
      expect(seen.html).toContain('case actions are hidden');
      expect(
        (await post(w, `/dashboard/cases/${caseId}/comments`, v.cookie, { _csrf: v.csrf, body: 'viewer' })).status,
      ).toBe(403);
      expect((await post(w, `/dashboard/cases/${caseId}/comments`, a.cookie, { body: 'no token' })).status).toBe(403);
      expect(
        (await post(w, `/dashboard/cases/${caseId}/comments`, a.cookie, { _csrf: v.csrf, body: 'wrong token' })).status,
      ).toBe(403);
      expect((await get(w, `/dashboard/cases/${caseId}`, a.cookie)).html).not.toContain('wrong token');
    });

    it('shows the fleet: sites, gateways with last seen and sync lag, pass rate per site and per firmware cohort', async () => {
      const w = world();
      const { cookie } = await signIn(w, 'viewer');
      const { html } = await get(w, '/dashboard/fleet', cookie);
      expect(html).toContain('Acme Water');
      const south = /<div class="card" data-site="site_south">([\s\S]*?)<\/table><\/div>/.exec(html)?.[1] ?? '';
      expect(south).toContain('gw-south-1');
      expect(south).toContain('45s');
      expect(south).toContain('66.7 %');
      const cohorts = /<table id="cohorts">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';
      expect(cohorts).toContain(COHORT.slice(0, 16));
      expect(cohorts).toContain('50.0 %');
      expect(html).not.toContain('Elsewhere');
      const devices = await get(w, '/dashboard/fleet/devices?status=contraindicated', cookie);
      expect(devices.html.match(/<tr data-device=/g)?.length).toBe(1);
      expect((await get(w, '/dashboard/devices/secret-device', cookie)).status).toBe(404);
    });

    it('an analyst quarantines a device from its page and sees the delivery state; a viewer cannot', async () => {
      const w = world();
      const a = await signIn(w, 'analyst');
      const v = await signIn(w, 'viewer');
      const viewerPage = await get(w, `/dashboard/devices/${TAMPERED}`, v.cookie);
      expect(viewerPage.html).not.toContain('id="command-form"');
      const refused = await post(w, '/dashboard/commands', v.cookie, {
        _csrf: v.csrf,
        type: 'quarantine',
        targetKind: 'device',
        deviceId: TAMPERED,
        reason: 'x',
      });
      expect(refused.status).toBe(403);
      expect(await w.database.db.select().from(commands).where(eq(commands.orgId, 'org_acme'))).toHaveLength(0);
      const sent = await post(w, '/dashboard/commands', a.cookie, {
        _csrf: a.csrf,
        type: 'quarantine',
        targetKind: 'device',
        deviceId: 'esp32-meter-01',
        reason: 'same cohort as the tampered meter',
        return: '/devices/esp32-meter-01',
      });
      expect(sent.headers.get('location')).toBe('/dashboard/devices/esp32-meter-01');
      const page = await get(w, '/dashboard/devices/esp32-meter-01', a.cookie);
      expect(page.html).toMatch(/Command cmd_\w+ issued to 1 gateway/);
      expect(page.html).toContain('data-delivery="pending"');
      const cohort = await post(w, '/dashboard/commands', a.cookie, {
        _csrf: a.csrf,
        type: 'reattest',
        targetKind: 'cohort',
        measurement: COHORT,
      });
      expect(cohort.status).toBe(303);
      const list = await get(w, '/dashboard/commands', a.cookie);
      expect(list.html).toContain('reattest</b> → cohort');
      expect(list.html).toContain('2 device(s)');
      const nowhere = await post(w, '/dashboard/commands', a.cookie, {
        _csrf: a.csrf,
        type: 'release',
        targetKind: 'device',
        deviceId: 'secret-device',
      });
      expect(nowhere.status).toBe(303);
      expect((await get(w, '/dashboard/commands', a.cookie)).html).toContain('Not sent: the target matches no device');
    });

    it('answers bad input with an error page, never a crash: unknown case, forged cursor, oversized filters', async () => {
      const w = world();
      const { cookie } = await signIn(w, 'viewer');
      const missing = await get(w, '/dashboard/cases/case_does_not_exist', cookie);
      expect(missing.status).toBe(404);
      expect(missing.html).toContain('not_found.case');
      const cursor = await get(w, '/dashboard/cases?cursor=%7B%22not%22%3A1%7D', cookie);
      expect(cursor.status).toBe(400);
      expect(cursor.html).toContain('Request refused');
      const long = await get(w, `/dashboard/fleet/devices?q=${'x'.repeat(5000)}&page=-3&status=<script>`, cookie);
      expect(long.status).toBe(200);
      expect(long.html).not.toContain('<script>');
      expect((await get(w, '/dashboard/alerts?before=not-a-cursor', cookie)).status).toBe(200);
    });

    it('the alert stream lists alerts newest first with the case they were correlated into', async () => {
      const w = world();
      const { cookie } = await signIn(w, 'viewer');
      const { html } = await get(w, '/dashboard/alerts', cookie);
      const rows = /<table id="alert-stream">([\s\S]*?)<\/table>/.exec(html)?.[1] ?? '';
      expect(rows.match(/<tr>/g)?.length).toBe(4); // header + 3
      expect(rows).toMatch(/<a href="\/dashboard\/cases\/[^"]+">case<\/a>/);
      expect(html).toContain('data-refresh="10"');
    });
  },
);
