import type { Store } from '../store/open-store.js';
import type { RollupResolution } from '../store/schema.js';

export interface SeriesPoint {
  t: number;
  min: number;
  max: number;
  avg: number;
  count: number;
}

/** One metric of one device at a resolution, oldest first (for the panel and `GET /devices/:id/telemetry`). */
export function readRollups(
  store: Store,
  q: { deviceId: string; metric: string; resolution: RollupResolution; from: number; to: number },
): SeriesPoint[] {
  return store.sqlite
    .prepare<
      [string, string, string, number, number],
      { t: number; min: number; max: number; sum: number; count: number }
    >(
      `SELECT bucket_start AS t, min, max, sum, count FROM telemetry_rollups
       WHERE device_id = ? AND metric = ? AND resolution = ? AND bucket_start >= ? AND bucket_start < ?
       ORDER BY bucket_start`,
    )
    .all(q.deviceId, q.metric, q.resolution, q.from, q.to)
    .map((r) => ({ t: r.t, min: r.min, max: r.max, avg: r.sum / r.count, count: r.count }));
}

export function countTelemetryRows(store: Store): { raw: number; minute: number; hour: number } {
  const raw = store.sqlite.prepare('SELECT COUNT(*) AS n FROM telemetry_raw').get() as { n: number };
  const tiers = store.sqlite
    .prepare('SELECT resolution, COUNT(*) AS n FROM telemetry_rollups GROUP BY resolution')
    .all() as { resolution: string; n: number }[];
  const of = (r: string) => tiers.find((x) => x.resolution === r)?.n ?? 0;
  return { raw: raw.n, minute: of('minute'), hour: of('hour') };
}
