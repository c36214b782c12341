/**
 * Shared set-up of the sync end-to-end tests: a real cloud (PGlite in process, or PostgreSQL when
 * PALISADE_TEST_DATABASE_URL is set), gateways enrolled through the real enrollment endpoint, the TCP proxy between
 * them, and the checks that the cloud holds exactly the gateway's records.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningCloud, startCloud } from '@palisade/cloud';
import {
  type CloudIdentity,
  enrollGateway,
  openStore,
  recordTelemetryRollup,
  type Store,
  SyncClient,
  type SyncClientOptions,
} from '@palisade/gateway';
import { systemClock } from '@palisade/shared';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../src/tcp-proxy.js';

export const ADMIN_KEY = `pk_01JSYNCADMINKEY0000000000_${'s'.repeat(43)}`;

export async function startTestCloud(
  options: { syncRate?: { burst: number; perSecond: number }; dataDir?: string; port?: number } = {},
) {
  return startCloud({
    port: options.port ?? 0,
    dataDir: options.dataDir,
    databaseUrl: undefined,
    admin: { adminApiKey: ADMIN_KEY, adminPassword: 'correct horse battery staple', passwordLogN: 10 },
    syncRate: options.syncRate ?? { burst: 1000, perSecond: 1000 },
  });
}

export async function api(
  cloudUrl: string,
  method: string,
  path: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: test convenience; the assertions say what shape bodies must have
): Promise<{ status: number; json: any }> {
  const res = await fetch(`${cloudUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

export interface TestGateway {
  identity: CloudIdentity;
  dataDir: string;
  store: Store;
  proxy: TcpProxy;
}

/** Enrolls a fresh gateway (new token, new key) whose sync goes through its own TCP proxy to the cloud. */
export async function enrolledGateway(cloudUrl: string): Promise<TestGateway> {
  const tok = await api(cloudUrl, 'POST', '/api/v1/enrollment-tokens', { siteName: 'plant-sync' });
  if (tok.status !== 201) throw new Error(`token: ${tok.status} ${JSON.stringify(tok.json)}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'palisade-sync-gw-'));
  const identity = await enrollGateway({ cloudUrl, token: tok.json.token, dataDir, name: 'sync-test' });
  const proxy = await startTcpProxy({ port: Number(new URL(cloudUrl).port) });
  const store = openStore({ path: join(dataDir, 'gateway.sqlite') });
  return { identity, dataDir, store, proxy };
}

const BASE = Date.UTC(2026, 0, 1);

/**
 * Writes `n` telemetry rollups for `device` the way the gateway does: the local rollup row and its outbox row in one
 * transaction. Returns the next index.
 */
export function writeRollups(store: Store, device: string, from: number, n: number): number {
  const insert = store.sqlite.prepare(
    `INSERT INTO telemetry_rollups (device_id, metric, resolution, bucket_start, min, max, sum, count)
     VALUES (?, 'messages', 'minute', ?, 0, 0, ?, ?)`,
  );
  store.db.transaction((tx) => {
    for (let i = from; i < from + n; i++) {
      const bucket = BASE + i * 60_000;
      insert.run(device, bucket, i, i + 1);
      recordTelemetryRollup(
        tx,
        {
          deviceId: device,
          periodStart: new Date(bucket).toISOString(),
          periodSeconds: 60,
          messages: i + 1,
          bytes: i * 7,
          rejected: 0,
        },
        Date.now(),
      );
    }
  });
  return from + n;
}

/** The gateway's truth: every rollup it stored, as `device|periodStart|messages|bytes`. */
export function gatewayRollups(store: Store): string[] {
  const rows = store.sqlite
    .prepare(
      `SELECT device_id AS d, bucket_start AS b, count AS n, sum AS s FROM telemetry_rollups WHERE metric = 'messages' ORDER BY d, b`,
    )
    .all() as { d: string; b: number; n: number; s: number }[];
  return rows.map((r) => `${r.d}|${new Date(r.b).toISOString()}|${r.n}|${r.s * 7}`);
}

type Queryable = { execute(q: ReturnType<typeof sql>): Promise<unknown> };
const rowsOf = (r: unknown) => (r as { rows: Record<string, unknown>[] }).rows;

/** What the cloud stored for a gateway, in the same shape, plus how many rollups its accepted batches carried. */
export async function cloudRollups(
  cloud: Pick<RunningCloud, 'database'>,
  gatewayId: string,
): Promise<{ rows: string[]; carried: number; batches: number }> {
  const db = cloud.database.db as unknown as Queryable;
  const rows = rowsOf(
    await db.execute(
      sql`select device_id, period_start, messages, bytes from telemetry_rollups where gateway_id = ${gatewayId} order by device_id, period_start`,
    ),
  ).map(
    (r) =>
      `${r.device_id}|${new Date(r.period_start as string).toISOString()}|${Number(r.messages)}|${Number(r.bytes)}`,
  );
  const [b] = rowsOf(
    await db.execute(
      sql`select count(*)::int as batches, coalesce(sum((counts->>'telemetry_rollup')::int), 0)::int as carried from sync_batches where gateway_id = ${gatewayId}`,
    ),
  );
  return { rows, carried: Number(b?.carried ?? 0), batches: Number(b?.batches ?? 0) };
}

export async function cloudQuery(
  cloud: Pick<RunningCloud, 'database'>,
  q: ReturnType<typeof sql>,
): Promise<Record<string, unknown>[]> {
  return rowsOf(await (cloud.database.db as unknown as Queryable).execute(q));
}

export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The set-up both sync suites share: a cloud with a tight per-gateway rate limit (the rate-limit cases run into it
 * for real), gateways enrolled on demand, sync clients through each gateway's proxy with short timeouts, and the
 * exactly-once check. Registers its own beforeAll/afterAll.
 */
export function syncSuite(syncRate: { burst: number; perSecond: number }) {
  const state: { cloud?: RunningCloud } = {};
  const gateways: TestGateway[] = [];
  beforeAll(async () => {
    state.cloud = await startTestCloud({ syncRate });
  });
  afterAll(async () => {
    for (const g of gateways) {
      g.store.close();
      await g.proxy.close();
    }
    await state.cloud?.stop();
  });
  const cloud = (): RunningCloud => {
    if (state.cloud === undefined) throw new Error('the cloud is not started yet');
    return state.cloud;
  };
  return {
    cloud,
    async gateway(): Promise<TestGateway> {
      const g = await enrolledGateway(cloud().url);
      gateways.push(g);
      return g;
    },
    client(g: TestGateway, over: Partial<SyncClientOptions> = {}): SyncClient {
      return new SyncClient({
        sqlite: g.store.sqlite,
        cloudUrl: g.proxy.url,
        gatewayId: g.identity.gatewayId,
        privateKey: g.identity.privateKey,
        clock: systemClock,
        backoff: { baseMs: 20, maxMs: 200 },
        requestTimeoutMs: 2000,
        idlePollSeconds: 1,
        ...over,
      });
    },
    /** The cloud holds exactly the gateway's rollups, each carried by one accepted batch, and the outbox is empty. */
    async expectExactlyOnce(g: TestGateway): Promise<void> {
      const want = gatewayRollups(g.store);
      const got = await cloudRollups(cloud(), g.identity.gatewayId);
      expect(got.rows.length).toBe(want.length);
      expect(got.rows).toEqual(want);
      // No record travelled in two accepted batches (which the cloud's upsert would otherwise hide).
      expect(got.carried).toBe(want.length);
      expect(g.store.sqlite.prepare('SELECT count(*) AS n FROM outbox').get()).toEqual({ n: 0 });
    },
  };
}
