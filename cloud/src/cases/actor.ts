import { AuthError } from '@palisade/shared';
import { USER_ROLES, type UserRole } from '../tenancy/schema.js';

/**
 * Who is acting on a case: a signed-in user, an API key, or the system itself (correlation at ingest).
 * `role` decides what the actor may do: viewer reads, analyst works cases, admin also configures.
 */
export interface CaseActor {
  kind: 'user' | 'api_key' | 'system';
  id: string;
  role: UserRole;
  /** Where the request came from, for the audit log. */
  source?: { ip: string | undefined; userAgent: string | undefined } | undefined;
}

/** The actor used for changes made by the cloud itself (correlation, severity escalation at ingest). */
export const SYSTEM_ACTOR: CaseActor = { kind: 'system', id: 'correlator', role: 'admin' };

const RANK: Record<UserRole, number> = { viewer: 0, analyst: 1, admin: 2 };

export function requireRole(actor: CaseActor, least: UserRole): void {
  if (!USER_ROLES.includes(actor.role) || RANK[actor.role] < RANK[least]) {
    throw new AuthError('auth.forbidden', `this needs the ${least} role`, {
      details: { required: least, role: actor.role },
    });
  }
}
