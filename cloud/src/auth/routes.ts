import { createRoute, z } from '@hono/zod-openapi';
import { AuthError, ConflictError, NotFoundError, newId, PalisadeError } from '@palisade/shared';
import { and, desc, eq, isNotNull, isNull, lt } from 'drizzle-orm';
import { deleteCookie, setCookie } from 'hono/cookie';
import { recordAudit } from '../audit/audit.js';
import { guardDatabase } from '../db/open-database.js';
import type { CloudDeps } from '../http/deps.js';
import { decodeCursor, page, pageById, pageQuery, pageSchema } from '../http/pagination.js';
import { newRouter } from '../http/router.js';
import { apiKeys, auditLog, sessions, USER_ROLES, users } from '../tenancy/schema.js';
import { CSRF_HEADER, SESSION_COOKIE } from './authenticate.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';
import { member, requireRole } from './roles.js';
import { apiKeyPrefix, newApiKey, randomSecret, secretHash } from './tokens.js';

const role = z.enum(USER_ROLES);
const userView = z.object({
  id: z.string(),
  email: z.string(),
  role,
  disabled: z.boolean(),
  createdAt: z.string(),
});
const apiKeyView = z.object({
  id: z.string(),
  prefix: z.string(),
  name: z.string(),
  role,
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z
    .string()
    .nullable()
    .openapi({ description: 'when the key last authenticated a request, to the minute; null if never' }),
});
const auditView = z.object({
  id: z.string(),
  at: z.string(),
  actorKind: z.string(),
  actorId: z.string(),
  action: z.string(),
  targetType: z.string(),
  targetId: z.string(),
  before: z.unknown(),
  after: z.unknown(),
  sourceIp: z.string().nullable(),
  userAgent: z.string().nullable(),
});
const json = <T extends z.ZodType>(schema: T, description = 'OK') => ({
  content: { 'application/json': { schema } },
  description,
});
const password = z.string().min(12).max(256);

function toUser(u: typeof users.$inferSelect): z.infer<typeof userView> {
  return { id: u.id, email: u.email, role: u.role, disabled: u.disabled, createdAt: u.createdAt.toISOString() };
}
function toKey(k: typeof apiKeys.$inferSelect): z.infer<typeof apiKeyView> {
  return {
    id: k.id,
    prefix: apiKeyPrefix(k.id),
    name: k.name,
    role: k.role,
    createdBy: k.createdBy,
    createdAt: k.createdAt.toISOString(),
    revokedAt: k.revokedAt?.toISOString() ?? null,
    lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
  };
}

