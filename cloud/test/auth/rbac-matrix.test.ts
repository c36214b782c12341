import { generateKeyPairSync } from 'node:crypto';
import { signRequest } from '@palisade/shared';
import { expect, it } from 'vitest';
import { forEachDatabase } from '../helpers/databases.js';
import { makeWorld, ROLES, type Role, readJson, type World } from '../helpers/world.js';

/**
 * Every role × every route of the OpenAPI document. The minimum role of the core routes is declared here; routes
 * other modules add are still probed for every caller: anonymous is refused, and what a role may do its seniors
 * may do too. A route missing from the document would be missing from the API reference, so the document is the
 * list of routes.
 */
const MIN_ROLE: Record<string, Role> = {
  'GET /api/v1/auth/me': 'viewer',
  'POST /api/v1/auth/logout': 'viewer',
  'GET /api/v1/users': 'admin',
  'POST /api/v1/users': 'admin',
  'PATCH /api/v1/users/{id}': 'admin',
  'GET /api/v1/api-keys': 'admin',
  'POST /api/v1/api-keys': 'admin',
  'DELETE /api/v1/api-keys/{id}': 'admin',
  'GET /api/v1/audit-log': 'admin',
  'POST /api/v1/enrollment-tokens': 'admin',
  'POST /api/v1/gateways/{id}/revoke': 'admin',
  'GET /api/v1/sites': 'viewer',
  'POST /api/v1/sites': 'admin',
  'GET /api/v1/gateways': 'viewer',
  'GET /api/v1/gateways/{id}': 'viewer',
  'GET /api/v1/devices': 'viewer',
  'GET /api/v1/devices/{id}': 'viewer',
  'GET /api/v1/devices/{id}/attestations': 'viewer',
  'GET /api/v1/firmware-cohorts': 'viewer',
};
const PUBLIC = new Set(['POST /api/v1/auth/login', 'POST /api/v1/gateways/enroll']);
const isGatewayRoute = (path: string) => path.startsWith('/api/v1/sync/');
const RANK: Record<Role, number> = { viewer: 1, analyst: 2, admin: 3 };

interface Caller {
  name: string;
  role: Role | undefined;
  headers: Record<string, string>;
}

async function callers(w: World): Promise<Caller[]> {
  const out: Caller[] = [{ name: 'anonymous', role: undefined, headers: {} }];
  for (const role of ROLES) {
    out.push({ name: `${role} API key`, role, headers: { authorization: `Bearer ${w.org.keys[role]}` } });
    const email = `${role}-rbac@example.com`;
    await w.json('POST', '/api/v1/users', {
      key: w.org.keys.admin,
      body: { email, role, password: 'rbac password 123' },
    });
    const res = await w.app.request('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'rbac password 123' }),
    });
    const cookie = /palisade_session=[^;]+/.exec(res.headers.get('set-cookie') ?? '')?.[0] ?? '';
    const { csrfToken } = await readJson(res);
    out.push({ name: `${role} session`, role, headers: { cookie, 'x-csrf-token': csrfToken } });
  }
  return out;
}

async function routes(w: World): Promise<{ method: string; path: string; key: string }[]> {
  const doc = await w.json('GET', '/api/v1/openapi.json');
  const out: { method: string; path: string; key: string }[] = [];
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(ops))
      out.push({ method: method.toUpperCase(), path, key: `${method.toUpperCase()} ${path}` });
  }
  return out;
}

