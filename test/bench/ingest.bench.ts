/**
 * Sync ingest throughput: device rows per second through the cloud's real HTTP endpoint (`POST
 * /api/v1/sync/batches` over a loopback socket: signed request, signature + nonce check, JSON decode, zod validation,
 * idempotency row, multi-row upsert under row-level security, gateway bookkeeping, one transaction per batch) into
 * PostgreSQL, beside a plain multi-row INSERT of the same rows (same batch size, same pool, one statement per batch)
 * into a table shaped like `devices`, in the same run. Rounds alternate so machine noise hits both alike; the ratio
 * is the median of per-round ratios (target ≥ 0.3).
 *
 * Needs PostgreSQL: PALISADE_TEST_DATABASE_URL (or DATABASE_URL) naming a server where a scratch database may be
 * created and dropped. Usage: `npx tsc -b && node test/dist/bench/ingest.bench.js [--rows N] [--batch N] [--rounds N]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase, startCloud } from '@palisade/cloud';
import { enrollGateway } from '@palisade/gateway';
import { SYNC_BATCHES_PATH, type SyncBatch, signRequest } from '@palisade/shared';
import { sql } from 'drizzle-orm';
import pg from 'pg';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
  },
});
const ROWS = Number(values.rows);
const BATCH = Number(values.batch);
const ROUNDS = Number(values.rounds);

const serverUrl = process.env.PALISADE_TEST_DATABASE_URL ?? process.env.DATABASE_URL;
if (!serverUrl) {
  process.stderr.write('ingest.bench: set PALISADE_TEST_DATABASE_URL (or DATABASE_URL) to a PostgreSQL server\n');
  process.exit(2);
}

const scratch = `palisade_bench_${Date.now().toString(36)}`;
const admin = await openDatabase({ databaseUrl: serverUrl, poolSize: 1 });
await admin.db.execute(sql.raw(`create database ${scratch}`));
const dbUrl = new URL(serverUrl);
dbUrl.pathname = `/${scratch}`;
const dataDir = mkdtempSync(join(tmpdir(), 'palisade-bench-'));
const apiKey = `pk_BENCHADMIN0001_${'b'.repeat(43)}`;

const cloud = await startCloud({
  port: 0,
  databaseUrl: dbUrl.toString(),
  admin: { adminPassword: 'bench admin password', adminApiKey: apiKey },
  print: () => {},
  // The bench measures ingest, not the limiter.
  syncRate: { burst: 1e9, perSecond: 1e9 },
});

// The reference: node-postgres straight, one parameterised multi-row INSERT per batch, no ORM, no RLS.
const plain = new pg.Pool({ connectionString: dbUrl.toString(), max: 2 });

try {
  const tokenRes = await fetch(`${cloud.url}/api/v1/enrollment-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ siteName: 'bench' }),
  });
  const { token } = (await tokenRes.json()) as { token: string };
  const identity = await enrollGateway({ cloudUrl: cloud.url, token, dataDir, name: 'bench-gateway' });

  // The reference table: the devices table's columns, types, defaults and primary key, without RLS or upsert.
  await cloud.database.db.execute(
    sql.raw('create table bench_plain_devices (like devices including defaults including indexes)'),
  );

  const measurement = 'ab'.repeat(32);
  const families = ['stm32', 'nrf52', 'esp32'] as const;
  const rowsFor = (round: number, kind: string) =>
    Array.from({ length: ROWS }, (_, i) => ({
      id: `${kind}-${round}-${i}`,
      riskScore: i % 100,
      boardFamily: families[i % 3] ?? 'stm32',
    }));

  let sequence = 0;
  async function viaHttp(round: number): Promise<number> {
    const t = new Date().toISOString();
    const rows = rowsFor(round, 'http');
    const bodies: string[] = [];
    for (let i = 0; i < rows.length; i += BATCH) {
      const batch: SyncBatch = {
        gatewayId: identity.gatewayId,
        sequence: ++sequence,
        sentAt: t,
        records: rows.slice(i, i + BATCH).map((r) => ({
          kind: 'device',
          id: r.id,
          occurredAt: t,
          receivedAt: t,
          data: {
            boardFamily: r.boardFamily,
            firmwareVersion: '1.0.0',
            firmwareMeasurement: measurement,
            certSerial: '0a0b',
            attestationStatus: 'affirming',
            quarantined: false,
            riskScore: r.riskScore,
          },
        })),
      };
      bodies.push(JSON.stringify(batch));
    }
    const start = performance.now();
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
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    }
    return ROWS / ((performance.now() - start) / 1000);
  }

  const COLUMNS = 13;
  async function plainInsert(round: number): Promise<number> {
    const t = new Date();
    const rows = rowsFor(round, 'plain');
    const start = performance.now();
    for (let i = 0; i < rows.length; i += BATCH) {
      const chunk = rows.slice(i, i + BATCH);
      const params: unknown[] = [];
      const tuples = chunk.map((r, j) => {
        params.push(
          identity.orgId,
          r.id,
          identity.siteId,
          identity.gatewayId,
          r.boardFamily,
          '1.0.0',
          measurement,
          '0a0b',
          'affirming',
          false,
          r.riskScore,
          t,
          t,
        );
        return `(${Array.from({ length: COLUMNS }, (_, k) => `$${j * COLUMNS + k + 1}`).join(',')})`;
      });
      await plain.query(
        `insert into bench_plain_devices (org_id, id, site_id, gateway_id, board_family, firmware_version, firmware_measurement, cert_serial, attestation_status, quarantined, risk_score, last_seen_at, updated_at) values ${tuples.join(',')}`,
        params,
      );
    }
    return ROWS / ((performance.now() - start) / 1000);
  }

  // Warm-up (JIT, connections, plans), not measured.
  await viaHttp(-1);
  await plainInsert(-1);
  const rounds: { http: number; plain: number; ratio: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const http = await viaHttp(r);
    const plain = await plainInsert(r);
    rounds.push({ http, plain, ratio: http / plain });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const result = {
    bench: 'ingest',
    rows: ROWS,
    batchSize: BATCH,
    rounds: ROUNDS,
    httpRowsPerSec: Math.round(median(rounds.map((r) => r.http))),
    plainInsertRowsPerSec: Math.round(median(rounds.map((r) => r.plain))),
    ratio: Number(median(rounds.map((r) => r.ratio)).toFixed(3)),
    target: 0.3,
    loadavg: loadavg()[0],
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await plain.end();
  await cloud.stop();
  await admin.db.execute(sql.raw(`drop database if exists ${scratch} with (force)`));
  await admin.close();
  rmSync(dataDir, { recursive: true, force: true });
}
