import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Logger, ManualClock, silentLogger } from '@palisade/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { countTelemetryRows, readRollups, TelemetryRetention, TelemetryWriter } from '../../src/telemetry/index.js';
import { decodeTelemetryBatch, encodeTelemetryBatch } from '../../src/telemetry/insert.js';

const stores: Store[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 10, 25, 0, 0, 0);

function setup() {
  const store = openStore({ path: ':memory:' });
  stores.push(store);
  const clock = new ManualClock(T0);
  return { store, clock };
}

describe('TelemetryWriter', () => {
  it('buffers until the row threshold, then writes one batch', () => {
    const { store, clock } = setup();
    const w = new TelemetryWriter(store, { clock, flushRows: 4 });
    w.add('dev-1', { seq: 1, values: { temp: 20, rh: 40 } });
    expect(w.pending).toBe(2);
    expect(countTelemetryRows(store).raw).toBe(0);
    w.add('dev-1', { seq: 2, values: { temp: 21, rh: 41 } });
    expect(w.pending).toBe(0);
    expect(countTelemetryRows(store).raw).toBe(4);
    expect(w.written).toBe(4);
  });

  it('flushes on its timer and on stop', async () => {
    const { store, clock } = setup();
    const w = new TelemetryWriter(store, { clock, flushIntervalMs: 10, flushRows: 1000 });
    w.start();
    w.add('dev-1', { seq: 1, values: { temp: 20 } });
    await new Promise((r) => setTimeout(r, 40));
    expect(countTelemetryRows(store).raw).toBe(1);
    w.add('dev-1', { seq: 2, values: { temp: 20 } });
    w.stop();
    expect(countTelemetryRows(store).raw).toBe(2);
  });

  it('keeps rows for a retry when the database fails, up to its cap, and never throws', () => {
    const { store, clock } = setup();
    const w = new TelemetryWriter(store, { clock, flushRows: 1_000_000, maxBufferedRows: 3 });
    for (let i = 0; i < 5; i++) w.add('dev-1', { seq: i, values: { v: i } });
    store.sqlite.exec('DROP TABLE telemetry_raw');
    expect(w.flush()).toBe(0);
    expect(w.pending).toBe(3);
    expect(w.dropped).toBe(2);
  });
});

describe('telemetry batch encoding for the writer thread', () => {
  it('round-trips every column exactly: names, large times, negative and fractional values', () => {
    const values = [
      'dev-ä1',
      T0 + 123,
      4_294_967_295,
      'temperature',
      -40.125,
      48,
      'dev-2',
      T0 + 124,
      0,
      'Δp',
      1e-9,
      0,
      'dev-ä1',
      2 ** 53 - 1,
      7,
      'temperature',
      Number.MAX_VALUE,
      0,
    ];
    const batch = encodeTelemetryBatch(values);
    expect(batch.names).toEqual(['dev-ä1', 'temperature', 'dev-2', 'Δp']);
    expect(decodeTelemetryBatch(batch)).toEqual(values);
  });
});

