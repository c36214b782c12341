import { expect, it } from 'vitest';
import { createCloudApp } from '../../src/app.js';
import { openDatabase } from '../../src/db/open-database.js';
import { loadOrCreateCa } from '../../src/gateways/ca.js';
import { forEachDatabase } from '../helpers/databases.js';
import { gatewayClient, makeWorld, readJson } from '../helpers/world.js';

forEachDatabase(
  'service surface',
  (db) => makeWorld(db),
  (world) => {
    it('answers /health, and one error shape for unknown routes and malformed bodies', async () => {
      const w = world();
      const health = await w.call('GET', '/health');
      expect(health.status).toBe(200);
      expect(await readJson(health)).toMatchObject({ status: 'ok' });
      const missing = await w.call('GET', '/api/v1/nothing-here', { key: w.org.keys.viewer });
      expect(missing.status).toBe(404);
      expect(await readJson(missing)).toEqual({ error: { code: 'not_found.route', message: expect.any(String) } });
      const malformed = await w.app.request('/api/v1/sites', {
        method: 'POST',
        headers: { authorization: `Bearer ${w.org.keys.admin}`, 'content-type': 'application/json' },
        body: '{"name":',
      });
      expect(malformed.status).toBe(400);
      expect((await readJson(malformed)).error.code).toBe('validation.malformed_body');
      const invalid = await w.call('POST', '/api/v1/sites', { key: w.org.keys.admin, body: { name: '' } });
      expect(invalid.status).toBe(400);
      const body = await readJson(invalid);
      expect(body.error.code).toBe('validation.request');
      expect(body.error.details.issues[0].path).toBe('name');
      const huge = await w.call('POST', '/api/v1/sites', {
        key: w.org.keys.admin,
        body: { name: 'x'.repeat(300 * 1024) },
      });
      expect(huge.status).toBe(413);
      const badCursor = await w.call('GET', '/api/v1/devices?cursor=%%%', { key: w.org.keys.viewer });
      expect((await readJson(badCursor)).error.code).toBe('validation.cursor');
    });

    it('serves the OpenAPI document generated from the zod schemas and a self-contained reference page', async () => {
      const w = world();
      const doc = await w.json('GET', '/api/v1/openapi.json');
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.paths['/api/v1/devices'].get.parameters.map((p: { name: string }) => p.name)).toEqual(
        expect.arrayContaining(['limit', 'cursor', 'siteId', 'boardFamily', 'attestationStatus']),
      );
      expect(doc.components.schemas.SyncBatch).toBeDefined();
      const page = await w.call('GET', '/api/v1/docs');
      expect(page.headers.get('content-type')).toMatch(/text\/html/);
      const html = await page.text();
      expect(html).toContain('/api/v1/firmware-cohorts');
      expect(html).not.toMatch(/<script|<link|https?:\/\/(?!palisade)/);
    });

    it('paginates every list with limit and cursor, without gaps or repeats', async () => {
      const w = world();
      const gw = await w.enrollGateway(w.org, 'paging');
      const now = new Date(w.clock.now()).toISOString();
      const records = Array.from({ length: 7 }, (_, i) => ({
        kind: 'device' as const,
        id: `page-${i}`,
        occurredAt: now,
        receivedAt: now,
        data: {
          boardFamily: i % 2 ? ('esp32' as const) : ('nrf52' as const),
          attestationStatus: 'affirming' as const,
          quarantined: false,
          riskScore: i * 10,
          firmwareMeasurement: `${i % 3}`.repeat(64),
        },
      }));
      expect((await gw.send(gw.batch(1, records))).status).toBe(200);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = `/api/v1/devices?siteId=${gw.siteId}&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
        const page = await w.json('GET', q, { key: w.org.keys.viewer });
        expect(page.items.length).toBeLessThanOrEqual(3);
        seen.push(...page.items.map((d: { id: string }) => d.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual(records.map((r) => r.id));
      const esp = await w.json('GET', `/api/v1/devices?siteId=${gw.siteId}&boardFamily=esp32&minRiskScore=30`, {
        key: w.org.keys.viewer,
      });
      expect(esp.items.map((d: { id: string }) => d.id)).toEqual(['page-3', 'page-5']);
      const cohorts = await w.json('GET', `/api/v1/firmware-cohorts?siteId=${gw.siteId}&limit=2`, {
        key: w.org.keys.viewer,
      });
      expect(cohorts.items.map((c: { devices: number }) => c.devices)).toEqual([3, 2]);
      const rest = await w.json(
        'GET',
        `/api/v1/firmware-cohorts?siteId=${gw.siteId}&limit=2&cursor=${cohorts.nextCursor}`,
        { key: w.org.keys.viewer },
      );
      expect(rest.items).toHaveLength(1);
      expect(rest.items[0]).toMatchObject({ devices: 2, sites: [{ siteId: gw.siteId, devices: 2 }] });
      expect(rest.nextCursor).toBeNull();
    });

    it('answers 503 unavailable.database on every surface when the database is unreachable, and refuses ingest', async () => {
      const w = world();
      const gw = await w.enrollGateway();
      const ca = await loadOrCreateCa(w.database.db, w.clock.now());
      // A database nothing listens on: connection refused.
      const down = await openDatabase({ databaseUrl: 'postgres://palisade@127.0.0.1:1/none' });
      try {
        const app = await createCloudApp({ database: down, clock: w.clock, ca });
        const health = await app.request('/health');
        expect(health.status).toBe(503);
        expect(health.headers.get('retry-after')).toBe('5');
        expect((await readJson(health)).error.code).toBe('unavailable.database');
        const api = await app.request('/api/v1/devices', { headers: { authorization: `Bearer ${w.org.keys.viewer}` } });
        expect(api.status).toBe(503);
        const ingest = await gatewayClient(app, w.clock, gw).send(gw.batch(1, []));
        expect(ingest.status).toBe(503);
        expect((await readJson(ingest)).error.code).toBe('unavailable.database');
      } finally {
        await down.close();
      }
      // The same after the app's own database went away.
      await w.database.close();
      const health = await w.call('GET', '/health');
      expect(health.status).toBe(503);
      const api = await w.call('GET', '/api/v1/devices', { key: w.org.keys.viewer });
      expect({ status: api.status, code: (await readJson(api)).error.code }).toEqual({
        status: 503,
        code: 'unavailable.database',
      });
      expect((await gw.send(gw.batch(2, []))).status).toBe(503);
    });
  },
);
