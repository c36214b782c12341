import { sql } from 'drizzle-orm';
import { type AnyPgColumn, pgPolicy } from 'drizzle-orm/pg-core';

/** The non-superuser, non-BYPASSRLS role every tenant-scoped transaction runs as (created by migration 0000). */
export const APP_ROLE = 'palisade_app';

/**
 * The row-level-security policy every tenant table carries: rows are visible and writable only when their
 * `org_id` equals the transaction's `app.org_id` (set by `withTenant`). Use in a table's extra config:
 * `pgTable('x', {...}, (t) => [tenantPolicy('x', t.orgId)])` — declaring a policy enables RLS on the table.
 */
export function tenantPolicy(table: string, orgId: AnyPgColumn) {
  const cond = sql`${orgId} = current_setting('app.org_id', true)`;
  return pgPolicy(`${table}_tenant_isolation`, { as: 'permissive', for: 'all', using: cond, withCheck: cond });
}
