import { Gauge, type Registry } from 'prom-client';
import type { SyncClient } from './sync-client.js';

/**
 * The sync agent's Prometheus gauges, read from {@link SyncClient.status} at scrape time: queue depth, the acked
 * cursor, consecutive failures, clock skew to the cloud, thinned and dead-lettered records.
 */
export function registerSyncMetrics(registry: Registry, client: SyncClient): void {
  const gauge = (name: string, help: string, read: () => number | null) =>
    new Gauge({
      name: `palisade_gateway_sync_${name}`,
      help,
      registers: [registry],
      collect() {
        const v = read();
        if (v !== null) this.set(v);
      },
    });
  gauge('pending_records', 'Outbox records not yet acknowledged by the cloud', () => client.status().pendingRecords);
  gauge('acked_sequence', 'Highest batch sequence the cloud acknowledged', () => client.status().ackedSequence);
  gauge(
    'consecutive_failures',
    'Failed sync attempts since the last success',
    () => client.status().consecutiveFailures,
  );
  gauge(
    'clock_skew_ms',
    'Cloud clock minus gateway clock, from the Date header (±1 s)',
    () => client.status().clockSkewMs,
  );
  gauge('thinned_rollups', 'Telemetry rollups dropped by the outbox budget', () => client.status().thinnedRollups);
  gauge(
    'dead_letters',
    'Records the cloud refused on their own, kept in sync_dead_letters',
    () => client.status().deadLetters,
  );
}
