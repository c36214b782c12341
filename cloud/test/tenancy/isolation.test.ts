import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { gateways } from '../../src/gateways/schema.js';
import { attestationResults, devices } from '../../src/inventory/schema.js';
import { auditLog, sites, users } from '../../src/tenancy/schema.js';
import { forEachDatabase } from '../helpers/databases.js';
import { earClaims, makeWorld, type Org, readJson, type TestGateway, type World } from '../helpers/world.js';

interface Tenants {
  w: World;
  a: { org: Org; gw: TestGateway };
  b: { org: Org; gw: TestGateway };
}

async function seed(w: World, org: Org, prefix: string): Promise<TestGateway> {
  const gw = await w.enrollGateway(org, `${prefix}-site`);
  const now = new Date(w.clock.now()).toISOString();
  const jwt = await gw.signResult(earClaims(gw.id, `${prefix}-dev`, `${prefix}-res`, Math.floor(w.clock.now() / 1000)));
  const res = await gw.send(
    gw.batch(1, [
      {
        kind: 'device',
        id: `${prefix}-dev`,
        occurredAt: now,
        receivedAt: now,
        data: {
          boardFamily: 'esp32',
          attestationStatus: 'affirming',
          quarantined: false,
          riskScore: 1,
          firmwareMeasurement: 'cd'.repeat(32),
        },
      },
      { kind: 'attestation_result', id: `${prefix}-res`, occurredAt: now, receivedAt: now, data: { jwt } },
    ]),
  );
  if (res.status !== 200) throw new Error(`seed failed: ${res.status} ${await res.text()}`);
  return gw;
}

async function setup(db: Parameters<typeof makeWorld>[0]): Promise<Tenants> {
  const w = await makeWorld(db);
  const orgB = await w.addOrg('tenant-b');
  return { w, a: { org: w.org, gw: await seed(w, w.org, 'a') }, b: { org: orgB, gw: await seed(w, orgB, 'b') } };
}

