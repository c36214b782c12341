import { newId, ValidationError } from '@palisade/shared';
import { recordAudit, SYSTEM_ACTOR } from '../audit/audit.js';
import { guardDatabase } from '../db/open-database.js';
import type { CloudDatabase } from '../db/types.js';
import { apiKeys, organizations, users } from '../tenancy/schema.js';
import { hashPassword } from './passwords.js';
import { parseApiKey, randomSecret, secretHash } from './tokens.js';

export interface BootstrapInput {
  orgName?: string;
  adminEmail?: string | undefined;
  /** From `PALISADE_ADMIN_PASSWORD`; when absent a random one is generated and returned (printed once). */
  adminPassword?: string | undefined;
  /** From `PALISADE_ADMIN_API_KEY` (`pk_<id>_<secret>`): registered as an admin key. */
  adminApiKey?: string | undefined;
  /** log2 of scrypt's N (default 15; tests only lower it). */
  passwordLogN?: number;
}

export type BootstrapResult =
  | { created: false }
  | { created: true; orgId: string; adminEmail: string; generatedPassword: string | undefined };

export const DEFAULT_ADMIN_EMAIL = 'admin@palisade.local';

/**
 * First start: creates the organisation and its admin. Runs on every start and does nothing once an organisation
 * exists; racing starts are safe because the organisation insert is the gate (unique name, ON CONFLICT DO NOTHING).
 */
export async function bootstrap(database: CloudDatabase, input: BootstrapInput, now: number): Promise<BootstrapResult> {
  const existing = await guardDatabase(() => database.db.select({ id: organizations.id }).from(organizations).limit(1));
  if (existing.length > 0) return { created: false };
  const orgId = newId('org', now);
  const adminEmail = (input.adminEmail ?? DEFAULT_ADMIN_EMAIL).toLowerCase();
  const generatedPassword = input.adminPassword === undefined ? randomSecret(18) : undefined;
  const passwordHash = await hashPassword(input.adminPassword ?? generatedPassword ?? '', input.passwordLogN);
  const key = input.adminApiKey === undefined ? undefined : parseApiKey(input.adminApiKey);
  if (input.adminApiKey !== undefined && key === undefined) {
    throw new ValidationError('validation.admin_api_key', 'PALISADE_ADMIN_API_KEY must look like pk_<id>_<secret>');
  }
  const created = await guardDatabase(() =>
    database.db.transaction(async (tx) => {
      const org = await tx
        .insert(organizations)
        .values({ id: orgId, name: input.orgName ?? 'default', createdAt: new Date(now) })
        .onConflictDoNothing()
        .returning({ id: organizations.id });
      if (org.length === 0) return false;
      const userId = newId('usr', now);
      await tx
        .insert(users)
        .values({ id: userId, orgId, email: adminEmail, role: 'admin', passwordHash, createdAt: new Date(now) });
      await recordAudit(
        tx,
        orgId,
        SYSTEM_ACTOR,
        undefined,
        {
          action: 'user.create',
          targetType: 'user',
          targetId: userId,
          after: { email: adminEmail, role: 'admin', bootstrap: true },
        },
        now,
      );
      if (key) {
        await tx.insert(apiKeys).values({
          id: key.id,
          orgId,
          name: 'bootstrap admin key',
          role: 'admin',
          secretHash: secretHash(key.secret),
          createdBy: userId,
          createdAt: new Date(now),
        });
        await recordAudit(
          tx,
          orgId,
          SYSTEM_ACTOR,
          undefined,
          {
            action: 'api_key.create',
            targetType: 'api_key',
            targetId: key.id,
            after: { role: 'admin', bootstrap: true },
          },
          now,
        );
      }
      return true;
    }),
  );
  return created ? { created: true, orgId, adminEmail, generatedPassword } : { created: false };
}
