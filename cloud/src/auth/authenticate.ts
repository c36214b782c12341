import { AuthError } from '@palisade/shared';
import { and, eq, gt } from 'drizzle-orm';
import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { guardDatabase } from '../db/open-database.js';
import type { CloudDeps } from '../http/deps.js';
import type { AppEnv } from '../http/env.js';
import { apiKeys, sessions, users } from '../tenancy/schema.js';
import { ApiKeyUsage } from './key-usage.js';
import { parseApiKey, sameHash, secretHash } from './tokens.js';

export const SESSION_COOKIE = 'palisade_session';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Resolves the caller of `/api/v1/*` (except the paths listed as public, which authenticate otherwise):
 * - `Authorization: Bearer pk_…` → an API key that exists, is not revoked, and whose secret hashes to the stored
 *   hash (constant-time compare);
 * - else the session cookie → an unexpired session of an enabled user. A state-changing request on a cookie must
 *   also carry the session's CSRF token in `x-csrf-token`: a cross-site form can send the cookie (SameSite=Strict
 *   already stops most), but it cannot read the token, so it cannot forge the header.
 * Look-ups run on the system connection because they precede knowing the tenant. An API key's `lastUsedAt` is
 * then updated as its tenant, at most once a minute per key (see {@link ApiKeyUsage}).
 */
export function authenticate(deps: CloudDeps, isPublic: (path: string) => boolean): MiddlewareHandler<AppEnv> {
  const { database, clock } = deps;
  const keyUsage = new ApiKeyUsage(database, clock, deps.logger.child({ module: 'auth' }));
  return async function authenticateMiddleware(c, next) {
    if (isPublic(c.req.path)) return next();
    const authz = c.req.header('authorization');
    if (authz !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(authz);
      const parsed = m?.[1] ? parseApiKey(m[1]) : undefined;
      if (!parsed) throw new AuthError('auth.invalid_api_key', 'malformed API key');
      const [row] = await guardDatabase(() =>
        database.db.select().from(apiKeys).where(eq(apiKeys.id, parsed.id)).limit(1),
      );
      if (!row || row.revokedAt !== null || !sameHash(row.secretHash, secretHash(parsed.secret))) {
        throw new AuthError('auth.invalid_api_key', 'unknown or revoked API key');
      }
      await keyUsage.used(row);
      c.set('principal', { kind: 'api_key', id: row.id, orgId: row.orgId, role: row.role });
      return next();
    }
    const cookie = getCookie(c, SESSION_COOKIE);
    if (cookie === undefined) throw new AuthError('auth.unauthenticated', 'sign in or send an API key');
    const idHash = secretHash(cookie);
    const [row] = await guardDatabase(() =>
      database.db
        .select({ s: sessions, role: users.role })
        .from(sessions)
        .innerJoin(users, eq(users.id, sessions.userId))
        .where(
          and(eq(sessions.idHash, idHash), gt(sessions.expiresAt, new Date(clock.now())), eq(users.disabled, false)),
        )
        .limit(1),
    );
    if (!row) throw new AuthError('auth.session_expired', 'session unknown or expired; sign in again');
    if (!SAFE_METHODS.has(c.req.method)) {
      const token = c.req.header(CSRF_HEADER);
      if (token === undefined || !sameHash(secretHash(token), secretHash(row.s.csrfToken))) {
        throw new AuthError('auth.csrf', `state-changing requests on a session need the ${CSRF_HEADER} header`);
      }
    }
    c.set('principal', { kind: 'user', id: row.s.userId, orgId: row.s.orgId, role: row.role, sessionIdHash: idHash });
    return next();
  };
}
