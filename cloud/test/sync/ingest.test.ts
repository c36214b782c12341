import { generateKeyPairSync } from 'node:crypto';
import type { SyncBatch } from '@palisade/shared';
import { count, eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { createCloudApp } from '../../src/app.js';
import { gateways } from '../../src/gateways/schema.js';
import { attestationResults, devices, telemetryRollups } from '../../src/inventory/schema.js';
import { rawAlerts, syncBatches } from '../../src/sync/schema.js';
import { forEachDatabase } from '../helpers/databases.js';
import { earClaims, gatewayClient, makeWorld, readJson, type TestGateway, type World } from '../helpers/world.js';

const MEASUREMENT = 'a1'.repeat(32);

function at(w: World, offsetMs = 0): string {
  return new Date(w.clock.now() + offsetMs).toISOString();
}

function deviceRecord(
  w: World,
  id: string,
  extra: Partial<{
    riskScore: number;
    firmwareVersion: string;
    occurredAt: string;
    attestationStatus: 'affirming' | 'contraindicated';
  }> = {},
): SyncBatch['records'][number] {
  return {
    kind: 'device',
    id,
    occurredAt: extra.occurredAt ?? at(w),
    receivedAt: at(w),
    data: {
      boardFamily: 'stm32',
      firmwareVersion: extra.firmwareVersion ?? '1.0.0',
      firmwareMeasurement: MEASUREMENT,
      certSerial: '0a0b',
      attestationStatus: extra.attestationStatus ?? 'affirming',
      quarantined: false,
      riskScore: extra.riskScore ?? 10,
    },
  };
}

async function resultRecord(
  w: World,
  gw: TestGateway,
  deviceId: string,
  jti: string,
  opts: { key?: Parameters<TestGateway['signResult']>[1]; iss?: string; status?: 'affirming' | 'contraindicated' } = {},
) {
  const claims = earClaims(opts.iss ?? gw.id, deviceId, jti, Math.floor(w.clock.now() / 1000), opts.status);
  return {
    kind: 'attestation_result' as const,
    id: jti,
    occurredAt: at(w),
    receivedAt: at(w),
    data: { jwt: await gw.signResult(claims, opts.key) },
  };
}

async function rows(w: World) {
  const n = async (
    t: typeof devices | typeof attestationResults | typeof telemetryRollups | typeof rawAlerts | typeof syncBatches,
  ) => {
    const [r] = await w.database.db.select({ n: count() }).from(t);
    return Number(r?.n ?? 0);
  };
  return {
    devices: await n(devices),
    results: await n(attestationResults),
    rollups: await n(telemetryRollups),
    alerts: await n(rawAlerts),
    batches: await n(syncBatches),
  };
}

async function refused(res: Response, status: number, code: string) {
  const body = await readJson(res);
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
}

forEachDatabase(
  'sync ingest',
  (db) => makeWorld(db, { maxSyncBodyBytes: 64 * 1024, syncRate: { burst: 1000, perSecond: 1000 } }),
  (world) => {
    it('stores devices, signed attestation results, telemetry and alerts from a JSON batch and acks it', async () => {
      const w = world();
      const gw = await w.enrollGateway();
      const batch = gw.batch(1, [
        deviceRecord(w, 'plc-1'),
        await resultRecord(w, gw, 'plc-1', 'res-1'),
        {
          kind: 'telemetry_rollup',
          id: 'plc-1@0',
          occurredAt: at(w),
          receivedAt: at(w),
          data: {
            deviceId: 'plc-1',
            periodStart: at(w, -60_000),
            periodSeconds: 60,
            messages: 12,
            bytes: 3400,
            rejected: 1,
          },
        },
        {
          kind: 'alert',
          id: 'al-1',
          occurredAt: at(w, -5_000),
          receivedAt: at(w),
          data: {
            type: 'attestation.firmware_mismatch',
            severity: 'high',
            title: 'firmware mismatch on plc-1',
            deviceId: 'plc-1',
            firmwareMeasurement: MEASUREMENT,
          },
        },
      ]);
      const res = await gw.send(batch);
      expect(await readJson(res)).toEqual({ ackedSequence: 1, duplicate: false });
      expect(await rows(w)).toMatchObject({ devices: 1, results: 1, rollups: 1, alerts: 1, batches: 1 });
      const dev = await w.json('GET', '/api/v1/devices/plc-1', { key: w.org.keys.viewer });
      expect(dev).toMatchObject({
        siteId: gw.siteId,
        gatewayId: gw.id,
        boardFamily: 'stm32',
        firmwareMeasurement: MEASUREMENT,
        riskScore: 10,
        lastAttestedAt: new Date(Math.floor(w.clock.now() / 1000) * 1000).toISOString(),
      });
      const history = await w.json('GET', '/api/v1/devices/plc-1/attestations', { key: w.org.keys.viewer });
      expect(history.items[0]).toMatchObject({ id: 'res-1', status: 'affirming', reasons: [], gatewayId: gw.id });
      // Kept with its signature: the stored JWS is the one the gateway signed.
      expect(history.items[0].jwt).toBe((batch.records[1] as { data: { jwt: string } }).data.jwt);
      const g = await w.json('GET', `/api/v1/gateways/${gw.id}`, { key: w.org.keys.viewer });
      expect(g).toMatchObject({ ackedSequence: 1, lastSeenAt: at(w), syncLagMs: 0 });
    });

    it('accepts CBOR, and treats the same batch re-sent (JSON or CBOR) as one', async () => {
      const w = world();
      const gw = await w.enrollGateway();
      const batch = gw.batch(1, [deviceRecord(w, 'cbor-1'), await resultRecord(w, gw, 'cbor-1', 'cres-1')]);
      const first = await gw.send(batch, { format: 'cbor' });
      expect(await readJson(first)).toEqual({ ackedSequence: 1, duplicate: false });
      const before = await rows(w);
      for (const format of ['cbor', 'json'] as const) {
        const again = await gw.send(batch, { format });
        expect(await readJson(again)).toEqual({ ackedSequence: 1, duplicate: true });
      }
      expect(await rows(w)).toEqual(before);
      // Another batch under a used sequence number is a conflict, and changes nothing.
      await refused(await gw.send(gw.batch(1, [deviceRecord(w, 'cbor-2')])), 409, 'conflict.sync_sequence_reused');
      expect(await rows(w)).toEqual(before);
    });

    it('refuses oversized, malformed, off-contract and wrongly typed batches with nothing stored', async () => {
      const w = world();
      const gw = await w.enrollGateway();
      const before = await rows(w);
      const big = gw.batch(
        1,
        Array.from({ length: 400 }, (_, i) => deviceRecord(w, `big-${i}`)),
      );
      await refused(await gw.send(big), 413, 'validation.body_too_large');
      await refused(await gw.send('{"gatewayId":'), 400, 'validation.malformed_body');
      await refused(await gw.send(new Uint8Array([0xbf, 0x61])), 400, 'validation.malformed_body');
      await refused(
        await gw.send(new Uint8Array([0xa1, 0x61, 0x61, 0x01]), { format: 'cbor' }),
        400,
        'validation.batch',
      );
      await refused(await gw.send({ ...gw.batch(2, []), sequence: 0 }), 400, 'validation.batch');
      await refused(
        await gw.send(gw.batch(3, []), { headers: { 'content-type': 'text/plain' } }),
        415,
        'validation.unsupported_media_type',
      );
      const badDevice = { ...deviceRecord(w, 'ok-1'), id: 'bad/device' };
      await refused(await gw.send(gw.batch(4, [deviceRecord(w, 'ok-0'), badDevice])), 400, 'validation.batch');
      expect(await rows(w)).toEqual(before);
    });

    it('refuses a batch whose attestation result is forged, from another issuer or with another id; nothing stored', async () => {
      const w = world();
      const gw = await w.enrollGateway();
      const before = await rows(w);
      const { privateKey: stranger } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const forged = await resultRecord(w, gw, 'plc-9', 'f-1', { key: stranger });
      await refused(
        await gw.send(gw.batch(1, [deviceRecord(w, 'plc-9'), forged])),
        400,
        'validation.attestation_result',
      );
      const otherIssuer = await resultRecord(w, gw, 'plc-9', 'f-2', { iss: 'gw_someone_else' });
      await refused(await gw.send(gw.batch(2, [otherIssuer])), 400, 'validation.attestation_result');
      const mismatched = { ...(await resultRecord(w, gw, 'plc-9', 'f-3')), id: 'f-4' };
      await refused(await gw.send(gw.batch(3, [mismatched])), 400, 'validation.attestation_result');
      // A tampered payload (status flipped) breaks the signature.
      const good = await resultRecord(w, gw, 'plc-9', 'f-5', { status: 'contraindicated' });
      const [h, p, s] = good.data.jwt.split('.');
      const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString());
      claims.ear_status = 'affirming';
      const tampered = {
        ...good,
        data: { jwt: `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}` },
      };
      await refused(await gw.send(gw.batch(4, [tampered])), 400, 'validation.attestation_result');
      expect(await rows(w)).toEqual(before);
    });

    it('writes only into the gateway’s own site: a device owned by another site is left alone', async () => {
      const w = world();
      const north = await w.enrollGateway(w.org, 'north');
      const south = await w.enrollGateway(w.org, 'south');
      expect((await north.send(north.batch(1, [deviceRecord(w, 'shared-1', { riskScore: 5 })]))).status).toBe(200);
      w.clock.advance(1000);
      expect((await south.send(south.batch(1, [deviceRecord(w, 'shared-1', { riskScore: 99 })]))).status).toBe(200);
      const [d] = await w.database.db.select().from(devices).where(eq(devices.id, 'shared-1'));
      expect(d).toMatchObject({ siteId: north.siteId, gatewayId: north.id, riskScore: 5 });
    });

    it('never rolls a device back with a late batch of older events', async () => {
      const w = world();
      const gw = await w.enrollGateway();
      expect((await gw.send(gw.batch(1, [deviceRecord(w, 'late-1', { firmwareVersion: '2.0.0' })]))).status).toBe(200);
      const older = deviceRecord(w, 'late-1', { firmwareVersion: '1.0.0', occurredAt: at(w, -3600_000) });
      expect((await gw.send(gw.batch(2, [older]))).status).toBe(200);
      const dev = await w.json('GET', '/api/v1/devices/late-1', { key: w.org.keys.viewer });
      expect(dev.firmwareVersion).toBe('2.0.0');
    });

    it('rate-limits each gateway with 429 and Retry-After', async () => {
      const w = world();
      const gw = await w.enrollGateway();
      // A second instance on the same database, with a tight limit.
      const app = await createCloudApp({
        database: w.database,
        clock: w.clock,
        syncRate: { burst: 2, perSecond: 0.5 },
      });
      const client = gatewayClient(app, w.clock, gw);
      expect((await client.send(client.batch(1, []))).status).toBe(200);
      expect((await client.send(client.batch(2, []))).status).toBe(200);
      const res = await client.send(client.batch(3, []));
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('2');
      expect((await readJson(res)).error.code).toBe('rate_limited.gateway');
      // Another gateway has its own bucket.
      const other = gatewayClient(app, w.clock, await w.enrollGateway(w.org, 'east'));
      expect((await other.send(other.batch(1, []))).status).toBe(200);
      w.clock.advance(2000);
      expect((await client.send(client.batch(3, []))).status).toBe(200);
      const [g] = await w.database.db.select().from(gateways).where(eq(gateways.id, gw.id));
      expect(g?.ackedSeq).toBe(3);
    });
  },
);
