import { sql } from 'drizzle-orm';
import { blob, check, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * The sync agent's own tables (part of the gateway's migrations: drizzle.config.ts lists this file beside
 * `store/schema.ts`). Times are ms since the epoch, like the rest of the store.
 */

/**
 * One row (`id = 1`): where the upload stands. A batch is built, numbered and stored here (`inflight_*`) in one
 * transaction BEFORE it is sent, so after a crash the very same bytes go out again under the same sequence and the
 * cloud's idempotent ingest acknowledges them once. The outbox rows it covers are deleted only when the cloud's ack
 * for that sequence arrives.
 */
export const syncState = sqliteTable(
  'sync_state',
  {
    id: integer('id').primaryKey(),
    /** Highest sequence the cloud acknowledged (0: none yet). */
    ackedSeq: integer('acked_seq').notNull().default(0),
    /** The sequence the next new batch takes. */
    nextSeq: integer('next_seq').notNull().default(1),
    inflightSeq: integer('inflight_seq'),
    /** Highest outbox id the in-flight batch covers. */
    inflightLastId: integer('inflight_last_id'),
    inflightRecords: integer('inflight_records'),
    /** The exact (gzip) request body of the in-flight batch. */
    inflightBody: blob('inflight_body', { mode: 'buffer' }),
    /** Records the cloud refused one by one (see `sync_dead_letters`), for the status page. */
    deadLetters: integer('dead_letters').notNull().default(0),
    /** Telemetry rollups deleted by the outbox budget. */
    thinned: integer('thinned').notNull().default(0),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [check('sync_state_single_row', sql`${t.id} = 1`)],
);

/**
 * A record the cloud refused on its own (a batch of one, 400): kept on disk for an operator instead of blocking the
 * queue forever or vanishing.
 */
export const syncDeadLetters = sqliteTable('sync_dead_letters', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  outboxId: integer('outbox_id').notNull(),
  kind: text('kind').notNull(),
  entityId: text('entity_id').notNull(),
  payload: text('payload').notNull(),
  reason: text('reason').notNull(),
  at: integer('at').notNull(),
});

/**
 * Commands received from the cloud, one row per command id: applying is idempotent because a command whose row exists
 * is never applied again, only re-acknowledged with its recorded outcome.
 */
export const syncCommands = sqliteTable('sync_commands', {
  id: text('id').primaryKey(),
  type: text('type').notNull(),
  issuedBy: text('issued_by').notNull(),
  /** The command as received (JSON), for the audit trail. */
  body: text('body').notNull(),
  outcome: text('outcome').notNull(),
  detail: text('detail'),
  decidedAt: integer('decided_at').notNull(),
  /** When the cloud confirmed it has the outcome; null until then (re-sent with the next ack round). */
  ackedAt: integer('acked_at'),
});
