/**
 * Sync throughput: events per second from a gateway's SQLite outbox to the cloud's database through the real sync
 * agent (batching, gzip, signing, HTTP, ingest, ack, cursor), beside the cloud's raw ingest rate for the same events
 * (pre-built gzip batches posted back to back, so batching and compression cost nothing) in the same run; then the
 * time for a gateway to catch up a backlog after an outage. The database is PostgreSQL at
 * PALISADE_TEST_DATABASE_URL when set, else PGlite in memory.
 *
 * Usage: `npx tsc -b && node test/dist/bench/sync.bench.js [--events 10000] [--backlog 100000]`
 * (the issue asks for a 1,000,000-event backlog: `--backlog 1000000`).
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { type RunningCloud, startCloud } from '@palisade/cloud';
import { enrollGateway, openStore, recordTelemetryRollup, type Store, SyncClient } from '@palisade/gateway';
import { SYNC_BATCHES_PATH, SYNC_MAX_RECORDS, signRequest, systemClock } from '@palisade/shared';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '10000' }, backlog: { type: 'string', default: '100000' } },
});
const EVENTS = Number(values.events);
const BACKLOG = Number(values.backlog);
const ADMIN_KEY = `pk_01JSYNCBENCHKEY000000000_${'b'.repeat(43)}`;
const databaseUrl = process.env.PALISADE_TEST_DATABASE_URL;
const BASE = Date.UTC(2026, 0, 1);
const work = mkdtempSync(join(tmpdir(), 'palisade-sync-bench-'));

function rollup(device: string, i: number) {
  return {
    deviceId: device,
    periodStart: new Date(BASE + i * 60_000).toISOString(),
    periodSeconds: 60,
    messages: i % 1000,
    bytes: i * 7,
    rejected: 0,
  };
}

async function enroll(cloud: RunningCloud, name: string) {
  const res = await fetch(`${cloud.url}/api/v1/enrollment-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ siteName: 'bench' }),
  });
  const { token } = (await res.json()) as { token: string };
  const dataDir = mkdtempSync(join(work, `${name}-`));
  const identity = await enrollGateway({ cloudUrl: cloud.url, token, dataDir, name });
  return { identity, dataDir };
}

/** Fills the outbox the way the gateway does (rows in transactions of 1000). */
function fillOutbox(store: Store, device: string, n: number): void {
  for (let from = 0; from < n; from += 1000) {
    store.db.transaction((tx) => {
      for (let i = from; i < Math.min(n, from + 1000); i++) recordTelemetryRollup(tx, rollup(device, i), Date.now());
    });
  }
}

async function syncDrain(cloud: RunningCloud, name: string, n: number): Promise<{ seconds: number; acked: number }> {
  const { identity, dataDir } = await enroll(cloud, name);
  const store = openStore({ path: join(dataDir, 'gateway.sqlite') });
  fillOutbox(store, `${name}-dev`, n);
  const client = new SyncClient({
    sqlite: store.sqlite,
    cloudUrl: cloud.url,
    gatewayId: identity.gatewayId,
    privateKey: identity.privateKey,
    clock: systemClock,
    backoff: { baseMs: 50, maxMs: 1000 },
  });
  const t0 = performance.now();
  await client.drain();
  const seconds = (performance.now() - t0) / 1000;
  const acked = client.status().recordsAcked;
  store.close();
  if (acked !== n) throw new Error(`${name}: ${acked} of ${n} events acknowledged`);
  return { seconds, acked };
}

async function rawIngest(cloud: RunningCloud, n: number): Promise<number> {
  const { identity } = await enroll(cloud, 'raw');
  const bodies: Buffer[] = [];
  const sentAt = new Date().toISOString();
  for (let from = 0, seq = 1; from < n; from += SYNC_MAX_RECORDS, seq++) {
    const records = [];
    for (let i = from; i < Math.min(n, from + SYNC_MAX_RECORDS); i++) {
      const r = rollup('raw-dev', i);
      records.push({
        kind: 'telemetry_rollup',
        id: `raw-dev@${r.periodStart}`,
        occurredAt: r.periodStart,
        receivedAt: sentAt,
        data: r,
      });
    }
    bodies.push(gzipSync(JSON.stringify({ gatewayId: identity.gatewayId, sequence: seq, sentAt, records })));
  }
  const t0 = performance.now();
  for (const body of bodies) {
    const headers = signRequest({
      gatewayId: identity.gatewayId,
      privateKey: identity.privateKey,
      method: 'POST',
      path: SYNC_BATCHES_PATH,
      body,
      now: Date.now(),
    });
    const res = await fetch(`${cloud.url}${SYNC_BATCHES_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', ...headers },
      body,
    });
    if (res.status !== 200) throw new Error(`raw ingest: HTTP ${res.status} ${await res.text()}`);
  }
  return (performance.now() - t0) / 1000;
}

const cloud = await startCloud({
  port: 0,
  databaseUrl,
  admin: { adminApiKey: ADMIN_KEY, adminPassword: 'bench password 123', passwordLogN: 10 },
  // The bench measures throughput, not the per-gateway rate limit.
  syncRate: { burst: 1_000_000, perSecond: 1_000_000 },
});
try {
  // Warm-up (JIT, connection pool, first-insert costs) on a small batch of each path.
  await rawIngest(cloud, 2000);
  await syncDrain(cloud, 'warm', 2000);

  const rawSeconds = await rawIngest(cloud, EVENTS);
  const sync = await syncDrain(cloud, 'sustained', EVENTS);
  const backlog = await syncDrain(cloud, 'backlog', BACKLOG);
  const rawRate = EVENTS / rawSeconds;
  const syncRate = EVENTS / sync.seconds;
  process.stdout.write(
    `${JSON.stringify({
      bench: 'sync',
      database: databaseUrl ? 'postgres' : 'pglite',
      events: EVENTS,
      rawIngestEventsPerSec: Math.round(rawRate),
      syncEventsPerSec: Math.round(syncRate),
      ratio: Number((syncRate / rawRate).toFixed(3)),
      backlogEvents: BACKLOG,
      backlogCatchUpSeconds: Number(backlog.seconds.toFixed(2)),
      backlogEventsPerSec: Math.round(BACKLOG / backlog.seconds),
    })}\n`,
  );
} finally {
  await cloud.stop();
  rmSync(work, { recursive: true, force: true });
}
