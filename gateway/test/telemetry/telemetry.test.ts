import { ManualClock } from '@palisade/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { countTelemetryRows, readRollups, TelemetryRetention, TelemetryWriter } from '../../src/telemetry/index.js';

const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
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
