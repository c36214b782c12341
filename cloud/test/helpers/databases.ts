import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { openDatabase } from '../../src/db/open-database.js';
import type { CloudDatabase } from '../../src/db/types.js';

/**
 * The cloud suite runs on every database target: embedded PGlite always, PostgreSQL when
 * PALISADE_TEST_DATABASE_URL is set (each test file gets a fresh database, dropped afterwards). With
 * PALISADE_REQUIRE_POSTGRES=1 a missing PostgreSQL fails the suite instead of skipping it.
 */
export interface DatabaseTarget {
  name: 'pglite' | 'postgres';
  /** False when the target cannot run here (skip, with the reason in the name of the skipped suite). */
  available: boolean;
  open(): Promise<{ database: CloudDatabase; cleanup(): Promise<void> }>;
}

const PG_URL = process.env.PALISADE_TEST_DATABASE_URL;
const REQUIRE_PG = process.env.PALISADE_REQUIRE_POSTGRES === '1';

if (!PG_URL && !REQUIRE_PG) {
  process.stderr.write('cloud tests: PALISADE_TEST_DATABASE_URL is not set — PostgreSQL half skipped (PGlite only)\n');
}

async function openPglite() {
  const database = await openDatabase({});
  await database.migrate();
  return { database, cleanup: () => database.close() };
}

async function openPostgres() {
  if (!PG_URL) throw new Error('PALISADE_REQUIRE_POSTGRES=1 but PALISADE_TEST_DATABASE_URL is not set');
  const name = `palisade_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: url.toString(), poolSize: 4 });
  await database.migrate();
  return {
    database,
    databaseUrl: url.toString(),
    async cleanup() {
      await database.close();
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export const databaseTargets: DatabaseTarget[] = [
  { name: 'pglite', available: true, open: openPglite },
  { name: 'postgres', available: Boolean(PG_URL) || REQUIRE_PG, open: openPostgres },
];

export const postgresUrl = PG_URL;

/**
 * Declares `body` once per database target, each with its own fresh database, and `setup`'s result built on it.
 * `get()` returns that result inside tests.
 */
export function forEachDatabase<T>(
  title: string,
  setup: (database: CloudDatabase) => Promise<T>,
  body: (get: () => T, target: DatabaseTarget) => void,
): void {
  for (const target of databaseTargets) {
    const suite = target.available ? describe : describe.skip;
    suite(`${title} [${target.name}${target.available ? '' : ': PALISADE_TEST_DATABASE_URL not set'}]`, () => {
      let value: T | undefined;
      let cleanup: (() => Promise<void>) | undefined;
      beforeAll(async () => {
        const opened = await target.open();
        cleanup = opened.cleanup;
        value = await setup(opened.database);
      }, 60_000);
      afterAll(async () => {
        await cleanup?.();
      });
      body(() => {
        if (value === undefined) throw new Error('setup did not run');
        return value;
      }, target);
    });
  }
}