forEachDatabase('tenant isolation', setup, (get, target) => {
  it('lists only the caller’s own organisation at the API', async () => {
    const { w, a, b } = get();
    for (const [path, key] of [
      ['/api/v1/devices', 'id'],
      ['/api/v1/gateways', 'id'],
      ['/api/v1/sites', 'id'],
      ['/api/v1/firmware-cohorts', 'firmwareMeasurement'],
    ] as const) {
      const seenByA = await w.json('GET', path, { key: a.org.keys.viewer });
      const seenByB = await w.json('GET', path, { key: b.org.keys.viewer });
      expect(seenByA.items.length, path).toBeGreaterThan(0);
      const idsA = seenByA.items.map((x: Record<string, string>) => x[key]);
      const idsB = seenByB.items.map((x: Record<string, string>) => x[key]);
      if (key === 'firmwareMeasurement') {
        // Same firmware in both tenants: each sees only its own devices and sites in the cohort.
        expect(seenByA.items[0].sites.map((s: { siteId: string }) => s.siteId)).toEqual([a.gw.siteId]);
        expect(seenByB.items[0].sites.map((s: { siteId: string }) => s.siteId)).toEqual([b.gw.siteId]);
      } else {
        expect(
          idsA.filter((id: string) => idsB.includes(id)),
          path,
        ).toEqual([]);
      }
    }
    // Filtering by the other tenant's site or gateway finds nothing.
    expect((await w.json('GET', `/api/v1/devices?siteId=${b.gw.siteId}`, { key: a.org.keys.viewer })).items).toEqual(
      [],
    );
    expect((await w.json('GET', `/api/v1/gateways?siteId=${b.gw.siteId}`, { key: a.org.keys.viewer })).items).toEqual(
      [],
    );
  });

  it('refuses reads and writes of another organisation’s records by id', async () => {
    const { w, a, b } = get();
    for (const path of [`/api/v1/devices/b-dev`, `/api/v1/gateways/${b.gw.id}`]) {
      const res = await w.call('GET', path, { key: a.org.keys.admin });
      expect(res.status, path).toBe(404);
    }
    expect((await w.json('GET', '/api/v1/devices/b-dev/attestations', { key: a.org.keys.admin })).items).toEqual([]);
    const revoke = await w.call('POST', `/api/v1/gateways/${b.gw.id}/revoke`, { key: a.org.keys.admin });
    expect(revoke.status).toBe(404);
    const token = await w.call('POST', '/api/v1/enrollment-tokens', {
      key: a.org.keys.admin,
      body: { siteId: b.gw.siteId },
    });
    expect(token.status).toBe(404);
    const users = await w.json('GET', '/api/v1/users', { key: b.org.keys.admin });
    expect(users.items).toEqual([]);
    const keys = await w.json('GET', '/api/v1/api-keys', { key: b.org.keys.admin });
    const aKeyId = /^pk_([^_]+)_/.exec(a.org.keys.viewer)?.[1];
    expect(keys.items.map((k: { id: string }) => k.id)).not.toContain(aKeyId);
    const del = await w.call('DELETE', `/api/v1/api-keys/${aKeyId}`, { key: b.org.keys.admin });
    expect(del.status).toBe(404);
    expect((await w.call('GET', '/api/v1/devices', { key: a.org.keys.viewer })).status).toBe(200);
    // B's gateway is still active, A's key still works.
    expect(
      (await readJson(await w.call('GET', `/api/v1/gateways/${b.gw.id}`, { key: b.org.keys.viewer }))).status,
    ).toBe('active');
  });

  it(`row-level security${target.name === 'postgres' ? ' on PostgreSQL' : ''}: a query with its org filter removed sees only its own tenant`, async () => {
    const { w, a, b } = get();
    // The system connection sees both tenants...
    const all = await w.database.db.select({ id: devices.id }).from(devices);
    expect(all.map((d) => d.id).sort()).toEqual(['a-dev', 'b-dev']);
    // ...a tenant transaction without any WHERE clause sees only its own rows, in every tenant table.
    for (const [org, prefix] of [
      [a.org, 'a'],
      [b.org, 'b'],
    ] as const) {
      const seen = await w.database.withTenant(org.id, async (tx) => ({
        devices: (await tx.select({ id: devices.id }).from(devices)).map((r) => r.id),
        results: (await tx.select({ id: attestationResults.jti }).from(attestationResults)).map((r) => r.id),
        gateways: (await tx.select({ org: gateways.orgId }).from(gateways)).map((r) => r.org),
        sites: (await tx.select({ org: sites.orgId }).from(sites)).map((r) => r.org),
        users: (await tx.select({ org: users.orgId }).from(users)).map((r) => r.org),
        audit: (await tx.select({ org: auditLog.orgId }).from(auditLog)).map((r) => r.org),
      }));
      expect(seen.devices).toEqual([`${prefix}-dev`]);
      expect(seen.results).toEqual([`${prefix}-res`]);
      for (const orgs of [seen.gateways, seen.sites, seen.audit]) expect(new Set(orgs)).toEqual(new Set([org.id]));
      expect(seen.users.every((o) => o === org.id)).toBe(true);
    }
  });

  it('row-level security refuses writes into another tenant and updates of its rows', async () => {
    const { w, a, b } = get();
    const err = await w.database
      .withTenant(a.org.id, (tx) =>
        tx
          .insert(devices)
          .values({ orgId: b.org.id, id: 'smuggled', siteId: b.gw.siteId, gatewayId: b.gw.id, boardFamily: 'esp32' }),
      )
      .then(
        () => undefined,
        (e: unknown) => e as Error & { cause?: Error },
      );
    expect(err?.cause?.message ?? err?.message).toMatch(/row-level security/);
    const updated = await w.database.withTenant(a.org.id, (tx) =>
      tx.update(devices).set({ riskScore: 100 }).returning({ id: devices.id }),
    );
    expect(updated.map((d) => d.id)).toEqual(['a-dev']);
    const deleted = await w.database.withTenant(a.org.id, (tx) =>
      tx.delete(devices).where(sql`true`).returning({ id: devices.id }),
    );
    expect(deleted.map((d) => d.id)).toEqual(['a-dev']);
    const left = await w.database.db.select({ id: devices.id, risk: devices.riskScore }).from(devices);
    expect(left).toEqual([{ id: 'b-dev', risk: 1 }]);
  });

  it('every table with an org_id column has RLS enabled and a tenant policy; the app role cannot bypass it', async () => {
    const { w } = get();
    const tables = (await w.database.db.execute(sql`
      select c.relname as "table", c.relrowsecurity as rls,
             (select count(*) from pg_policy p where p.polrelid = c.oid)::int as policies
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r'
        and exists (select 1 from information_schema.columns col
                    where col.table_schema = 'public' and col.table_name = c.relname and col.column_name = 'org_id')`)) as unknown as {
      rows: { table: string; rls: boolean; policies: number }[];
    };
    const list = tables.rows;
    expect(list.length).toBeGreaterThan(10);
    for (const t of list)
      expect({ table: t.table, rls: t.rls, policies: t.policies > 0 }).toEqual({
        table: t.table,
        rls: true,
        policies: true,
      });
    const role = (await w.database.db.execute(
      sql`select rolbypassrls, rolsuper from pg_roles where rolname = 'palisade_app'`,
    )) as unknown as {
      rows: unknown[];
    };
    expect(role.rows).toEqual([{ rolbypassrls: false, rolsuper: false }]);
    // System tables (CA key, nonce cache) are out of the tenant role's reach altogether.
    const denied = await w.database
      .withTenant(w.org.id, (tx) => tx.execute(sql`select key_pem from cloud_ca`))
      .then(
        () => undefined,
        (e: unknown) => e as Error & { cause?: Error },
      );
    expect(denied?.cause?.message ?? denied?.message).toMatch(/permission denied/);
  });
});
