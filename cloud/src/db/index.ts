/**
 * The cloud's database layer (drizzle pg-core over embedded PGlite or PostgreSQL).
 *
 * - `openDatabase({ databaseUrl?, dataDir? })` → {@link CloudDatabase}: PostgreSQL (node-postgres pool) when
 *   `databaseUrl` is set, else PGlite in `dataDir` (or in memory). The SAME migrations (`cloud/drizzle/`, generated
 *   by `npx drizzle-kit generate` from every `cloud/src/**\/schema.ts`) serve both; `migrate()` takes an advisory
 *   lock on PostgreSQL so concurrent starts are safe.
 * - Tenancy: every tenant table has an `org_id` column and `tenantPolicy('<table>', t.orgId)` in its extra config.
 *   Query tenant data only inside `withTenant(orgId, async (tx) => …)`: the transaction runs as role
 *   `palisade_app` (no BYPASSRLS) with `app.org_id` set, so RLS hides other tenants' rows on both drivers even if a
 *   handler forgets its filter. Still filter by org explicitly — RLS is the safety net, not the query plan.
 *   `db` (owner role) is for system look-ups that precede tenancy (credentials, gateway certificates, migrations).
 * - Errors meaning "database not reachable" surface as `UnavailableError('unavailable.database')` (HTTP 503);
 *   wrap system queries in `guardDatabase(() => …)` to get the same mapping.
 */
export { type DatabaseConfig, guardDatabase, migrationsFolder, openDatabase } from './open-database.js';
export { APP_ROLE, tenantPolicy } from './tenancy.js';
export type { CloudDatabase, Db, DbOrTx, Tx } from './types.js';
