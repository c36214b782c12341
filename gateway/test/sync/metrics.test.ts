import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@palisade/shared';
import { Registry } from 'prom-client';
import { afterEach, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import { startCloudSync } from '../../src/sync/agent.js';
import { registerSyncMetrics } from '../../src/sync/metrics.js';
import { recordTelemetryRollup } from '../../src/sync/records.js';
import { SyncClient } from '../../src/sync/sync-client.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('exposes the queue depth, cursor and failures as Prometheus gauges; an unreachable cloud counts failures', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-sync-metrics-'));
  dirs.push(dir);
  const store = openStore({ path: join(dir, 'gateway.sqlite') });
  const clock = new ManualClock(Date.UTC(2026, 0, 2));
  store.db.transaction((tx) => {
    for (let i = 0; i < 3; i++) {
      const periodStart = new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString();
      recordTelemetryRollup(
        tx,
        { deviceId: 'd1', periodStart, periodSeconds: 60, messages: i, bytes: 0, rejected: 0 },
        clock.now(),
      );
    }
  });
  // Port 9 (discard) on loopback: nothing listens, every attempt fails fast.
  const client = new SyncClient({
    sqlite: store.sqlite,
    cloudUrl: 'http://127.0.0.1:9',
    gatewayId: 'gw_x',
    privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    clock,
  });
  await expect(client.syncOnce()).rejects.toMatchObject({ code: 'sync.network' });
  const registry = new Registry();
  registerSyncMetrics(registry, client);
  const text = await registry.metrics();
  expect(text).toContain('palisade_gateway_sync_pending_records 3');
  expect(text).toContain('palisade_gateway_sync_acked_sequence 0');
  // The batch was numbered before the send and waits in flight for the retry.
  expect(client.status()).toMatchObject({ inflightSequence: 1, pendingRecords: 3, clockSkewMs: null });
  store.close();
});

it('does not start syncing a gateway that was never enrolled', () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-sync-agent-'));
  dirs.push(dir);
  const store = openStore({ path: join(dir, 'gateway.sqlite') });
  const agent = startCloudSync({
    store,
    dataDir: dir,
    clock: new ManualClock(),
    registry: { quarantine: () => undefined, release: () => undefined },
    alerts: { raise: () => undefined },
  });
  expect(agent).toBeUndefined();
  store.close();
});
