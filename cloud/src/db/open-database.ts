import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { UnavailableError } from '@palisade/shared';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { APP_ROLE } from './tenancy.js';
import type { CloudDatabase, Db, Tx } from './types.js';

export interface DatabaseConfig {
  /** A PostgreSQL connection string; when set the cloud uses node-postgres, else embedded PGlite. */
  databaseUrl?: string | undefined;
  /** PGlite data directory; omitted = in memory (tests). */
  dataDir?: string | undefined;
  /** Pool size for PostgreSQL (default 10). */
  poolSize?: number | undefined;
}

/** `cloud/drizzle`, found from both `src/db` (vitest) and `dist/src/db` (built). */
export function migrationsFolder(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.split(/[\\/]/).includes('dist')
    ? join(here, '..', '..', '..', 'drizzle')
    : join(here, '..', '..', 'drizzle');
}

/** Arbitrary constant of the migration advisory lock ("PALI"). */
const MIGRATION_LOCK = 0x50414c49;

/** Any database error that means "not reachable" (connection refused, terminated, closed pool). */
function isConnectionError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EPIPE|57P0[1-3]|08\d\d\d)$/.test(code))
    return true;
  const msg = e instanceof Error ? e.message : '';
  return /Connection terminated|Client has encountered a connection error|Cannot use a pool after calling end|PGlite is closed/i.test(
    msg,
  );
}

function unavailable(e: unknown): UnavailableError {
  return new UnavailableError('unavailable.database', 'the database is not reachable', { cause: e });
}

/** Wraps driver errors that mean "database down" into `UnavailableError('unavailable.database')`. */
export async function guardDatabase<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isConnectionError(e) || isConnectionError((e as { cause?: unknown })?.cause)) throw unavailable(e);
    throw e;
  }
}

async function tenantTx<T>(db: Db, orgId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return guardDatabase(() =>
    db.transaction(async (tx) => {
      // One round trip: set_config('role', …, true) is SET LOCAL ROLE (same privilege check), and the tenant id
      // is transaction-local too, so neither outlives the transaction on a pooled connection.
      await tx.execute(sql`select set_config('role', ${APP_ROLE}, true), set_config('app.org_id', ${orgId}, true)`);
      return fn(tx);
    }),
  );
}

export async function openDatabase(config: DatabaseConfig): Promise<CloudDatabase> {
  const folder = migrationsFolder();
  if (config.databaseUrl) {
    const pool = new pg.Pool({ connectionString: config.databaseUrl, max: config.poolSize ?? 10 });
    // An idle client losing its server must not crash the process; the next query reports it.
    pool.on('error', () => {});
    let poolClosed = false;
    const db = drizzlePg(pool) as unknown as Db;
    return {
      db,
      driver: 'postgres',
      withTenant: (orgId, fn) => tenantTx(db, orgId, fn),
      async migrate() {
        // One connection holds the advisory lock for the whole migration, so concurrent starts wait in turn.
        const client = await guardDatabase(() => pool.connect());
        try {
          await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
          try {
            await migratePg(drizzlePg(client), { migrationsFolder: folder });
          } finally {
            await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]);
          }
        } finally {
          client.release();
        }
      },
      async ping() {
        await guardDatabase(() => pool.query('select 1'));
      },
      async close() {
        if (poolClosed) return;
        poolClosed = true;
        await pool.end();
      },
    };
  }
  if (config.dataDir) mkdirSync(config.dataDir, { recursive: true });
  const client = config.dataDir ? new PGlite(config.dataDir) : new PGlite();
  const db = drizzlePglite(client) as unknown as Db;
  let closed = false;
  return {
    db,
    driver: 'pglite',
    withTenant: (orgId, fn) => {
      if (closed) return Promise.reject(unavailable(new Error('PGlite is closed')));
      return tenantTx(db, orgId, fn);
    },
    async migrate() {
      // PGlite is single-connection and single-process: no lock needed.
      await migratePglite(drizzlePglite(client), { migrationsFolder: folder });
    },
    async ping() {
      if (closed) throw unavailable(new Error('PGlite is closed'));
      await guardDatabase(() => client.query('select 1'));
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}
