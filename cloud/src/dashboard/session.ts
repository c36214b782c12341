import { AuthError, type Clock } from '@palisade/shared';
import { and, eq, gt } from 'drizzle-orm';
import { recordAudit } from '../audit/audit.js';
import { decoyHash, verifyPassword } from '../auth/passwords.js';
import { randomSecret, sameHash, secretHash } from '../auth/tokens.js';
import type { CaseActor } from '../cases/actor.js';
import { guardDatabase } from '../db/open-database.js';
import type { CloudDatabase } from '../db/types.js';
import type { Principal, RequestSource } from '../http/env.js';
import { sessions, type UserRole, users } from '../tenancy/schema.js';

/** The signed-in analyst behind a dashboard request. */
export interface DashboardUser {
  id: string;
  orgId: string;
  email: string;
  role: UserRole;
  csrf: string;
  sessionIdHash: string;
}

/**
 * The dashboard shares the API's sessions (table `sessions`, cookie `palisade_session`): signing in on either signs
 * in on both, and the session's CSRF token is the one the API expects in `x-csrf-token`. Forms carry it as `_csrf`.
 */
export async function sessionUser(
  database: CloudDatabase,
  clock: Clock,
  cookie: string | undefined,
): Promise<DashboardUser | undefined> {
  if (cookie === undefined || cookie.length > 200) return undefined;
  const idHash = secretHash(cookie);
  const [row] = await guardDatabase(() =>
    database.db
      .select({ s: sessions, email: users.email, role: users.role })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(and(eq(sessions.idHash, idHash), gt(sessions.expiresAt, new Date(clock.now())), eq(users.disabled, false)))
      .limit(1),
  );
  if (!row) return undefined;
  return {
    id: row.s.userId,
    orgId: row.s.orgId,
    email: row.email,
    role: row.role,
    csrf: row.s.csrfToken,
    sessionIdHash: idHash,
  };
}

export function csrfOk(user: DashboardUser, token: unknown): boolean {
  return typeof token === 'string' && token.length < 200 && sameHash(secretHash(token), secretHash(user.csrf));
}

/** Checks e-mail and password exactly as `POST /api/v1/auth/login` does, and opens a session. */
export async function signIn(
  database: CloudDatabase,
  clock: Clock,
  source: RequestSource,
  email: string,
  password: string,
  ttlMs: number,
): Promise<{ cookie: string; expiresAt: Date }> {
  const [u] = await guardDatabase(() =>
    database.db
      .select()
      .from(users)
      .where(eq(users.email, email.toLowerCase().slice(0, 320)))
      .limit(1),
  );
  // Same scrypt work whether or not the user exists, so timing does not reveal valid e-mail addresses.
  const ok = await verifyPassword(password.slice(0, 256), u?.passwordHash ?? (await decoyHash()));
  if (!u || !ok || u.disabled) throw new AuthError('auth.invalid_credentials', 'wrong e-mail or password');
  const cookie = randomSecret();
  const now = clock.now();
  const expiresAt = new Date(now + ttlMs);
  await database.withTenant(u.orgId, async (tx) => {
    await tx.insert(sessions).values({
      idHash: secretHash(cookie),
      orgId: u.orgId,
      userId: u.id,
      csrfToken: randomSecret(),
      createdAt: new Date(now),
      expiresAt,
    });
    await recordAudit(
      tx,
      u.orgId,
      principalOf({ id: u.id, orgId: u.orgId, role: u.role, sessionIdHash: '' }),
      source,
      { action: 'session.create', targetType: 'user', targetId: u.id },
      now,
    );
  });
  return { cookie, expiresAt };
}

export async function signOut(database: CloudDatabase, user: DashboardUser): Promise<void> {
  await database.withTenant(user.orgId, (tx) => tx.delete(sessions).where(eq(sessions.idHash, user.sessionIdHash)));
}

export function principalOf(
  u: Pick<DashboardUser, 'id' | 'orgId' | 'role' | 'sessionIdHash'>,
): Extract<Principal, { kind: 'user' }> {
  return { kind: 'user', id: u.id, orgId: u.orgId, role: u.role, sessionIdHash: u.sessionIdHash };
}

export function actorOf(u: DashboardUser, source: RequestSource): CaseActor {
  return { kind: 'user', id: u.id, role: u.role, source };
}

const RANK: Record<UserRole, number> = { viewer: 1, analyst: 2, admin: 3 };

export function mayAct(u: DashboardUser, least: UserRole = 'analyst'): boolean {
  return RANK[u.role] >= RANK[least];
}

/** Viewers read; changing anything needs an analyst (or admin for decisions that say so). */
export function requireDashboardRole(u: DashboardUser, least: UserRole): void {
  if (!mayAct(u, least))
    throw new AuthError('auth.forbidden', `this needs the ${least} role`, { details: { required: least } });
}