forEachDatabase(
  'RBAC matrix',
  (db) => makeWorld(db),
  (world) => {
    it('documents every core route', async () => {
      const documented = new Set((await routes(world())).map((r) => r.key));
      for (const key of [...Object.keys(MIN_ROLE), ...PUBLIC]) expect(documented, key).toContain(key);
    });

    it('every caller × every route: anonymous refused, each role allowed exactly what it may do', async () => {
      const w = world();
      const all = await callers(w);
      const observed: Record<string, Record<string, number>> = {};
      for (const route of await routes(w)) {
        if (PUBLIC.has(route.key) || isGatewayRoute(route.path)) continue;
        const url = route.path.replace(/\{[^}]+\}/g, 'nope');
        const row: Record<string, number> = {};
        observed[route.key] = row;
        // Signing out would end the session the rest of the matrix uses; logout is covered in auth.test.ts.
        const probing = all.filter((c) => !(route.key === 'POST /api/v1/auth/logout' && c.name.endsWith('session')));
        // All callers of one route at once (the answers do not depend on each other).
        const answers = await Promise.all(
          probing.map(async (caller) => {
            const init: RequestInit = { method: route.method, headers: { ...caller.headers } };
            if (route.method !== 'GET' && route.method !== 'DELETE') {
              init.headers = { ...caller.headers, 'content-type': 'application/json' };
              init.body = '{}';
            }
            const res = await w.app.request(url, init);
            const code: string | undefined = res.status >= 400 ? (await readJson(res)).error?.code : undefined;
            return { caller, status: res.status, code };
          }),
        );
        for (const { caller, status, code } of answers) {
          row[caller.name] = status;
          if (caller.role === undefined) {
            expect({ route: route.key, status }).toEqual({ route: route.key, status: 401 });
            continue;
          }
          const min = MIN_ROLE[route.key];
          if (min !== undefined) {
            const allowed = RANK[caller.role] >= RANK[min];
            if (allowed)
              expect({ route: route.key, caller: caller.name, forbidden: [401, 403].includes(status) }).toMatchObject({
                forbidden: false,
              });
            else
              expect({ route: route.key, caller: caller.name, status, code }).toEqual({
                route: route.key,
                caller: caller.name,
                status: 403,
                code: 'auth.forbidden',
              });
          } else {
            expect({
              route: route.key,
              caller: caller.name,
              status: status === 401 ? 'unauthenticated' : 'ok',
            }).toMatchObject({ status: 'ok' });
          }
        }
        // Seniority: whatever a viewer may do an analyst may, whatever an analyst may an admin may; keys and sessions agree.
        const ok = (name: string) => observed[route.key]?.[name] !== undefined && observed[route.key]?.[name] !== 403;
        for (const kind of ['API key', 'session']) {
          if (ok(`viewer ${kind}`)) expect(ok(`analyst ${kind}`), `${route.key} analyst ${kind}`).toBe(true);
          if (ok(`analyst ${kind}`)) expect(ok(`admin ${kind}`), `${route.key} admin ${kind}`).toBe(true);
        }
        for (const role of ROLES) {
          const s = observed[route.key]?.[`${role} session`];
          if (s !== undefined) expect(ok(`${role} session`), `${route.key} ${role}`).toBe(ok(`${role} API key`));
        }
      }
      expect(Object.keys(observed).length).toBeGreaterThanOrEqual(Object.keys(MIN_ROLE).length);
    });

    it('gateway credentials open no user route, and user credentials open no gateway route', async () => {
      const w = world();
      const gw = await w.enrollGateway();
      const headers = signRequest({
        gatewayId: gw.id,
        privateKey: gw.privateKey,
        method: 'GET',
        path: '/api/v1/devices',
        body: '',
        now: w.clock.now(),
      });
      expect((await w.app.request('/api/v1/devices', { headers })).status).toBe(401);
      // Every route in the gateways' namespace (which skips user authentication) demands a signature.
      const gatewayRoutes = (await routes(w)).filter((r) => isGatewayRoute(r.path));
      expect(gatewayRoutes.map((r) => r.key)).toContain('POST /api/v1/sync/batches');
      for (const r of gatewayRoutes) {
        for (const headers of [{}, { authorization: `Bearer ${w.org.keys.admin}` }] as Record<string, string>[]) {
          const init: RequestInit = { method: r.method, headers };
          if (r.method !== 'GET') init.body = '{}';
          const res = await w.app.request(r.path.replace(/\{[^}]+\}/g, 'nope'), init);
          expect({ route: r.key, status: res.status }).toEqual({ route: r.key, status: 401 });
        }
      }
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      expect((await gw.send(gw.batch(1, []), { signingKey: privateKey })).status).toBe(401);
    });
  },
);
