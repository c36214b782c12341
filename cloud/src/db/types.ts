import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';

/** A drizzle pg-core database, whichever driver (PGlite or node-postgres) is underneath. */
export type Db = PgDatabase<PgQueryResultHKT, Record<string, never>>;
/** A transaction on {@link Db}; every tenant-scoped query runs on one (see `withTenant`). */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** What a query may run on: the database itself (system queries) or a transaction. */
export type DbOrTx = Db | Tx;

export interface CloudDatabase {
  /** System access (owner role, RLS not applied): authentication look-ups, migrations, cross-tenant jobs. */
  readonly db: Db;
  /** `pglite` (embedded, data directory or in memory) or `postgres` (node-postgres pool). */
  readonly driver: 'pglite' | 'postgres';
  /**
   * Runs `fn` in one transaction as the tenant `orgId`: `SET LOCAL ROLE palisade_app` (no BYPASSRLS) and
   * `app.org_id` set for the transaction, so row-level security hides every other organisation's rows even from a
   * query that forgets its `WHERE org_id = …`. Everything `fn` writes commits together or not at all.
   */
  withTenant<T>(orgId: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Applies the migrations in `cloud/drizzle/` (advisory-locked, so concurrent starts are safe). */
  migrate(): Promise<void>;
  /** Throws `UnavailableError('unavailable.database')` when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
