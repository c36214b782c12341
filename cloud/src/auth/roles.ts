import { AuthError } from '@palisade/shared';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv, Principal } from '../http/env.js';
import type { UserRole } from '../tenancy/schema.js';

/** Roles are ordered: an admin may do what an analyst may, an analyst what a viewer may. */
const RANK: Record<UserRole, number> = { viewer: 1, analyst: 2, admin: 3 };

export function hasRole(principal: Principal, least: UserRole): boolean {
  return principal.kind !== 'gateway' && RANK[principal.role] >= RANK[least];
}

/**
 * Route guard: the caller must be a user or API key (never a gateway) with at least role `least`. Runs after the
 * `authenticate` middleware, which has already refused anonymous callers.
 */
export function requireRole(least: UserRole): MiddlewareHandler<AppEnv> {
  return async function requireRoleMiddleware(c, next) {
    const p = c.get('principal');
    if (!hasRole(p, least)) {
      throw new AuthError('auth.forbidden', `this action needs the ${least} role`, { details: { required: least } });
    }
    await next();
  };
}

/** The org and actor of a user / API-key caller (handlers behind `requireRole`). */
export function member(p: Principal): Extract<Principal, { kind: 'user' | 'api_key' }> {
  if (p.kind === 'gateway') throw new AuthError('auth.forbidden', 'gateways may not call this endpoint');
  return p;
}