describe('TelemetryWriter on its writer thread', () => {
  function fileStore(): Store {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-telemetry-'));
    dirs.push(dir);
    const store = openStore({ path: join(dir, 'gateway.sqlite') });
    stores.push(store);
    return store;
  }
  const rows = (store: Store) => countTelemetryRows(store).raw;
  const turn = () => new Promise((r) => setImmediate(r));

  it('commits on its own connection, and stop waits until every row is written', async () => {
    const store = fileStore();
    const w = new TelemetryWriter(store, { clock: new ManualClock(T0), thread: true, flushRows: 100 });
    expect(w.threaded).toBe(true);
    expect(await w.ready).toBe(true);
    for (let i = 0; i < 1_000; i++) w.add(`dev-${i % 7}`, { seq: i, values: { temp: i, rh: 50 } });
    await w.stop();
    expect(rows(store)).toBe(2_000);
    expect(w.written).toBe(2_000);
    expect(w.pending).toBe(0);
    const sample = store.sqlite
      .prepare('SELECT device_id AS d, seq, metric, value FROM telemetry_raw WHERE seq = 999 ORDER BY metric')
      .all();
    expect(sample).toEqual([
      { d: 'dev-5', seq: 999, metric: 'rh', value: 50 },
      { d: 'dev-5', seq: 999, metric: 'temp', value: 999 },
    ]);
  });

  it('loses nothing to a burst faster than the disk: the broker waits instead of dropping', async () => {
    const store = fileStore();
    const w = new TelemetryWriter(store, {
      clock: new ManualClock(T0),
      thread: true,
      flushRows: 500,
      maxBufferedRows: 1_000,
    });
    w.start();
    for (let k = 0; k < 40; k++) {
      for (let i = 0; i < 1_000; i++) w.add('dev-burst', { seq: k * 1_000 + i, values: { a: 1, b: 2, c: 3 } });
      await turn();
    }
    await w.stop();
    expect(w.dropped).toBe(0);
    expect(rows(store)).toBe(120_000);
  });

  it('keeps the rows of a batch the writer thread could not commit and writes them once the database recovers', async () => {
    const store = fileStore();
    const errors: string[] = [];
    const logger: Logger = { ...silentLogger, child: () => logger, error: (_o, msg) => void errors.push(msg ?? '') };
    const w = new TelemetryWriter(store, { clock: new ManualClock(T0), thread: true, flushRows: 1_000_000, logger });
    expect(await w.ready).toBe(true);
    for (let i = 0; i < 10; i++) w.add('dev-1', { seq: i, values: { v: i } });
    store.sqlite.exec('ALTER TABLE telemetry_raw RENAME TO telemetry_raw_away');
    expect(w.flush()).toBe(10);
    for (let i = 0; i < 500 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(errors).toEqual(['telemetry flush failed']);
    expect(w.written).toBe(0);
    expect(w.pending).toBe(10);
    expect(w.threaded).toBe(true);
    store.sqlite.exec('ALTER TABLE telemetry_raw_away RENAME TO telemetry_raw');
    await w.stop();
    expect(w.written).toBe(10);
    expect(rows(store)).toBe(10);
  });

  it('carries on in-thread when the writer thread cannot open the database', async () => {
    const store = fileStore();
    store.sqlite.exec('ALTER TABLE telemetry_raw RENAME TO telemetry_raw_away');
    const w = new TelemetryWriter(store, { clock: new ManualClock(T0), thread: true, flushRows: 1 });
    expect(await w.ready).toBe(false);
    expect(w.threaded).toBe(false);
    store.sqlite.exec('ALTER TABLE telemetry_raw_away RENAME TO telemetry_raw');
    w.add('dev-1', { seq: 1, values: { v: 1 } });
    expect(rows(store)).toBe(1);
  });

  it('writes in-thread for an in-memory database, which another connection cannot share', () => {
    const { store, clock } = setup();
    const w = new TelemetryWriter(store, { clock, thread: true, flushRows: 1 });
    expect(w.threaded).toBe(false);
    w.add('dev-1', { seq: 1, values: { v: 1 } });
    expect(rows(store)).toBe(1);
  });
});

describe('TelemetryRetention', () => {
  it('counts completed minutes into minute rollups with exact min/max/avg/count, once', () => {
    const { store, clock } = setup();
    const w = new TelemetryWriter(store, { clock });
    for (const [i, v] of [10, 20, 30].entries()) w.add('dev-1', { seq: i, values: { temp: v } }, T0 + i * 1000);
    w.add('dev-1', { seq: 3, values: { temp: 50 } }, T0 + MIN + 5);
    w.flush();
    const r = new TelemetryRetention(store, { clock });
    // The second minute has not ended (plus grace) yet: only the first is counted.
    clock.set(T0 + 2 * MIN + 5_000);
    expect(r.run()).toEqual({ rolledUp: 3, rawDeleted: 0, minutesFolded: 0, hoursDeleted: 0 });
    clock.set(T0 + 2 * MIN + 10_000);
    expect(r.run().rolledUp).toBe(1);
    expect(r.run().rolledUp).toBe(0);
    const series = readRollups(store, {
      deviceId: 'dev-1',
      metric: 'temp',
      resolution: 'minute',
      from: T0,
      to: T0 + HOUR,
    });
    expect(series).toEqual([
      { t: T0, min: 10, max: 30, avg: 20, count: 3 },
      { t: T0 + MIN, min: 50, max: 50, avg: 50, count: 1 },
    ]);
    // Raw rows stay until their retention ends; the rollups are unchanged by the deletion.
    expect(countTelemetryRows(store).raw).toBe(4);
    clock.set(T0 + 6 * HOUR + 2 * MIN);
    expect(r.run()).toMatchObject({ rolledUp: 0, rawDeleted: 4 });
    expect(
      readRollups(store, { deviceId: 'dev-1', metric: 'temp', resolution: 'minute', from: T0, to: T0 + HOUR }),
    ).toEqual(series);
  });

  it('never deletes raw readings that are not yet counted', () => {
    const { store, clock } = setup();
    const w = new TelemetryWriter(store, { clock });
    w.add('dev-1', { seq: 0, values: { v: 1 } }, T0);
    w.flush();
    const r = new TelemetryRetention(store, { clock, rawRetentionMs: 1 });
    clock.set(T0 + 30_000); // the minute is not complete: nothing counted, nothing deleted
    expect(r.run()).toMatchObject({ rolledUp: 0, rawDeleted: 0 });
    clock.set(T0 + MIN + 10_000);
    expect(r.run()).toMatchObject({ rolledUp: 1, rawDeleted: 1 });
  });

  it('keeps the tables bounded over a long run', () => {
    const { store, clock } = setup();
    const w = new TelemetryWriter(store, { clock, flushRows: 5000 });
    const r = new TelemetryRetention(store, {
      clock,
      rawRetentionMs: 30 * MIN,
      minuteRetentionMs: 3 * HOUR,
      hourRetentionMs: 24 * HOUR,
    });
    const devices = ['a', 'b', 'c'];
    const step = 10_000; // one message per device every 10 s
    const total = 48 * HOUR;
    let maxRaw = 0;
    let maxMinute = 0;
    let maxHour = 0;
    let messages = 0;
    for (let t = 0; t < total; t += step) {
      clock.set(T0 + t);
      for (const d of devices) w.add(d, { seq: t / step, values: { temp: (t / step) % 100 } });
      messages += devices.length;
      if (t % (5 * MIN) === 0) {
        w.flush();
        r.run();
        const c = countTelemetryRows(store);
        maxRaw = Math.max(maxRaw, c.raw);
        maxMinute = Math.max(maxMinute, c.minute);
        maxHour = Math.max(maxHour, c.hour);
      }
    }
    w.flush();
    // Bounds: raw ≤ (retention + one run interval) of messages; minute ≤ (retention + 1 h) of minutes; hour ≤ 25 h.
    expect(maxRaw).toBeLessThanOrEqual((devices.length * ((30 + 6) * MIN)) / step);
    expect(maxMinute).toBeLessThanOrEqual(devices.length * (4 * 60 + 1));
    expect(maxHour).toBeLessThanOrEqual(devices.length * 26);
    expect(messages).toBeGreaterThan(40 * maxRaw);
  });

  it('counts every reading exactly once across tiers, whatever the run schedule', () => {
    const { store, clock } = setup();
    const w = new TelemetryWriter(store, { clock });
    const r = new TelemetryRetention(store, { clock, rawRetentionMs: 10 * MIN, minuteRetentionMs: HOUR });
    let messages = 0;
    let sum = 0;
    for (let t = 0; t < 5 * HOUR; t += 7_000) {
      clock.set(T0 + t);
      const v = (t / 7_000) % 13;
      w.add('dev-1', { seq: messages, values: { v } });
      messages++;
      sum += v;
      if (t % (3 * MIN) < 7_000) {
        w.flush();
        r.run();
      }
    }
    w.flush();
    clock.set(T0 + 5 * HOUR + MIN + 10_000);
    r.run();
    const held = store.sqlite.prepare('SELECT SUM(count) AS n, SUM(sum) AS s FROM telemetry_rollups').get() as {
      n: number;
      s: number;
    };
    expect(held).toEqual({ n: messages, s: sum });
    expect(countTelemetryRows(store).hour).toBeGreaterThan(0);
  });
});

describe('telemetry rollups for the cloud', () => {
  it('queues one rollup per device and completed minute, with message and byte counts, in the roll-up transaction', () => {
    const { store, clock } = setup();
    const w = new TelemetryWriter(store, { clock });
    const r = new TelemetryRetention(store, { clock, graceMs: 0 });
    // minute 0: dev-1 sends 2 messages of 2 readings (30 + 31 bytes), dev-2 one of 1 reading (20 bytes)
    w.add('dev-1', { seq: 1, values: { temp: 20, rh: 40 } }, T0 + 1_000, 30);
    w.add('dev-1', { seq: 2, values: { temp: 21, rh: 41 } }, T0 + 2_000, 31);
    w.add('dev-2', { seq: 7, values: { temp: 5 } }, T0 + 3_000, 20);
    // minute 1, still open when the job runs
    w.add('dev-1', { seq: 3, values: { temp: 22 } }, T0 + MIN + 1_000, 25);
    w.flush();
    clock.set(T0 + MIN + 30_000);
    r.run();
    const queued = () =>
      store.sqlite
        .prepare("SELECT entity_id, payload FROM outbox WHERE kind = 'telemetry_rollup' ORDER BY entity_id")
        .all() as { entity_id: string; payload: string }[];
    const start = new Date(T0).toISOString();
    expect(queued().map((q) => [q.entity_id, JSON.parse(q.payload)])).toEqual([
      [
        `dev-1@${start}`,
        { deviceId: 'dev-1', periodStart: start, periodSeconds: 60, messages: 2, bytes: 61, rejected: 0 },
      ],
      [
        `dev-2@${start}`,
        { deviceId: 'dev-2', periodStart: start, periodSeconds: 60, messages: 1, bytes: 20, rejected: 0 },
      ],
    ]);
    // A second run over the same time queues nothing again; the next minute comes once it is complete.
    r.run();
    expect(queued()).toHaveLength(2);
    clock.set(T0 + 2 * MIN + 1);
    r.run();
    expect(queued().map((q) => JSON.parse(q.payload).messages)).toEqual([2, 1, 1]);
  });
});