/** Sign-in / sign-out, users, API keys and the audit log. */
export function authRoutes(deps: CloudDeps) {
  const { database, clock } = deps;
  const r = newRouter();

  r.openapi(
    createRoute({
      method: 'post',
      path: '/auth/login',
      tags: ['auth'],
      summary: 'Sign in; sets the session cookie and returns the CSRF token for state-changing requests',
      security: [],
      request: {
        body: {
          content: {
            'application/json': { schema: z.object({ email: z.string().max(320), password: z.string().max(256) }) },
          },
        },
      },
      responses: { 200: json(z.object({ user: userView, csrfToken: z.string(), expiresAt: z.string() })) },
    }),
    async (c) => {
      const { email, password: pw } = c.req.valid('json');
      // Password guessing is slowed per account and per source, before any hashing work is spent on it.
      for (const key of [`email:${email.toLowerCase()}`, `ip:${c.get('source').ip ?? 'in-process'}`]) {
        const taken = deps.loginLimiter.take(key);
        if (!taken.ok) {
          throw new PalisadeError('rate_limited.login', 'too many sign-in attempts; retry later', {
            details: { retryAfterSeconds: taken.retryAfterSeconds },
          });
        }
      }
      const [u] = await guardDatabase(() =>
        database.db.select().from(users).where(eq(users.email, email.toLowerCase())).limit(1),
      );
      // Same work whether or not the user exists, so response time does not reveal valid e-mail addresses.
      const ok = await verifyPassword(pw, u?.passwordHash ?? (await decoyHash(deps.passwordLogN)));
      if (!u || !ok || u.disabled) throw new AuthError('auth.invalid_credentials', 'wrong e-mail or password');
      const sessionId = randomSecret();
      const csrfToken = randomSecret();
      const now = clock.now();
      const expiresAt = new Date(now + deps.sessionTtlMs);
      await database.withTenant(u.orgId, async (tx) => {
        await tx.insert(sessions).values({
          idHash: secretHash(sessionId),
          orgId: u.orgId,
          userId: u.id,
          csrfToken,
          createdAt: new Date(now),
          expiresAt,
        });
        await recordAudit(
          tx,
          u.orgId,
          { kind: 'user', id: u.id, orgId: u.orgId, role: u.role, sessionIdHash: '' },
          c.get('source'),
          { action: 'session.create', targetType: 'user', targetId: u.id },
          now,
        );
      });
      const secure =
        deps.secureCookies === 'auto' ? isHttps(c.req.url, c.req.header('x-forwarded-proto')) : deps.secureCookies;
      setCookie(c, SESSION_COOKIE, sessionId, {
        httpOnly: true,
        secure,
        sameSite: 'Strict',
        path: '/',
        expires: expiresAt,
      });
      return c.json({ user: toUser(u), csrfToken, expiresAt: expiresAt.toISOString() }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/auth/logout',
      tags: ['auth'],
      summary: 'Ends the current session',
      responses: { 200: json(z.object({ ok: z.literal(true) })) },
    }),
    async (c) => {
      const p = c.get('principal');
      if (p.kind === 'user') {
        await database.withTenant(p.orgId, async (tx) => {
          await tx.delete(sessions).where(eq(sessions.idHash, p.sessionIdHash));
          await recordAudit(
            tx,
            p.orgId,
            p,
            c.get('source'),
            { action: 'session.delete', targetType: 'user', targetId: p.id },
            clock.now(),
          );
        });
      }
      deleteCookie(c, SESSION_COOKIE, { path: '/' });
      return c.json({ ok: true as const }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'get',
      path: '/auth/me',
      tags: ['auth'],
      summary: 'Who am I; for a session also the CSRF token to send as x-csrf-token',
      responses: {
        200: json(
          z.object({
            kind: z.enum(['user', 'api_key']),
            id: z.string(),
            orgId: z.string(),
            role,
            csrfToken: z.string().nullable(),
          }),
        ),
      },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      let csrfToken: string | null = null;
      if (p.kind === 'user') {
        const [s] = await database.withTenant(p.orgId, (tx) =>
          tx.select().from(sessions).where(eq(sessions.idHash, p.sessionIdHash)),
        );
        csrfToken = s?.csrfToken ?? null;
      }
      return c.json({ kind: p.kind, id: p.id, orgId: p.orgId, role: p.role, csrfToken }, 200);
    },
  );

  // Users ---------------------------------------------------------------------------------------------------------
  r.openapi(
    createRoute({
      method: 'get',
      path: '/users',
      tags: ['users'],
      middleware: [requireRole('admin')] as const,
      request: { query: z.object({ ...pageQuery, role: role.optional() }) },
      responses: { 200: json(pageSchema(userView)) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const q = c.req.valid('query');
      const pg = await pageById(database, p.orgId, users, q, [q.role ? eq(users.role, q.role) : undefined]);
      return c.json({ items: pg.items.map(toUser), nextCursor: pg.nextCursor }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/users',
      tags: ['users'],
      middleware: [requireRole('admin')] as const,
      request: {
        body: { content: { 'application/json': { schema: z.object({ email: z.email().max(320), role, password }) } } },
      },
      responses: { 201: json(userView, 'Created') },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const body = c.req.valid('json');
      const email = body.email.toLowerCase();
      const passwordHash = await hashPassword(body.password, deps.passwordLogN);
      const now = clock.now();
      const [existing] = await guardDatabase(() =>
        database.db.select({ id: users.id }).from(users).where(eq(users.email, email)),
      );
      if (existing) throw new ConflictError('conflict.user_exists', 'a user with this e-mail exists');
      const created = await database.withTenant(p.orgId, async (tx) => {
        const [u] = await tx
          .insert(users)
          .values({
            id: newId('usr', now),
            orgId: p.orgId,
            email,
            role: body.role,
            passwordHash,
            createdAt: new Date(now),
          })
          .returning();
        if (!u) throw new ConflictError('conflict.user_exists', 'user not created');
        await recordAudit(
          tx,
          p.orgId,
          p,
          c.get('source'),
          { action: 'user.create', targetType: 'user', targetId: u.id, after: toUser(u) },
          now,
        );
        return u;
      });
      return c.json(toUser(created), 201);
    },
  );

  r.openapi(
    createRoute({
      method: 'patch',
      path: '/users/{id}',
      tags: ['users'],
      middleware: [requireRole('admin')] as const,
      request: {
        params: z.object({ id: z.string().max(64) }),
        body: {
          content: {
            'application/json': {
              schema: z.object({
                role: role.optional(),
                disabled: z.boolean().optional(),
                password: password.optional(),
              }),
            },
          },
        },
      },
      responses: { 200: json(userView) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const { id } = c.req.valid('param');
      const body = c.req.valid('json');
      const passwordHash =
        body.password === undefined ? undefined : await hashPassword(body.password, deps.passwordLogN);
      const now = clock.now();
      const updated = await database.withTenant(p.orgId, async (tx) => {
        const [before] = await tx
          .select()
          .from(users)
          .where(and(eq(users.orgId, p.orgId), eq(users.id, id)))
          .for('update');
        if (!before) throw new NotFoundError('not_found.user', 'no such user');
        const [after] = await tx
          .update(users)
          .set({
            ...(body.role === undefined ? {} : { role: body.role }),
            ...(body.disabled === undefined ? {} : { disabled: body.disabled }),
            ...(passwordHash === undefined ? {} : { passwordHash }),
          })
          .where(eq(users.id, id))
          .returning();
        if (!after) throw new NotFoundError('not_found.user', 'no such user');
        // Disabling a user or changing their password ends their sessions.
        if (body.disabled === true || passwordHash !== undefined)
          await tx.delete(sessions).where(eq(sessions.userId, id));
        await recordAudit(
          tx,
          p.orgId,
          p,
          c.get('source'),
          {
            action: 'user.update',
            targetType: 'user',
            targetId: id,
            before: toUser(before),
            after: { ...toUser(after), passwordChanged: passwordHash !== undefined },
          },
          now,
        );
        return after;
      });
      return c.json(toUser(updated), 200);
    },
  );

  // API keys ------------------------------------------------------------------------------------------------------
  r.openapi(
    createRoute({
      method: 'get',
      path: '/api-keys',
      tags: ['api keys'],
      middleware: [requireRole('admin')] as const,
      request: { query: z.object({ ...pageQuery, revoked: z.enum(['true', 'false']).optional() }) },
      responses: { 200: json(pageSchema(apiKeyView)) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const q = c.req.valid('query');
      const pg = await pageById(database, p.orgId, apiKeys, q, [
        q.revoked === 'true'
          ? isNotNull(apiKeys.revokedAt)
          : q.revoked === 'false'
            ? isNull(apiKeys.revokedAt)
            : undefined,
      ]);
      return c.json({ items: pg.items.map(toKey), nextCursor: pg.nextCursor }, 200);
    },
  );

  r.openapi(
    createRoute({
      method: 'post',
      path: '/api-keys',
      tags: ['api keys'],
      summary: 'Creates an API key; the key is shown once in this answer, only its hash is stored',
      middleware: [requireRole('admin')] as const,
      request: {
        body: { content: { 'application/json': { schema: z.object({ name: z.string().min(1).max(128), role }) } } },
      },
      responses: { 201: json(apiKeyView.extend({ key: z.string() }), 'Created') },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const body = c.req.valid('json');
      const now = clock.now();
      const k = newApiKey(now);
      const row = await database.withTenant(p.orgId, async (tx) => {
        const [created] = await tx
          .insert(apiKeys)
          .values({
            id: k.id,
            orgId: p.orgId,
            name: body.name,
            role: body.role,
            secretHash: secretHash(k.secret),
            createdBy: p.id,
            createdAt: new Date(now),
          })
          .returning();
        if (!created) throw new ConflictError('conflict.api_key', 'API key not created');
        await recordAudit(
          tx,
          p.orgId,
          p,
          c.get('source'),
          { action: 'api_key.create', targetType: 'api_key', targetId: k.id, after: toKey(created) },
          now,
        );
        return created;
      });
      return c.json({ ...toKey(row), key: k.key }, 201);
    },
  );

  r.openapi(
    createRoute({
      method: 'delete',
      path: '/api-keys/{id}',
      tags: ['api keys'],
      summary: 'Revokes an API key (it stops working at once)',
      middleware: [requireRole('admin')] as const,
      request: { params: z.object({ id: z.string().max(64) }) },
      responses: { 200: json(apiKeyView) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const { id } = c.req.valid('param');
      const now = clock.now();
      const row = await database.withTenant(p.orgId, async (tx) => {
        const [before] = await tx
          .select()
          .from(apiKeys)
          .where(and(eq(apiKeys.orgId, p.orgId), eq(apiKeys.id, id)))
          .for('update');
        if (!before) throw new NotFoundError('not_found.api_key', 'no such API key');
        if (before.revokedAt !== null) return before;
        const [after] = await tx
          .update(apiKeys)
          .set({ revokedAt: new Date(now) })
          .where(eq(apiKeys.id, id))
          .returning();
        if (!after) throw new NotFoundError('not_found.api_key', 'no such API key');
        await recordAudit(
          tx,
          p.orgId,
          p,
          c.get('source'),
          { action: 'api_key.revoke', targetType: 'api_key', targetId: id, before: toKey(before), after: toKey(after) },
          now,
        );
        return after;
      });
      return c.json(toKey(row), 200);
    },
  );

  // Audit log -----------------------------------------------------------------------------------------------------
  r.openapi(
    createRoute({
      method: 'get',
      path: '/audit-log',
      tags: ['audit'],
      middleware: [requireRole('admin')] as const,
      request: {
        query: z.object({
          ...pageQuery,
          action: z.string().max(64).optional(),
          targetType: z.string().max(64).optional(),
          actorId: z.string().max(64).optional(),
        }),
      },
      responses: { 200: json(pageSchema(auditView)) },
    }),
    async (c) => {
      const p = member(c.get('principal'));
      const q = c.req.valid('query');
      const after = decodeCursor(q.cursor, 1);
      const rows = await database.withTenant(p.orgId, (tx) =>
        tx
          .select()
          .from(auditLog)
          .where(
            and(
              eq(auditLog.orgId, p.orgId),
              q.action ? eq(auditLog.action, q.action) : undefined,
              q.targetType ? eq(auditLog.targetType, q.targetType) : undefined,
              q.actorId ? eq(auditLog.actorId, q.actorId) : undefined,
              after ? lt(auditLog.id, String(after[0])) : undefined,
            ),
          )
          .orderBy(desc(auditLog.id))
          .limit(q.limit + 1),
      );
      const pg = page(rows, q.limit, (a) => [a.id]);
      return c.json(
        {
          items: pg.items.map((a) => ({ ...a, at: a.at.toISOString(), before: a.before, after: a.after })),
          nextCursor: pg.nextCursor,
        },
        200,
      );
    },
  );

  return r;
}

function isHttps(url: string, forwardedProto: string | undefined): boolean {
  return url.startsWith('https:') || forwardedProto?.split(',')[0]?.trim() === 'https';
}

export { CSRF_HEADER };
