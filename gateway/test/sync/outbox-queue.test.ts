import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ManualClock, type SyncBatch, syncBatchSchema } from '@palisade/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlertStore } from '../../src/detection/alerts.js';
import { Registry } from '../../src/registry/registry.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { enforceOutboxBudget, outboxBytes } from '../../src/sync/budget.js';
import { OutboxQueue } from '../../src/sync/outbox-queue.js';
import { recordTelemetryRollup } from '../../src/sync/records.js';

let dir: string;
let store: Store;
let clock: ManualClock;

const GW = 'gw_test';

function open(): Store {
  return openStore({ path: join(dir, 'gateway.sqlite') });
}

function decode(body: Buffer): SyncBatch {
  return syncBatchSchema.parse(JSON.parse(gunzipSync(body).toString('utf8')));
}

function writeRollups(n: number, device = 'dev-1', from = 0): void {
  store.db.transaction((tx) => {
    for (let i = from; i < from + n; i++) {
      recordTelemetryRollup(
        tx,
        {
          deviceId: device,
          periodStart: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
          periodSeconds: 60,
          messages: i,
          bytes: i * 10,
          rejected: 0,
        },
        clock.now(),
      );
    }
  });
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-sync-'));
  clock = new ManualClock(Date.UTC(2026, 0, 2));
  store = open();
});

afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('batching and the acknowledged cursor', () => {
  it('numbers batches in order, caps records per batch, and re-sends the same bytes until the ack', () => {
    writeRollups(12);
    const q = new OutboxQueue(store.sqlite, { clock, maxRecords: 5 });
    const b1 = q.prepare(GW);
    expect(b1?.sequence).toBe(1);
    expect(b1?.records).toBe(5);
    const batch = decode(b1?.body ?? Buffer.alloc(0));
    expect(batch.gatewayId).toBe(GW);
    expect(batch.records.map((r) => (r.kind === 'telemetry_rollup' ? r.data.messages : -1))).toEqual([0, 1, 2, 3, 4]);

    clock.advance(5000);
    const again = q.prepare(GW);
    expect(again?.sequence).toBe(1);
    expect(again?.body.equals(b1?.body ?? Buffer.alloc(0))).toBe(true);
    expect(q.pendingCount()).toBe(12);

    expect(q.acknowledge(1)).toBe(true);
    expect(q.pendingCount()).toBe(7);
    expect(q.state().ackedSeq).toBe(1);
    // An ack for a sequence not in flight moves nothing.
    expect(q.acknowledge(1)).toBe(false);

    const b2 = q.prepare(GW);
    expect(b2?.sequence).toBe(2);
    expect(decode(b2?.body ?? Buffer.alloc(0)).records.map((r) => r.id)[0]).toContain('dev-1@');
    q.acknowledge(2);
    const b3 = q.prepare(GW);
    expect(b3?.records).toBe(2);
    q.acknowledge(3);
    expect(q.prepare(GW)).toBeNull();
    expect(q.state()).toMatchObject({ ackedSeq: 3, nextSeq: 4, inflightSeq: null });
  });

  it('after a crash the in-flight batch goes out again under the same sequence with identical bytes', () => {
    writeRollups(3);
    const q = new OutboxQueue(store.sqlite, { clock });
    const before = q.prepare(GW);
    store.close();
    store = open();
    clock.advance(60_000);
    const q2 = new OutboxQueue(store.sqlite, { clock });
    const after = q2.prepare(GW);
    expect(after?.sequence).toBe(before?.sequence);
    expect(after?.body.equals(before?.body ?? Buffer.alloc(0))).toBe(true);
    // Records written meanwhile wait for the next batch.
    writeRollups(2, 'dev-2');
    expect(q2.prepare(GW)?.records).toBe(3);
    q2.acknowledge(1);
    expect(q2.prepare(GW)).toMatchObject({ sequence: 2, records: 2 });
  });

  it('bounds the uncompressed body size and still moves a single oversized record', () => {
    const alerts = new AlertStore(store.db, clock);
    for (let i = 0; i < 30; i++) {
      alerts.raise({
        type: 'auth_failures',
        severity: 'warning',
        dedupKey: `k${i}`,
        details: { blob: 'x'.repeat(2000) },
      });
    }
    const q = new OutboxQueue(store.sqlite, { clock, maxBodyBytes: 10_000 });
    const b = q.prepare(GW);
    expect(b?.records).toBeGreaterThan(1);
    expect(b?.records).toBeLessThan(6);
    expect(gunzipSync(b?.body ?? Buffer.alloc(0)).length).toBeLessThan(10_000 + 200);
  });

  it('leaves out rows the contract cannot carry and clears them with the ack', () => {
    const reg = new Registry(store.db, { clock });
    reg.approve('dev-nofamily', 'operator:test'); // no board family yet: not a valid cloud device record
    writeRollups(1);
    const q = new OutboxQueue(store.sqlite, { clock });
    const b = q.prepare(GW);
    expect(b?.records).toBe(1);
    expect(decode(b?.body ?? Buffer.alloc(0)).records[0]?.kind).toBe('telemetry_rollup');
    q.acknowledge(b?.sequence ?? 0);
    expect(q.pendingCount()).toBe(0);
  });

  it('splits a refused batch under fresh sequences and dead-letters the one record the cloud will not take', () => {
    writeRollups(4);
    const q = new OutboxQueue(store.sqlite, { clock });
    expect(q.prepare(GW)).toMatchObject({ sequence: 1, records: 4 });
    expect(q.refuseInflight('validation.batch')).toBe('split');
    expect(q.prepare(GW)).toMatchObject({ sequence: 2, records: 2 });
    expect(q.refuseInflight('validation.batch')).toBe('split');
    expect(q.prepare(GW)).toMatchObject({ sequence: 3, records: 1 });
    expect(q.refuseInflight('validation.batch: bad record')).toBe('dead_lettered');
    expect(q.state().deadLetters).toBe(1);
    const dead = store.sqlite.prepare('SELECT kind, reason FROM sync_dead_letters').all();
    expect(dead).toEqual([{ kind: 'telemetry_rollup', reason: 'validation.batch: bad record' }]);
    // The rest flows again at full size.
    expect(q.prepare(GW)).toMatchObject({ sequence: 4, records: 3 });
  });
});

