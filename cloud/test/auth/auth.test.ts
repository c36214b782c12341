import { eq, sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { createCloudApp } from '../../src/app.js';
import { bootstrap, DEFAULT_ADMIN_EMAIL } from '../../src/auth/bootstrap.js';
import { hashPassword, verifyPassword } from '../../src/auth/passwords.js';
import { apiKeys, auditLog, users } from '../../src/tenancy/schema.js';
import { forEachDatabase } from '../helpers/databases.js';
import { ADMIN_PASSWORD, makeWorld, readJson, type World } from '../helpers/world.js';

async function login(w: World, email: string, password: string, base = 'http://cloud.test') {
  return w.app.request(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'auth-test' },
    body: JSON.stringify({ email, password }),
  });
}

function sessionCookie(res: Response): string {
  const set = res.headers.get('set-cookie') ?? '';
  const m = /palisade_session=([^;]+)/.exec(set);
  if (!m?.[1]) throw new Error(`no session cookie in ${set}`);
  return `palisade_session=${m[1]}`;
}

forEachDatabase(
  'authentication, sessions, API keys, audit',
  (db) => makeWorld(db),
  (world) => {
    it('hashes passwords with scrypt N=2^15, r=8 by default, salted, verifiable', async () => {
      const h = await hashPassword('a password of mine');
      expect(h).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
      expect(await hashPassword('a password of mine')).not.toBe(h);
      expect(await verifyPassword('a password of mine', h)).toBe(true);
      expect(await verifyPassword('a password of mind', h)).toBe(false);
      expect(await verifyPassword('a password of mine', 'scrypt$1$1$1$$')).toBe(false);
    });

    it('first start created the admin; a second bootstrap changes nothing', async () => {
      const w = world();
      const [admin] = await w.database.db.select().from(users).where(eq(users.email, DEFAULT_ADMIN_EMAIL));
      expect(admin?.role).toBe('admin');
      expect(admin?.passwordHash).toMatch(/^scrypt\$/);
      expect(admin?.passwordHash).not.toContain(ADMIN_PASSWORD);
      expect(await bootstrap(w.database, { adminPassword: 'another password 123' }, w.clock.now())).toEqual({
        created: false,
      });
    });

    it('refuses a wrong password and an unknown user with the same answer', async () => {
      const w = world();
      const wrong = await login(w, DEFAULT_ADMIN_EMAIL, 'not the password');
      const unknown = await login(w, 'nobody@example.com', ADMIN_PASSWORD);
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(await readJson(wrong)).toEqual(await readJson(unknown));
      expect(wrong.headers.get('set-cookie')).toBeNull();
    });

    it('signs in with an HttpOnly, SameSite=Strict cookie, Secure over https', async () => {
      const w = world();
      const res = await login(w, DEFAULT_ADMIN_EMAIL, ADMIN_PASSWORD);
      expect(res.status).toBe(200);
      const cookie = res.headers.get('set-cookie') ?? '';
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      expect(cookie).not.toMatch(/Secure/);
      const body = await readJson(res);
      expect(body.user.email).toBe(DEFAULT_ADMIN_EMAIL);
      expect(body.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const secure = await login(w, DEFAULT_ADMIN_EMAIL, ADMIN_PASSWORD, 'https://cloud.test');
      expect(secure.headers.get('set-cookie')).toMatch(/Secure/);
    });

    it('needs the CSRF token for state-changing requests on a session, not for reads', async () => {
      const w = world();
      const res = await login(w, DEFAULT_ADMIN_EMAIL, ADMIN_PASSWORD);
      const cookie = sessionCookie(res);
      const { csrfToken } = await readJson(res);
      const read = await w.call('GET', '/api/v1/sites', { headers: { cookie } });
      expect(read.status).toBe(200);
      const noToken = await w.call('POST', '/api/v1/sites', { headers: { cookie }, body: { name: 'csrf-a' } });
      expect(noToken.status).toBe(403);
      expect((await readJson(noToken)).error.code).toBe('auth.csrf');
      const badToken = await w.call('POST', '/api/v1/sites', {
        headers: { cookie, 'x-csrf-token': 'x'.repeat(43) },
        body: { name: 'csrf-a' },
      });
      expect(badToken.status).toBe(403);
      const ok = await w.call('POST', '/api/v1/sites', {
        headers: { cookie, 'x-csrf-token': csrfToken },
        body: { name: 'csrf-a' },
      });
      expect(ok.status).toBe(201);
      const me = await w.call('GET', '/api/v1/auth/me', { headers: { cookie } });
      expect((await readJson(me)).csrfToken).toBe(csrfToken);
    });

    it('ends a session on logout and when it expires', async () => {
      const w = world();
      const res = await login(w, DEFAULT_ADMIN_EMAIL, ADMIN_PASSWORD);
      const cookie = sessionCookie(res);
      const { csrfToken } = await readJson(res);
      expect(
        (await w.call('POST', '/api/v1/auth/logout', { headers: { cookie, 'x-csrf-token': csrfToken } })).status,
      ).toBe(200);
      const after = await w.call('GET', '/api/v1/sites', { headers: { cookie } });
      expect(after.status).toBe(401);
      expect((await readJson(after)).error.code).toBe('auth.session_expired');

      const cookie2 = sessionCookie(await login(w, DEFAULT_ADMIN_EMAIL, ADMIN_PASSWORD));
      w.clock.advance(13 * 3600_000);
      expect((await w.call('GET', '/api/v1/sites', { headers: { cookie: cookie2 } })).status).toBe(401);
    });

    it('refuses anonymous and malformed or unknown bearer callers', async () => {
      const w = world();
      const anon = await w.call('GET', '/api/v1/devices');
      expect(anon.status).toBe(401);
      expect(await readJson(anon)).toEqual({ error: { code: 'auth.unauthenticated', message: expect.any(String) } });
      for (const key of ['nonsense', `pk_${'A'.repeat(26)}_${'b'.repeat(43)}`, `${w.org.keys.admin}x`]) {
        const res = await w.call('GET', '/api/v1/devices', { key });
        expect(res.status).toBe(401);
        expect((await readJson(res)).error.code).toBe('auth.invalid_api_key');
      }
    });

    it('creates API keys shown once and stored as a hash, lists them by prefix, revokes them', async () => {
      const w = world();
      const created = await w.json('POST', '/api/v1/api-keys', {
        key: w.org.keys.admin,
        body: { name: 'ci', role: 'viewer' },
      });
      expect(created.key).toMatch(/^pk_[0-9A-Z]{26}_[A-Za-z0-9_-]{43}$/);
      expect(created.prefix).toBe(`pk_${created.id}`);
      const [row] = await w.database.db.select().from(apiKeys).where(eq(apiKeys.id, created.id));
      const secret = created.key.slice(created.prefix.length + 1);
      expect(JSON.stringify(row)).not.toContain(secret);
      expect((await w.call('GET', '/api/v1/devices', { key: created.key })).status).toBe(200);
      const list = await w.json('GET', '/api/v1/api-keys?limit=500', { key: w.org.keys.admin });
      const listed = list.items.find((k: { id: string }) => k.id === created.id);
      expect(listed).toMatchObject({ prefix: created.prefix, role: 'viewer', revokedAt: null });
      expect(JSON.stringify(list)).not.toContain(secret);

      const revoked = await w.json('DELETE', `/api/v1/api-keys/${created.id}`, { key: w.org.keys.admin });
      expect(revoked.revokedAt).not.toBeNull();
      const after = await w.call('GET', '/api/v1/devices', { key: created.key });
      expect(after.status).toBe(401);
    });

    it('filters API keys by revocation before paging, so a revoked key behind many live ones is listed', async () => {
      const w = world();
      const newest = await w.json('POST', '/api/v1/api-keys', {
        key: w.org.keys.admin,
        body: { name: 'old-ci', role: 'viewer' },
      });
      await w.json('DELETE', `/api/v1/api-keys/${newest.id}`, { key: w.org.keys.admin });
      // Page through the revoked keys one at a time: the live keys created before must not end the listing.
      const seen: { id: string; revokedAt: string | null }[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor === null ? '' : `&cursor=${cursor}`;
        const pg = await w.json('GET', `/api/v1/api-keys?revoked=true&limit=1${query}`, { key: w.org.keys.admin });
        seen.push(...pg.items);
        cursor = pg.nextCursor;
      } while (cursor !== null && seen.length < 100);
      expect(seen.map((k) => k.id)).toContain(newest.id);
      expect(seen.every((k) => k.revokedAt !== null)).toBe(true);
      const live = await w.json('GET', '/api/v1/api-keys?revoked=false&limit=500', { key: w.org.keys.admin });
      expect(live.items.length).toBeGreaterThan(0);
      expect(live.items.every((k: { revokedAt: string | null }) => k.revokedAt === null)).toBe(true);
    });

    it('shows when each API key was last used, written at most once a minute per key', async () => {
      const w = world();
      const created = await w.json('POST', '/api/v1/api-keys', {
        key: w.org.keys.admin,
        body: { name: 'poller', role: 'viewer' },
      });
      const lastUsed = async (): Promise<string | null> => {
        const list = await w.json('GET', '/api/v1/api-keys?limit=500', { key: w.org.keys.admin });
        return list.items.find((k: { id: string }) => k.id === created.id).lastUsedAt;
      };
      expect(await lastUsed()).toBeNull();
      const first = w.clock.now();
      expect((await w.call('GET', '/api/v1/devices', { key: created.key })).status).toBe(200);
      expect(await lastUsed()).toBe(new Date(first).toISOString());
      // Within the minute: served, and not written again (it would read first + 30 s otherwise).
      w.clock.advance(30_000);
      expect((await w.call('GET', '/api/v1/devices', { key: created.key })).status).toBe(200);
      expect(await lastUsed()).toBe(new Date(first).toISOString());
      w.clock.advance(31_000);
      expect((await w.call('GET', '/api/v1/sites', { key: created.key })).status).toBe(200);
      expect(await lastUsed()).toBe(new Date(first + 61_000).toISOString());
      const [row] = await w.database.db.select().from(apiKeys).where(eq(apiKeys.id, created.id));
      expect(row?.lastUsedAt?.getTime()).toBe(first + 61_000);
    });

    it('serves a request with an API key even when recording its use fails', async () => {
      const w = world();
      const created = await w.json('POST', '/api/v1/api-keys', {
        key: w.org.keys.admin,
        body: { name: 'read-only database', role: 'viewer' },
      });
      // The tenant role loses its right to update API keys: the usage write fails for real.
      await w.database.db.execute(sql`revoke update on table api_keys from palisade_app`);
      try {
        const res = await w.call('GET', '/api/v1/devices', { key: created.key });
        expect(res.status).toBe(200);
      } finally {
        await w.database.db.execute(sql`grant update on table api_keys to palisade_app`);
      }
      const [row] = await w.database.db.select().from(apiKeys).where(eq(apiKeys.id, created.id));
      expect(row?.lastUsedAt).toBeNull();
    });

    it('manages users: create, sign in with the new role, disable (sessions end), audit with before/after', async () => {
      const w = world();
      const u = await w.json('POST', '/api/v1/users', {
        key: w.org.keys.admin,
        body: { email: 'Ana@Example.com', role: 'analyst', password: 'analyst password 1' },
      });
      expect(u).toMatchObject({ email: 'ana@example.com', role: 'analyst', disabled: false });
      const dup = await w.call('POST', '/api/v1/users', {
        key: w.org.keys.admin,
        body: { email: 'ana@example.com', role: 'viewer', password: 'whatever password' },
      });
      expect(dup.status).toBe(409);
      const res = await login(w, 'ana@example.com', 'analyst password 1');
      expect(res.status).toBe(200);
      const cookie = sessionCookie(res);
      const { csrfToken } = await readJson(res);
      // An analyst cannot create sites (admin only).
      expect(
        (await w.call('POST', '/api/v1/sites', { headers: { cookie, 'x-csrf-token': csrfToken }, body: { name: 'x' } }))
          .status,
      ).toBe(403);

      await w.json('PATCH', `/api/v1/users/${u.id}`, { key: w.org.keys.admin, body: { disabled: true } });
      expect((await w.call('GET', '/api/v1/sites', { headers: { cookie } })).status).toBe(401);
      expect((await login(w, 'ana@example.com', 'analyst password 1')).status).toBe(401);

      const log = await w.json('GET', `/api/v1/audit-log?targetType=user&limit=50`, { key: w.org.keys.admin });
      const update = log.items.find(
        (e: { action: string; targetId: string }) => e.action === 'user.update' && e.targetId === u.id,
      );
      expect(update).toMatchObject({ actorKind: 'api_key', before: { disabled: false }, after: { disabled: true } });
      const create = log.items.find(
        (e: { action: string; targetId: string }) => e.action === 'user.create' && e.targetId === u.id,
      );
      expect(create.after).toMatchObject({ email: 'ana@example.com', role: 'analyst' });
      expect(JSON.stringify(log)).not.toContain('analyst password 1');
    });

    it('records who changed what and from where in the audit log, paginated newest first', async () => {
      const w = world();
      const res = await login(w, DEFAULT_ADMIN_EMAIL, ADMIN_PASSWORD);
      const cookie = sessionCookie(res);
      const { csrfToken, user } = await readJson(res);
      await w.call('POST', '/api/v1/sites', {
        headers: { cookie, 'x-csrf-token': csrfToken, 'user-agent': 'dashboard/1' },
        body: { name: 'audited site' },
      });
      const [entry] = await w.database.db.select().from(auditLog).where(eq(auditLog.action, 'site.create'));
      expect(entry).toBeDefined();
      const page1 = await w.json('GET', '/api/v1/audit-log?action=site.create&limit=1', { key: w.org.keys.admin });
      expect(page1.items).toHaveLength(1);
      const last = page1.items[0];
      expect(last).toMatchObject({
        actorKind: 'user',
        actorId: user.id,
        targetType: 'site',
        userAgent: 'dashboard/1',
        after: { name: 'audited site' },
      });
      expect(page1.nextCursor).not.toBeNull();
      const page2 = await w.json('GET', `/api/v1/audit-log?action=site.create&limit=1&cursor=${page1.nextCursor}`, {
        key: w.org.keys.admin,
      });
      expect(page2.items[0].id).not.toBe(last.id);
    });

    it('slows password guessing: 429 with Retry-After after 10 attempts on one account', async () => {
      const w = world();
      const app = await createCloudApp({ database: w.database, clock: w.clock, passwordLogN: 10 });
      const attempt = () =>
        app.request('/api/v1/auth/login', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: DEFAULT_ADMIN_EMAIL, password: 'guess' }),
        });
      for (let i = 0; i < 10; i++) expect((await attempt()).status).toBe(401);
      const limited = await attempt();
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('10');
      expect((await readJson(limited)).error.code).toBe('rate_limited.login');
      w.clock.advance(10_000);
      expect((await attempt()).status).toBe(401);
    });
  },
);
