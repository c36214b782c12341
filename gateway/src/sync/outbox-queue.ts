import { gzipSync } from 'node:zlib';
import { type Clock, SYNC_MAX_BODY_BYTES, SYNC_MAX_RECORDS } from '@palisade/shared';
import type Database from 'better-sqlite3';
import { mapOutboxRow, type OutboxRowLike } from './records.js';

/** A numbered batch, persisted before it is sent: re-sending it after a crash sends the very same bytes. */
export interface PreparedBatch {
  sequence: number;
  /** gzip of the JSON SyncBatch. */
  body: Buffer;
  records: number;
  lastOutboxId: number;
}

export interface OutboxQueueOptions {
  clock: Clock;
  /** Records per batch (≤ the contract's {@link SYNC_MAX_RECORDS}). */
  maxRecords?: number;
  /**
   * Uncompressed JSON bytes per batch. The cloud bounds both the body on the wire and what it inflates to by
   * {@link SYNC_MAX_BODY_BYTES}; 64 KiB are left for the batch envelope.
   */
  maxBodyBytes?: number;
  /** zlib level (1 fastest … 9 smallest); default 6. */
  gzipLevel?: number;
}

export interface SyncStateRow {
  ackedSeq: number;
  nextSeq: number;
  inflightSeq: number | null;
  inflightLastId: number | null;
  inflightRecords: number | null;
  inflightBody: Buffer | null;
  deadLetters: number;
  thinned: number;
}

/**
 * The durable half of the sync agent: turns the outbox into numbered batches and moves the acknowledged cursor.
 * Invariants: a sequence number is assigned and the batch's bytes stored in the same transaction, before the first
 * send; outbox rows leave only on the cloud's ack of the batch that covered them; a sequence number is never used for
 * other content (a refused batch is discarded and its records go out under a fresh number). Only one queue may work
 * on a database at a time (the gateway process owns it).
 */
export class OutboxQueue {
  private readonly clock: Clock;
  readonly maxRecords: number;
  private recordCap: number;
  private readonly maxBodyBytes: number;
  private readonly gzipLevel: number;
  private readonly stmts;

  constructor(
    private readonly sqlite: Database.Database,
    options: OutboxQueueOptions,
  ) {
    this.clock = options.clock;
    this.maxRecords = Math.max(1, Math.min(SYNC_MAX_RECORDS, options.maxRecords ?? SYNC_MAX_RECORDS));
    this.recordCap = this.maxRecords;
    this.maxBodyBytes = Math.max(
      4096,
      Math.min(SYNC_MAX_BODY_BYTES - 65_536, options.maxBodyBytes ?? SYNC_MAX_BODY_BYTES),
    );
    this.gzipLevel = options.gzipLevel ?? 6;
    this.sqlite
      .prepare('INSERT OR IGNORE INTO sync_state (id, acked_seq, next_seq, updated_at) VALUES (1, 0, 1, ?)')
      .run(this.clock.now());
    this.stmts = {
      state: sqlite.prepare(
        `SELECT acked_seq AS ackedSeq, next_seq AS nextSeq, inflight_seq AS inflightSeq,
                inflight_last_id AS inflightLastId, inflight_records AS inflightRecords, inflight_body AS inflightBody,
                dead_letters AS deadLetters, thinned FROM sync_state WHERE id = 1`,
      ),
      rows: sqlite.prepare(
        'SELECT id, at, kind, entity_id AS entityId, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?',
      ),
      setInflight: sqlite.prepare(
        `UPDATE sync_state SET inflight_seq = ?, inflight_last_id = ?, inflight_records = ?, inflight_body = ?,
                next_seq = ?, updated_at = ? WHERE id = 1 AND inflight_seq IS NULL`,
      ),
      deleteUpTo: sqlite.prepare('DELETE FROM outbox WHERE id <= ?'),
      ack: sqlite.prepare(
        `UPDATE sync_state SET acked_seq = max(acked_seq, inflight_seq), inflight_seq = NULL, inflight_last_id = NULL,
                inflight_records = NULL, inflight_body = NULL, updated_at = ? WHERE id = 1 AND inflight_seq = ?`,
      ),
      discard: sqlite.prepare(
        `UPDATE sync_state SET inflight_seq = NULL, inflight_last_id = NULL, inflight_records = NULL,
                inflight_body = NULL, updated_at = ? WHERE id = 1`,
      ),
      pending: sqlite.prepare('SELECT count(*) AS n FROM outbox'),
    };
  }

  state(): SyncStateRow {
    return this.stmts.state.get() as SyncStateRow;
  }