describe('outbox budget', () => {
  it('thins telemetry rollups first, keeps alerts and results, and raises an alert that is itself queued', () => {
    const reg = new Registry(store.db, { clock, allowList: ['dev-1'] });
    reg.admit({ deviceId: 'dev-1', via: 'allow-list', family: 'nrf52' });
    const alerts = new AlertStore(store.db, clock);
    alerts.raise({ type: 'attestation_failed', severity: 'critical', deviceId: 'dev-1' });
    reg.recordResult('dev-1', { status: 'contraindicated', reasons: ['x'], jwt: 'a.b.c' });
    writeRollups(400);
    for (let i = 0; i < 20; i++) reg.recordFirmware('dev-1', { version: `1.0.${i}`, measurement: 'ab'.repeat(16) });
    const q = new OutboxQueue(store.sqlite, { clock, maxRecords: 10 });
    const inflight = q.prepare(GW);
    const protectedId = inflight?.lastOutboxId ?? 0;
    const kinds = () =>
      Object.fromEntries(
        (
          store.sqlite.prepare('SELECT kind, count(*) AS n FROM outbox GROUP BY kind').all() as {
            kind: string;
            n: number;
          }[]
        ).map((r) => [r.kind, r.n]),
      );
    const before = kinds();
    const budget = Math.floor(outboxBytes(store.sqlite) / 2);
    const out = enforceOutboxBudget(
      store.sqlite,
      { maxBytes: budget, raiseAlert: (a) => alerts.raise(a) },
      protectedId,
    );
    expect(out.thinned).toBeGreaterThan(0);
    expect(out.compacted).toBeGreaterThan(0);
    expect(out.bytesAfter).toBeLessThanOrEqual(budget);
    const after = kinds();
    expect(after.attestation_result).toBe(before.attestation_result);
    // Every alert row survives, plus the thinning alert.
    expect(after.alert).toBe((before.alert ?? 0) + 1);
    expect(after.telemetry_rollup).toBeLessThan(before.telemetry_rollup ?? 0);
    const thinAlert = store.sqlite.prepare("SELECT count(*) AS n FROM alerts WHERE type = 'outbox_thinned'").get() as {
      n: number;
    };
    expect(thinAlert.n).toBe(1);
    // The batch in flight is untouched: its rows are all still there.
    const inFlightRows = store.sqlite.prepare('SELECT count(*) AS n FROM outbox WHERE id <= ?').get(protectedId) as {
      n: number;
    };
    expect(inFlightRows.n).toBe(10);
    // The newest device snapshot is kept.
    const devRows = store.sqlite
      .prepare("SELECT payload FROM outbox WHERE kind = 'device' AND id > ? ORDER BY id")
      .all(protectedId) as { payload: string }[];
    expect(JSON.parse(devRows.at(-1)?.payload ?? '{}').firmwareVersion).toBe('1.0.19');
    expect(q.state().thinned).toBe(out.thinned);
  });

  it('does nothing under the budget, and never drops alerts or results when they alone exceed it', () => {
    const alerts = new AlertStore(store.db, clock);
    for (let i = 0; i < 50; i++) alerts.raise({ type: 'auth_failures', severity: 'warning', dedupKey: `k${i}` });
    new OutboxQueue(store.sqlite, { clock });
    const bytes = outboxBytes(store.sqlite);
    expect(enforceOutboxBudget(store.sqlite, { maxBytes: bytes, raiseAlert: () => {} }, 0).thinned).toBe(0);
    const out = enforceOutboxBudget(store.sqlite, { maxBytes: 100, raiseAlert: () => {} }, 0);
    expect(out).toMatchObject({ thinned: 0, overBudget: true });
    expect((store.sqlite.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n).toBe(50);
  });
});
