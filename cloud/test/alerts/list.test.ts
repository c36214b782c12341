import { ManualClock } from '@palisade/shared';
import { expect, it } from 'vitest';
import { ingestAlerts } from '../../src/alerts/index.js';
import { getAlert, listAlerts } from '../../src/alerts/service.js';
import { seedWorld } from '../cases/fixture.js';
import { forEachDatabase } from '../helpers/databases.js';

const T0 = Date.UTC(2026, 8, 1);
const MIN = 60_000;

forEachDatabase('alert listing', seedWorld, (world) => {
  it('filters by severity, device, site, type, text and event time, newest event first, page by page', async () => {
    const w = world();
    const clock = new ManualClock(T0 + 60 * MIN);
    const mk = (i: number, over: Record<string, unknown> = {}) => ({
      deviceId: `lst-${i % 3}`,
      type: i % 2 ? 'auth_failures' : 'cert_expiring',
      severity: (i % 2 ? 'high' : 'low') as 'high' | 'low',
      title: i % 2 ? `Authentication failures ${i}` : `Certificate expiring 100% soon ${i}`,
      occurredAt: new Date(T0 + i * MIN).toISOString(),
      ...over,
    });
    await w.database.withTenant(w.orgA, (tx) =>
      ingestAlerts(
        tx,
        w.orgA,
        w.siteA1,
        w.gwA1,
        [0, 1, 2, 3, 4, 5].map((i) => mk(i)),
        { clock },
      ),
    );
    await w.database.withTenant(w.orgA, (tx) => ingestAlerts(tx, w.orgA, w.siteA2, w.gwA2, [mk(6)], { clock }));
    const all = await listAlerts(w.database, w.orgA, w.viewer, { limit: 3 });
    const rest = await listAlerts(w.database, w.orgA, w.viewer, { limit: 3, cursor: all.nextCursor! });
    const last = await listAlerts(w.database, w.orgA, w.viewer, { limit: 3, cursor: rest.nextCursor! });
    const titles = [...all.items, ...rest.items, ...last.items].map((a) => a.title);
    expect(titles.slice(0, 7)).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => mk(i).title));
    expect(
      (await listAlerts(w.database, w.orgA, w.viewer, { severity: 'high', device: 'lst-1' })).items.map((a) => a.title),
    ).toEqual([mk(1).title]);
    expect((await listAlerts(w.database, w.orgA, w.viewer, { site: w.siteA2 })).items.map((a) => a.title)).toEqual([
      mk(6).title,
    ]);
    expect(
      (
        await listAlerts(w.database, w.orgA, w.viewer, {
          type: 'cert_expiring',
          from: new Date(T0 + 2 * MIN).toISOString(),
          to: new Date(T0 + 5 * MIN).toISOString(),
        })
      ).items.map((a) => a.title),
    ).toEqual([mk(4).title, mk(2).title]);
    expect((await listAlerts(w.database, w.orgA, w.viewer, { text: '100%' })).items).toHaveLength(4);
    const one = all.items[0]!;
    expect(await getAlert(w.database, w.orgA, w.viewer, one.id)).toEqual(one);
    expect(one.link).toMatchObject({ strategy: expect.any(String), score: expect.any(Number) });
    await expect(getAlert(w.database, w.orgB, w.adminB, one.id)).rejects.toMatchObject({ code: 'not_found.alert' });
    await expect(listAlerts(w.database, w.orgA, w.viewer, { severity: 'loud' })).rejects.toMatchObject({
      code: 'validation.alert_query',
    });
    await expect(listAlerts(w.database, w.orgA, w.viewer, { cursor: 'WyJ4Il0' })).rejects.toMatchObject({
      code: 'validation.cursor',
    });
  });
});
