/**
 * A gateway process for the sync fault tests (run with `node --conditions=source --import tsx`): opens the gateway
 * store in `--data-dir`, and either keeps writing telemetry rollups (each stored in the gateway's own
 * `telemetry_rollups` table and queued in the outbox in ONE transaction, as the gateway does) while its sync agent
 * uploads (`--mode write`, until killed), or uploads what is queued and exits (`--mode drain`). It prints one JSON line
 * per event so the test can time a `kill -9` to land mid-batch.
 */
import { parseArgs } from 'node:util';
import { loadCloudIdentity, openStore, recordTelemetryRollup, SyncClient } from '@palisade/gateway';
import { systemClock } from '@palisade/shared';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    cloud: { type: 'string' },
    mode: { type: 'string', default: 'write' },
    device: { type: 'string', default: 'child-dev' },
    'max-records': { type: 'string', default: '40' },
  },
});
const dataDir = values['data-dir'] ?? '';
const identity = loadCloudIdentity(dataDir);
if (!identity) throw new Error('not enrolled');
const store = openStore({ path: `${dataDir}/gateway.sqlite` });
const client = new SyncClient({
  sqlite: store.sqlite,
  cloudUrl: values.cloud ?? identity.cloudUrl,
  gatewayId: identity.gatewayId,
  privateKey: identity.privateKey,
  clock: systemClock,
  maxRecords: Number(values['max-records']),
  backoff: { baseMs: 50, maxMs: 500 },
  requestTimeoutMs: 5000,
  idlePollSeconds: 0,
});
const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

const insertLocal = store.sqlite.prepare(
  `INSERT INTO telemetry_rollups (device_id, metric, resolution, bucket_start, min, max, sum, count)
   VALUES (?, 'messages', 'minute', ?, 0, 0, ?, ?)`,
);
const nextIndex = () =>
  (
    store.sqlite.prepare('SELECT count(*) AS n FROM telemetry_rollups WHERE device_id = ?').get(values.device) as {
      n: number;
    }
  ).n;

if (values.mode === 'drain') {
  await client.drain();
  say({ event: 'drained', status: client.status() });
  store.close();
  process.exit(0);
}

let i = nextIndex();
const base = Date.UTC(2026, 0, 1);
setInterval(() => {
  store.db.transaction((tx) => {
    for (let k = 0; k < 10; k++, i++) {
      const bucket = base + i * 60_000;
      insertLocal.run(values.device, bucket, i, i + 1);
      recordTelemetryRollup(
        tx,
        {
          deviceId: values.device ?? '',
          periodStart: new Date(bucket).toISOString(),
          periodSeconds: 60,
          messages: i + 1,
          bytes: i * 7,
          rejected: 0,
        },
        systemClock.now(),
      );
    }
  });
  say({ event: 'written', total: i });
}, 15);
const loop = async () => {
  for (;;) {
    try {
      const out = await client.syncOnce();
      if (out.kind === 'acked') say({ event: 'acked', sequence: out.sequence, records: out.records });
    } catch (e) {
      say({ event: 'error', message: String(e) });
    }
    await new Promise((r) => setTimeout(r, 5));
  }
};
void loop();