  /** Outbox rows not yet acknowledged (including those of the in-flight batch). */
  pendingCount(): number {
    return (this.stmts.pending.get() as { n: number }).n;
  }

  /**
   * The batch to send now: the in-flight one if there is one (a retry, or the first send after a restart), else the
   * next records of the outbox under a new sequence. Null when there is nothing to send. Rows the contract cannot
   * carry are left out of the body (and leave the outbox with the batch's ack); a stretch of only such rows is
   * cleared at once.
   */
  prepare(gatewayId: string): PreparedBatch | null {
    for (;;) {
      const s = this.state();
      if (s.inflightSeq !== null && s.inflightBody !== null && s.inflightLastId !== null) {
        return {
          sequence: s.inflightSeq,
          body: s.inflightBody,
          records: s.inflightRecords ?? 0,
          lastOutboxId: s.inflightLastId,
        };
      }
      const rows = this.stmts.rows.all(0, this.recordCap) as OutboxRowLike[];
      if (rows.length === 0) return null;
      const parts: string[] = [];
      let bytes = 0;
      let lastId = 0;
      for (const row of rows) {
        const mapped = mapOutboxRow(row);
        if ('record' in mapped) {
          const json = JSON.stringify(mapped.record);
          const size = Buffer.byteLength(json) + 1;
          // Always take the first record, so one large record still moves (the cloud judges it alone).
          if (parts.length > 0 && bytes + size > this.maxBodyBytes) break;
          parts.push(json);
          bytes += size;
        }
        lastId = row.id;
      }
      if (parts.length === 0) {
        this.stmts.deleteUpTo.run(lastId);
        continue;
      }
      const sequence = s.nextSeq;
      const sentAt = new Date(this.clock.now()).toISOString();
      const json = `{"gatewayId":${JSON.stringify(gatewayId)},"sequence":${sequence},"sentAt":"${sentAt}","records":[${parts.join(',')}]}`;
      const body = gzipSync(json, { level: this.gzipLevel });
      const changed = this.stmts.setInflight.run(sequence, lastId, parts.length, body, sequence + 1, this.clock.now());
      if (changed.changes !== 1) continue;
      return { sequence, body, records: parts.length, lastOutboxId: lastId };
    }
  }

  /** The cloud acknowledged `sequence`: its rows leave the outbox and the cursor moves, in one transaction. */
  acknowledge(sequence: number): boolean {
    return this.sqlite.transaction(() => {
      const s = this.state();
      if (s.inflightSeq !== sequence || s.inflightLastId === null) return false;
      this.stmts.deleteUpTo.run(s.inflightLastId);
      this.stmts.ack.run(this.clock.now(), sequence);
      this.recordCap = this.maxRecords;
      return true;
    })();
  }

  /** Drops the in-flight batch so its records go out again under a fresh sequence (never a reused one). */
  renumberInflight(): 'renumbered' | 'none' {
    const s = this.state();
    if (s.inflightSeq === null) return 'none';
    this.stmts.discard.run(this.clock.now());
    return 'renumbered';
  }

  /**
   * The cloud refused the in-flight batch as a whole (too large, or a record it will not take) without storing it.
   * With several records the batch is rebuilt with half as many under a fresh sequence, which isolates a bad record
   * in a few steps; a refused batch of one record moves that record to `sync_dead_letters`, so it neither blocks the
   * queue nor disappears. Returns what was done.
   */
  refuseInflight(reason: string): 'split' | 'dead_lettered' | 'none' {
    return this.sqlite.transaction(() => {
      const s = this.state();
      if (s.inflightSeq === null || s.inflightLastId === null) return 'none';
      const now = this.clock.now();
      if ((s.inflightRecords ?? 0) > 1) {
        this.recordCap = Math.max(1, Math.floor(Math.min(this.recordCap, s.inflightRecords ?? 1) / 2));
        this.stmts.discard.run(now);
        return 'split';
      }
      this.sqlite
        .prepare(
          `INSERT INTO sync_dead_letters (outbox_id, kind, entity_id, payload, reason, at)
           SELECT id, kind, entity_id, payload, ?, ? FROM outbox WHERE id <= ?`,
        )
        .run(reason.slice(0, 1000), now, s.inflightLastId);
      this.stmts.deleteUpTo.run(s.inflightLastId);
      this.stmts.discard.run(now);
      this.sqlite.prepare('UPDATE sync_state SET dead_letters = dead_letters + 1 WHERE id = 1').run();
      this.recordCap = this.maxRecords;
      return 'dead_lettered';
    })();
  }
}
