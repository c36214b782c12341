import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import {
  databasePath,
  NonceStore,
  openStore,
  recordAudit,
  recordOutbox,
  type Store,
  schema,
} from '../../src/store/index.js';
import { rawStatements } from '../../src/store/raw-rows.js';

const open: Store[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'palisade-store-'));
  dirs.push(d);
  return d;
}

function openAt(path: string): Store {
  const s = openStore({ path });
  open.push(s);
  return s;
}

function addDevice(s: Store, id: string): void {
  s.db.insert(schema.devices).values({ id, enrolledVia: 'operator', createdAt: 1, updatedAt: 1 }).run();
}

describe('openStore', () => {
  it('applies the migrations and sets WAL, synchronous=NORMAL, foreign keys and a busy timeout', () => {
    const s = openAt(databasePath(tempDir()));
    expect(s.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(s.sqlite.pragma('synchronous', { simple: true })).toBe(1);
    expect(s.sqlite.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(s.sqlite.pragma('busy_timeout', { simple: true })).toBe(5000);
    const tables = s.sqlite
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'",
      )
      .all()
      .map((r) => (r as { name: string }).name)
      .sort();
    expect(tables).toEqual(
      expect.arrayContaining([
        'alerts',
        'attestation_results',
        'audit',
        'credentials',
        'devices',
        'outbox',
        'reference_values',
        'telemetry_raw',
        'telemetry_rollups',
        'used_nonces',
      ]),
    );
    expect(s.ping()).toBe(true);
    s.close();
    expect(s.ping()).toBe(false);
  });

  it('keeps data across close and reopen, and re-running migrations is a no-op', () => {
    const path = databasePath(tempDir());
    const a = openAt(path);
    addDevice(a, 'dev-1');
    a.close();
    const b = openAt(path);
    expect(
      b.db
        .select()
        .from(schema.devices)
        .all()
        .map((d) => d.id),
    ).toEqual(['dev-1']);
  });

  it('enforces foreign keys: a result for an unknown device is refused', () => {
    const s = openAt(':memory:');
    expect(() =>
      s.db
        .insert(schema.attestationResults)
        .values({ id: 'r1', deviceId: 'ghost', status: 'affirming', reasons: '[]', createdAt: 1 })
        .run(),
    ).toThrow(/FOREIGN KEY/);
  });

  it('allows one live alert per dedup key, but any number of closed ones', () => {
    const s = openAt(':memory:');
    const row = { type: 't', severity: 'warning' as const, firstSeen: 1, lastSeen: 1, details: '{}' };
    s.db
      .insert(schema.alerts)
      .values({ ...row, id: 'a1', dedupKey: 'k' })
      .run();
    expect(() =>
      s.db
        .insert(schema.alerts)
        .values({ ...row, id: 'a2', dedupKey: 'k' })
        .run(),
    ).toThrow(/UNIQUE/);
    expect(() =>
      s.db
        .insert(schema.alerts)
        .values({ ...row, id: 'a2', dedupKey: 'k', state: 'acknowledged' })
        .run(),
    ).toThrow(/UNIQUE/);
    s.db.update(schema.alerts).set({ state: 'closed' }).where(eq(schema.alerts.id, 'a1')).run();
    s.db
      .insert(schema.alerts)
      .values({ ...row, id: 'a2', dedupKey: 'k' })
      .run();
    s.db
      .insert(schema.alerts)
      .values({ ...row, id: 'a3', dedupKey: 'k', state: 'closed' })
      .run();
    expect(s.db.select().from(schema.alerts).all()).toHaveLength(3);
  });

  it('journal writes roll back with the transaction they belong to', () => {
    const s = openAt(':memory:');
    expect(() =>
      s.db.transaction((tx) => {
        recordAudit(tx, { at: 1, actor: 'operator:ann', action: 'device.approve', deviceId: 'd' });
        recordOutbox(tx, { at: 1, kind: 'device', entityId: 'd', payload: { id: 'd' } });
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(s.db.select().from(schema.audit).all()).toHaveLength(0);
    expect(s.db.select().from(schema.outbox).all()).toHaveLength(0);
  });
});

describe('NonceStore [FP-4.3-2]', () => {
  const T = 1_000_000;
  it('accepts an issued nonce once, for its device, before expiry', () => {
    const n = new NonceStore(openAt(':memory:').db);
    n.issue('aa', 'dev-1', T, T + 30_000);
    expect(n.outstanding(T)).toBe(1);
    expect(n.consume('aa', 'dev-2', T + 1)).toBe('wrong_device');
    expect(n.consume('aa', 'dev-1', T + 1)).toBe('ok');
    expect(n.consume('aa', 'dev-1', T + 2)).toBe('replayed');
    expect(n.consume('bb', 'dev-1', T + 2)).toBe('unknown');
    expect(n.outstanding(T)).toBe(0);
  });

  it('refuses a late answer and spends the nonce anyway', () => {
    const n = new NonceStore(openAt(':memory:').db);
    n.issue('aa', 'dev-1', T, T + 30_000);
    expect(n.consume('aa', 'dev-1', T + 30_001)).toBe('expired');
    expect(n.consume('aa', 'dev-1', T + 1)).toBe('replayed');
  });

  it('never accepts a nonce twice across a restart, nor after the row was purged', () => {
    const path = databasePath(tempDir());
    const a = openAt(path);
    const n1 = new NonceStore(a.db);
    n1.issue('aa', 'dev-1', T, T + 30_000);
    n1.issue('bb', 'dev-1', T, T + 30_000);
    expect(n1.consume('aa', 'dev-1', T + 5)).toBe('ok');
    a.close();
    const n2 = new NonceStore(openAt(path).db);
    expect(n2.consume('aa', 'dev-1', T + 6)).toBe('replayed');
    expect(n2.consume('bb', 'dev-1', T + 6)).toBe('ok');
    expect(n2.purge(T + 60_000)).toBe(2);
    expect(n2.consume('aa', 'dev-1', T + 60_001)).toBe('unknown');
  });
});

describe('compiled hot-path statements (raw-rows)', () => {
  it('read a device row exactly as drizzle does: every column, camelCase keys, booleans', () => {
    const s = openAt(':memory:');
    s.db
      .insert(schema.devices)
      .values({
        id: 'dev-raw-1',
        family: 'nrf52',
        enrollment: 'approved',
        enrolledVia: 'allow-list',
        quarantined: true,
        quarantineReason: 'attestation.never_affirmed',
        reboots: 3,
        lastBootCount: 7,
        createdAt: 10,
        updatedAt: 11,
      })
      .run();
    const viaDrizzle = s.db.select().from(schema.devices).where(eq(schema.devices.id, 'dev-raw-1')).get();
    const raw = rawStatements(s.sqlite).device('dev-raw-1');
    expect(raw).toStrictEqual(viaDrizzle);
    expect(raw?.quarantined).toBe(true);
    expect(rawStatements(s.sqlite).device('absent')).toBeUndefined();
  });

  it('write only the fields given, booleans as 0/1, and refuse a field the table does not have', () => {
    const s = openAt(':memory:');
    addDevice(s, 'dev-raw-2');
    const raw = rawStatements(s.sqlite);
    raw.updateDevice('dev-raw-2', { quarantined: true, quarantineReason: 'x', lastSeen: 42 });
    const row = s.db.select().from(schema.devices).where(eq(schema.devices.id, 'dev-raw-2')).get();
    expect(row).toMatchObject({ quarantined: true, quarantineReason: 'x', lastSeen: 42, updatedAt: 1, reboots: 0 });
    raw.updateDevice('dev-raw-2', { quarantined: false });
    expect(raw.device('dev-raw-2')?.quarantined).toBe(false);
    expect(() => raw.updateDevice('dev-raw-2', { nope: 1 } as never)).toThrow(/no field nope/);
  });
});
