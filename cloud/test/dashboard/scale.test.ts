import { expect, it } from 'vitest';
import { forEachDatabase } from '../helpers/databases.js';
import { dashWorld, PASSWORD, seedScale, USERS } from './fixture.js';

/**
 * 10,000 devices and 5,000 cases: every list page stays bounded (≤ 50 rows, small HTML) because paging, filtering
 * and counting happen in the database. The times are printed for the record, not asserted (see BENCHMARKS.md).
 */
forEachDatabase(
  'SOC dashboard at fleet scale',
  async (database) => {
    const w = await dashWorld(database);
    await seedScale(database, 10_000, 5_000, w.clock.now());
    return w;
  },
  (world, target) => {
    it('pages cases, devices, alerts and the fleet without loading whole tables', async () => {
      const w = world();
      const login = await w.app.request('/dashboard/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email: USERS.viewer, password: PASSWORD }).toString(),
      });
      const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const timings: Record<string, number> = {};
      const pages: [string, RegExp][] = [
        ['/dashboard/cases', /<tr data-case=/g],
        ['/dashboard/cases?severity=critical&state=all', /<tr data-case=/g],
        ['/dashboard/fleet/devices', /<tr data-device=/g],
        ['/dashboard/fleet/devices?page=150&status=affirming', /<tr data-device=/g],
        ['/dashboard/fleet/devices?q=bulk-09', /<tr data-device=/g],
        ['/dashboard/fleet', /<tr data-gateway=/g],
        ['/dashboard/alerts', /<tr>/g],
        ['/dashboard?range=7d', /class="stat"/g],
      ];
      for (const [path, row] of pages) {
        const t0 = performance.now();
        const res = await w.app.request(path, { headers: { cookie } });
        const html = await res.text();
        timings[path] = Math.round(performance.now() - t0);
        expect(res.status, path).toBe(200);
        const rows = html.match(row)?.length ?? 0;
        expect(rows, path).toBeGreaterThan(0);
        expect(rows, path).toBeLessThanOrEqual(51);
        expect(html.length, path).toBeLessThan(250_000);
      }
      const cases = await (await w.app.request('/dashboard/cases', { headers: { cookie } })).text();
      expect(cases).toContain('rel="next"');
      const devices = await (await w.app.request('/dashboard/fleet/devices', { headers: { cookie } })).text();
      expect(devices).toContain('of 10006');
      console.log(JSON.stringify({ target: target.name, dashboardPagesMs: timings }));
    });
  },
);
