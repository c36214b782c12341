import { type Clock, isDeviceId } from '@palisade/shared';
import type { Store } from '../store/open-store.js';
import { recordTelemetryRollup } from '../sync/records.js';

export interface RetentionOptions {
  clock: Clock;
  /** Raw readings are kept this long. Default 6 h. */
  rawRetentionMs?: number;
  /** Minute rollups are kept this long, then folded into hour rollups. Default 7 days. */
  minuteRetentionMs?: number;
  /** Hour rollups are kept this long, then deleted. Default 90 days. */
  hourRetentionMs?: number;
  /**
   * A minute is rolled up once it ended this long ago, so readings still in the writer's buffer (flushed every
   * 250 ms by default, stamped with the gateway's receive time) are never missed. Default 10 s.
   */
  graceMs?: number;
}

export interface RetentionReport {
  /** Raw readings newly counted into minute rollups. */
  rolledUp: number;
  rawDeleted: number;
  minutesFolded: number;
  hoursDeleted: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * Keeps the telemetry tables bounded and queryable. Each run counts the raw readings of every completed minute into
 * minute rollups exactly once (a watermark in `telemetry_state` moves in the same transaction), deletes raw readings
 * past their retention, folds expired minute rollups into hour rollups and deletes expired hour rollups.
 * min/max/sum/count merge exactly (avg = sum / count), so folding in several passes gives the same numbers.
 * Per-device history (the panel's charts) reads the rollups, whose key starts with the device.
 */
export class TelemetryRetention {
  private readonly clock: Clock;
  readonly rawRetentionMs: number;
  readonly minuteRetentionMs: number;
  readonly hourRetentionMs: number;
  private readonly graceMs: number;
  private readonly rollUp: (now: number) => number;
  private readonly foldMinutes: (cutoff: number) => number;
  private readonly deleteRaw: (cutoff: number) => number;
  private readonly deleteHours: (cutoff: number) => number;

  constructor(store: Store, options: RetentionOptions) {
    this.clock = options.clock;
    this.rawRetentionMs = options.rawRetentionMs ?? 6 * HOUR;
    this.minuteRetentionMs = options.minuteRetentionMs ?? 7 * 24 * HOUR;
    this.hourRetentionMs = options.hourRetentionMs ?? 90 * 24 * HOUR;
    this.graceMs = options.graceMs ?? 10_000;
    const db = store.sqlite;
    const merge = `ON CONFLICT (device_id, metric, resolution, bucket_start) DO UPDATE SET
        min = MIN(telemetry_rollups.min, excluded.min), max = MAX(telemetry_rollups.max, excluded.max),
        sum = telemetry_rollups.sum + excluded.sum, count = telemetry_rollups.count + excluded.count`;
    const watermark = db.prepare<[], { rolled_up_to: number }>('SELECT rolled_up_to FROM telemetry_state WHERE id = 1');
    const setWatermark = db.prepare<[number]>(
      'INSERT INTO telemetry_state (id, rolled_up_to) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET rolled_up_to = excluded.rolled_up_to',
    );
    const rawToMinute = db.prepare<[number, number]>(
      `INSERT INTO telemetry_rollups (device_id, metric, resolution, bucket_start, min, max, sum, count)
       SELECT device_id, metric, 'minute', (ts / ${MINUTE}) * ${MINUTE}, MIN(value), MAX(value), SUM(value), COUNT(*)
       FROM telemetry_raw WHERE ts >= ? AND ts < ? GROUP BY device_id, metric, ts / ${MINUTE} ${merge}`,
    );
    const countRaw = db.prepare<[number, number], { n: number }>(
      'SELECT COUNT(*) AS n FROM telemetry_raw WHERE ts >= ? AND ts < ?',
    );
    const deleteRaw = db.prepare<[number]>('DELETE FROM telemetry_raw WHERE ts < ?');
    const minuteToHour = db.prepare<[number]>(
      `INSERT INTO telemetry_rollups (device_id, metric, resolution, bucket_start, min, max, sum, count)
       SELECT device_id, metric, 'hour', (bucket_start / ${HOUR}) * ${HOUR}, MIN(min), MAX(max), SUM(sum), SUM(count)
       FROM telemetry_rollups WHERE resolution = 'minute' AND bucket_start < ?
       GROUP BY device_id, metric, bucket_start / ${HOUR} ${merge}`,
    );
    const deleteMinutes = db.prepare<[number]>(
      "DELETE FROM telemetry_rollups WHERE resolution = 'minute' AND bucket_start < ?",
    );
    const deleteHours = db.prepare<[number]>(
      "DELETE FROM telemetry_rollups WHERE resolution = 'hour' AND bucket_start < ?",
    );
    const perDeviceMinute = db.prepare<
      [number, number],
      { device_id: string; bucket: number; messages: number; bytes: number }
    >(
      `SELECT device_id, (ts / ${MINUTE}) * ${MINUTE} AS bucket, COUNT(DISTINCT seq) AS messages, SUM(bytes) AS bytes
       FROM telemetry_raw WHERE ts >= ? AND ts < ? GROUP BY device_id, ts / ${MINUTE}`,
    );
    this.rollUp = db.transaction((now: number) => {
      const from = watermark.get()?.rolled_up_to ?? 0;
      const to = Math.floor((now - this.graceMs) / MINUTE) * MINUTE;
      if (to <= from) return 0;
      const n = countRaw.get(from, to)?.n ?? 0;
      rawToMinute.run(from, to);
      // Each completed device-minute also goes to the cloud, queued in this same transaction (the outbox rule).
      for (const r of perDeviceMinute.all(from, to)) {
        // A device id outside the sync contract cannot be sent; its local rollups still count.
        if (!isDeviceId(r.device_id)) continue;
        recordTelemetryRollup(
          store.db,
          {
            deviceId: r.device_id,
            periodStart: new Date(r.bucket).toISOString(),
            periodSeconds: 60,
            messages: r.messages,
            bytes: r.bytes,
            rejected: 0,
          },
          now,
        );
      }
      setWatermark.run(to);
      return n;
    });
    this.deleteRaw = db.transaction((cutoff: number) => {
      // Never delete what is not yet counted in a rollup.
      const counted = watermark.get()?.rolled_up_to ?? 0;
      return deleteRaw.run(Math.min(cutoff, counted)).changes;
    });
    this.foldMinutes = db.transaction((cutoff: number) => {
      minuteToHour.run(cutoff);
      return deleteMinutes.run(cutoff).changes;
    });
    this.deleteHours = (cutoff) => deleteHours.run(cutoff).changes;
  }

  run(): RetentionReport {
    const now = this.clock.now();
    const rolledUp = this.rollUp(now);
    // Cut rollups on hour boundaries so that an hour is folded whole, once.
    return {
      rolledUp,
      rawDeleted: this.deleteRaw(now - this.rawRetentionMs),
      minutesFolded: this.foldMinutes(Math.floor((now - this.minuteRetentionMs) / HOUR) * HOUR),
      hoursDeleted: this.deleteHours(Math.floor((now - this.hourRetentionMs) / HOUR) * HOUR),
    };
  }
}
