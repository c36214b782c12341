import type Database from 'better-sqlite3';
import { getTableColumns, getTableName, type Table } from 'drizzle-orm';
import type { AuditEntry, OutboxEntry } from './journal.js';
import { type AttestationResultRow, type DeviceRow, devices } from './schema.js';

/**
 * Hot-path access without drizzle's query builder. Building a query (not running it) was half of the gateway's
 * main-thread time per appraisal, so the statements an appraisal runs are compiled once here. Column lists come from
 * the drizzle schema itself, so a column added by a migration is selected here too and rows keep drizzle's shape
 * (camelCase keys, booleans), which the outbox payloads and the cloud rely on.
 */

/** `SELECT "col" AS "key", …` for every column of `table`, plus a function giving the row drizzle would return. */
function rowReader<T>(table: Table): { select: string; read: (raw: Record<string, unknown>) => T } {
  const columns = Object.entries(getTableColumns(table));
  const booleans = columns.filter(([, c]) => c.columnType === 'SQLiteBoolean').map(([k]) => k);
  const list = columns.map(([k, c]) => `"${c.name}" AS "${k}"`).join(', ');
  return {
    select: `SELECT ${list} FROM "${getTableName(table)}"`,
    read: (raw) => {
      for (const k of booleans) raw[k] = raw[k] === 1;
      return raw as T;
    },
  };
}

const deviceReader = rowReader<DeviceRow>(devices);

/** Column names of the `devices` fields the hot path writes. */
const DEVICE_SET: Partial<Record<keyof DeviceRow, string>> = {};
for (const [k, c] of Object.entries(getTableColumns(devices))) DEVICE_SET[k as keyof DeviceRow] = c.name;

export interface RawStatements {
  device(id: string): DeviceRow | undefined;
  /** Updates `patch`'s fields of device `id` (a fixed statement per set of fields). */
  updateDevice(id: string, patch: Partial<DeviceRow>): void;
  insertResult(r: AttestationResultRow): void;
  audit(e: AuditEntry): void;
  outbox(e: OutboxEntry): void;
}

const cache = new WeakMap<Database.Database, RawStatements>();

/** The compiled hot-path statements of one connection (compiled on first use, kept for the connection's life). */
export function rawStatements(sqlite: Database.Database): RawStatements {
  const hit = cache.get(sqlite);
  if (hit !== undefined) return hit;
  const selectDevice = sqlite.prepare(`${deviceReader.select} WHERE id = ?`);
  const insertResult = sqlite.prepare(
    `INSERT INTO attestation_results (id, device_id, status, reasons, jwt, nonce, evidence_digest, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertAudit = sqlite.prepare(
    'INSERT INTO audit (at, actor, action, device_id, details) VALUES (?, ?, ?, ?, ?)',
  );
  const insertOutbox = sqlite.prepare('INSERT INTO outbox (at, kind, entity_id, payload) VALUES (?, ?, ?, ?)');
  const updates = new Map<string, Database.Statement>();
  const s: RawStatements = {
    device(id) {
      const raw = selectDevice.get(id) as Record<string, unknown> | undefined;
      return raw === undefined ? undefined : deviceReader.read(raw);
    },
    updateDevice(id, patch) {
      const keys = Object.keys(patch) as (keyof DeviceRow)[];
      if (keys.length === 0) return;
      const shape = keys.join(',');
      let stmt = updates.get(shape);
      if (stmt === undefined) {
        const sets = keys.map((k) => {
          const col = DEVICE_SET[k];
          if (col === undefined) throw new Error(`devices has no field ${k}`);
          return `"${col}" = ?`;
        });
        stmt = sqlite.prepare(`UPDATE devices SET ${sets.join(', ')} WHERE id = ?`);
        updates.set(shape, stmt);
      }
      const values = keys.map((k) => {
        const v = patch[k];
        return typeof v === 'boolean' ? (v ? 1 : 0) : (v ?? null);
      });
      stmt.run(...values, id);
    },
    insertResult(r) {
      insertResult.run(r.id, r.deviceId, r.status, r.reasons, r.jwt, r.nonce, r.evidenceDigest, r.createdAt);
    },
    audit(e) {
      insertAudit.run(e.at, e.actor, e.action, e.deviceId ?? null, JSON.stringify(e.details ?? {}));
    },
    outbox(e) {
      insertOutbox.run(e.at, e.kind, e.entityId, JSON.stringify(e.payload));
    },
  };
  cache.set(sqlite, s);
  return s;
}
