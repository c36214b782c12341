import type Database from 'better-sqlite3';
import type { AlertInput } from '../detection/alerts.js';
import { TELEMETRY_ROLLUP_KIND } from './records.js';

/**
 * The outbox's disk budget. A gateway offline for days keeps queuing; past the budget it makes room in this order:
 *  1. superseded device snapshots (an older snapshot of a device that has a newer one queued carries nothing the
 *     cloud keeps: its ingest keeps the newest device state only);
 *  2. telemetry rollups, oldest first, down to the low-water mark;
 * and never touches alerts or attestation results, nor the rows of the batch in flight. Thinning raises the
 * `outbox_thinned` alert, which goes through the outbox like any other, so the SOC learns that telemetry is missing
 * and why. If alerts and results alone exceed the budget the outbox keeps growing: they are what the product is for.
 */
export interface OutboxBudgetOptions {
  /** Bytes of queued payload (plus a per-row overhead) allowed. */
  maxBytes: number;
  /** After thinning, the queue is brought down to this fraction of the budget (hysteresis). Default 0.9. */
  lowWater?: number;
  /** Raises the thinning alert (the detection's AlertStore, which writes alert and outbox row together). */
  raiseAlert: (input: AlertInput) => void;
}

export interface BudgetOutcome {
  bytesBefore: number;
  bytesAfter: number;
  compacted: number;
  thinned: number;
  /** Still above the budget after thinning: only alerts, results and the batch in flight are left. */
  overBudget: boolean;
}

/** Rough per-row cost of the outbox's other columns and index entries, so many tiny rows count too. */
export const OUTBOX_ROW_OVERHEAD = 64;

export function outboxBytes(sqlite: Database.Database): number {
  const r = sqlite
    .prepare(`SELECT coalesce(sum(length(payload)), 0) + count(*) * ${OUTBOX_ROW_OVERHEAD} AS b FROM outbox`)
    .get() as { b: number };
  return r.b;
}

/** `protectedUpToId`: the highest outbox id of the batch in flight (0 when none); those rows are never touched. */
export function enforceOutboxBudget(
  sqlite: Database.Database,
  options: OutboxBudgetOptions,
  protectedUpToId: number,
): BudgetOutcome {
  const bytesBefore = outboxBytes(sqlite);
  if (bytesBefore <= options.maxBytes) {
    return { bytesBefore, bytesAfter: bytesBefore, compacted: 0, thinned: 0, overBudget: false };
  }
  const target = Math.floor(options.maxBytes * (options.lowWater ?? 0.9));
  const { compacted, thinned } = sqlite.transaction(() => {
    const compacted = sqlite
      .prepare(
        `DELETE FROM outbox WHERE kind = 'device' AND id > ? AND id NOT IN
           (SELECT max(id) FROM outbox WHERE kind = 'device' GROUP BY entity_id)`,
      )
      .run(protectedUpToId).changes;
    let excess = outboxBytes(sqlite) - target;
    let thinned = 0;
    if (excess > 0) {
      const rows = sqlite
        .prepare(
          `SELECT id, length(payload) + ${OUTBOX_ROW_OVERHEAD} AS size FROM outbox
            WHERE kind = ? AND id > ? ORDER BY id`,
        )
        .iterate(TELEMETRY_ROLLUP_KIND, protectedUpToId) as IterableIterator<{ id: number; size: number }>;
      let upTo = -1;
      for (const r of rows) {
        upTo = r.id;
        excess -= r.size;
        if (excess <= 0) break;
      }
      if (upTo >= 0) {
        thinned = sqlite
          .prepare('DELETE FROM outbox WHERE kind = ? AND id > ? AND id <= ?')
          .run(TELEMETRY_ROLLUP_KIND, protectedUpToId, upTo).changes;
        sqlite.prepare('UPDATE sync_state SET thinned = thinned + ? WHERE id = 1').run(thinned);
      }
    }
    return { compacted, thinned };
  })();
  if (thinned > 0) {
    options.raiseAlert({
      type: 'outbox_thinned',
      severity: 'warning',
      details: { thinnedRollups: thinned, budgetBytes: options.maxBytes, queuedBytesBefore: bytesBefore },
    });
  }
  const bytesAfter = outboxBytes(sqlite);
  return { bytesBefore, bytesAfter, compacted, thinned, overBudget: bytesAfter > options.maxBytes };
}
