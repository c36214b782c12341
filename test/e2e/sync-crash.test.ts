import { spawn } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { type CloudDatabase, createCloudApp, type RunningCloud } from '@palisade/cloud';
import { SyncClient } from '@palisade/gateway';
import { systemClock } from '@palisade/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cloudRollups,
  enrolledGateway,
  gatewayRollups,
  startTestCloud,
  type TestGateway,
  waitUntil,
  writeRollups,
} from './sync-world.js';

/**
 * Crashes mid-batch, end to end: the gateway process killed with SIGKILL while a batch is on the wire, and the cloud's
 * API process going away while it is receiving one. Afterwards the cloud must hold exactly the gateway's records.
 */

const here = dirname(fileURLToPath(import.meta.url));
let cloud: RunningCloud;
const gateways: TestGateway[] = [];

beforeAll(async () => {
  cloud = await startTestCloud();
});

afterAll(async () => {
  for (const g of gateways) {
    g.store.close();
    await g.proxy.close();
  }
  await cloud?.stop();
});

function client(g: TestGateway, maxRecords: number): SyncClient {
  return new SyncClient({
    sqlite: g.store.sqlite,
    cloudUrl: g.proxy.url,
    gatewayId: g.identity.gatewayId,
    privateKey: g.identity.privateKey,
    clock: systemClock,
    maxRecords,
    backoff: { baseMs: 20, maxMs: 200 },
    requestTimeoutMs: 3000,
  });
}

async function expectExactlyOnce(g: TestGateway): Promise<void> {
  const want = gatewayRollups(g.store);
  const got = await cloudRollups(cloud, g.identity.gatewayId);
  expect(got.rows.length).toBe(want.length);
  expect(got.rows).toEqual(want);
  expect(got.carried).toBe(want.length);
  expect(g.store.sqlite.prepare('SELECT count(*) AS n FROM outbox').get()).toEqual({ n: 0 });
}

/** A second API instance over the same database (the cloud scales as stateless instances over PostgreSQL). */
async function serveApi(database: CloudDatabase) {
  const app = await createCloudApp({ database, syncRate: { burst: 1000, perSecond: 1000 } });
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

describe('crash mid-batch', () => {
  it('kill -9 of the gateway process mid-batch: the restarted agent re-sends the same sequence, nothing lost or doubled', async () => {
    const g = await enrolledGateway(cloud.url);
    gateways.push(g);
    g.proxy.delayMs = 60; // every request takes a while, so the kill lands while one is in flight
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        join(here, 'sync-child.ts'),
        '--data-dir',
        g.dataDir,
        '--cloud',
        g.proxy.url,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let acks = 0;
    child.stdout.on('data', (b: Buffer) => {
      acks += (b.toString().match(/"event":"acked"/g) ?? []).length;
    });
    await waitUntil(() => acks >= 3, 15_000, 'three acked batches in the child');
    const upBefore = g.proxy.stats.upBytes;
    await waitUntil(() => g.proxy.stats.upBytes > upBefore, 5000, 'the next batch under way');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    g.proxy.delayMs = 0;
    const s = g.store.sqlite.prepare('SELECT inflight_seq AS seq FROM sync_state').get() as { seq: number | null };
    expect(s.seq).not.toBeNull(); // it died with a numbered batch in flight
    // The gateway comes back: a new agent over the same database file.
    const c = client(g, 40);
    expect(c.status().inflightSequence).toBe(s.seq);
    await c.drain();
    expect(c.status().ackedSequence).toBeGreaterThanOrEqual(s.seq ?? 0);
    expect(gatewayRollups(g.store).length).toBeGreaterThan(30);
    await expectExactlyOnce(g);
  });

  it('the cloud API going down while a batch is in flight, and coming back elsewhere: every record once', async () => {
    const g = await enrolledGateway(cloud.url);
    gateways.push(g);
    const first = await serveApi(cloud.database);
    g.proxy.setTarget(first.port);
    writeRollups(g.store, 'dev-r', 0, 400);
    const c = client(g, 100);
    g.proxy.delayMs = 40;
    const done = c.drain();
    await waitUntil(() => c.status().batchesAcked >= 1, 10_000, 'a first ack');
    const upBefore = g.proxy.stats.upBytes;
    await waitUntil(() => g.proxy.stats.upBytes > upBefore, 5000, 'the next batch under way');
    // Down hard: open connections dropped, whatever the instance was doing.
    first.server.closeAllConnections();
    first.server.close();
    await new Promise((r) => setTimeout(r, 300));
    const second = await serveApi(cloud.database);
    g.proxy.setTarget(second.port);
    g.proxy.delayMs = 0;
    await done;
    second.server.close();
    expect(c.status().consecutiveFailures).toBe(0);
    expect(c.status().lastError).not.toBeNull();
    await expectExactlyOnce(g);
  });
});
