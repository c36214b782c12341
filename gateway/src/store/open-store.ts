import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UnavailableError } from '@palisade/shared';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.js';

/** The drizzle handle; `$client` is the better-sqlite3 connection underneath (for compiled hot-path statements). */
export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

/** The open store: the drizzle handle for queries and the raw connection for pragmas and prepared hot paths. */
export interface Store {
  readonly db: Db;
  readonly sqlite: Database.Database;
  readonly path: string;
  /** True while the connection is open and answers a trivial query. */
  ping(): boolean;
  close(): void;
}

export interface OpenStoreOptions {
  /** A file path, or `:memory:` for tests. The parent directory is created if missing. */
  path: string;
  /**
   * How long a writer waits for a lock held by another connection (the CLI operating on a running gateway's data
   * dir) before failing with SQLITE_BUSY. Default 5000 ms.
   */
  busyTimeoutMs?: number;
}

/** The migrations folder ships beside `src/` and `dist/`; found by walking up from this module. */
function migrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'drizzle');
    if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
    dir = dirname(dir);
  }
  throw new UnavailableError('unavailable.migrations', 'gateway migrations folder (drizzle/) not found');
}

/** The database file inside a data directory. */
export function databasePath(dataDir: string): string {
  return join(resolve(dataDir), 'gateway.sqlite');
}

/**
 * Opens (creating if needed) the gateway database and applies pending migrations.
 * WAL lets the CLI read while the gateway writes; `synchronous=NORMAL` is durable across process crashes in WAL mode
 * and loses at most the last transactions on power loss, which the outbox tolerates; foreign keys are off by default
 * in SQLite and must be enabled per connection.
 */
/** Distinct SQL texts whose compiled statements are kept (drizzle's are parameterised, so few are distinct). */
const STATEMENT_CACHE_SIZE = 512;

/**
 * drizzle prepares every query again on every execution; compiling SQL was the largest single cost of an appraisal
 * (about 10 statements each). This keeps compiled statements by SQL text, least recently used dropped first. A
 * statement handed out again is reset to its default row mode, since callers switch raw/pluck/expand per use.
 */
function reusePreparedStatements(sqlite: Database.Database): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, Database.Statement>();
  sqlite.prepare = ((source: string) => {
    const hit = cache.get(source);
    if (hit !== undefined) {
      cache.delete(source);
      cache.set(source, hit);
      if (hit.reader) hit.raw(false).pluck(false).expand(false);
      return hit;
    }
    const stmt = prepare(source);
    if (cache.size >= STATEMENT_CACHE_SIZE) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(source, stmt);
    return stmt;
  }) as Database.Database['prepare'];
}

export function openStore(options: OpenStoreOptions): Store {
  const path = options.path;
  if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
  let sqlite: Database.Database;
  try {
    sqlite = new Database(path);
  } catch (e) {
    throw new UnavailableError('unavailable.database', `cannot open database at ${path}`, { cause: e });
  }
  try {
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    sqlite.pragma('foreign_keys = ON');
    const db = drizzle({ client: sqlite, schema });
    migrate(db, { migrationsFolder: migrationsFolder() });
    reusePreparedStatements(sqlite);
    const pingStmt = sqlite.prepare('SELECT 1 AS ok');
    return {
      db,
      sqlite,
      path,
      ping(): boolean {
        try {
          return sqlite.open && (pingStmt.get() as { ok: number }).ok === 1;
        } catch {
          return false;
        }
      },
      close(): void {
        if (sqlite.open) sqlite.close();
      },
    };
  } catch (e) {
    sqlite.close();
    if (e instanceof UnavailableError) throw e;
    throw new UnavailableError('unavailable.database', `cannot prepare database at ${path}`, { cause: e });
  }
}
