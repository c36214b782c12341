import 'reflect-metadata';
import { generateKeyPairSync } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { count, eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { createCloudApp } from '../../src/app.js';
import { syncBatches } from '../../src/sync/schema.js';
import { auditLog } from '../../src/tenancy/schema.js';
import { forEachDatabase } from '../helpers/databases.js';
import { gatewayClient, makeCsr, makeWorld, readJson, type World } from '../helpers/world.js';

const device = (w: World, id = 'dev-1') => ({
  kind: 'device' as const,
  id,
  occurredAt: new Date(w.clock.now()).toISOString(),
  receivedAt: new Date(w.clock.now()).toISOString(),
  data: { boardFamily: 'nrf52' as const, attestationStatus: 'affirming' as const, quarantined: false, riskScore: 0 },
});

async function batches(w: World): Promise<number> {
  const [row] = await w.database.db.select({ n: count() }).from(syncBatches);
  return Number(row?.n ?? 0);
}

async function expectRefused(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect((await readJson(res)).error.code).toBe(code);
}

forEachDatabase(
  'gateway enrollment and signed requests',
  (db) => makeWorld(db),
  (world) => {
    it('enrolls with a one-time token and a P-256 CSR: certificate from the cloud CA, bound to the site', async () => {
      const w = world();
      const { token, siteId } = await w.json('POST', '/api/v1/enrollment-tokens', {
        key: w.org.keys.admin,
        body: { siteName: 'north' },
      });
      expect(token).toMatch(/^pet_/);
      const { csrPem } = await makeCsr('gateway-north-1');
      const res = await w.json('POST', '/api/v1/gateways/enroll', { body: { token, csrPem } });
      expect(res).toMatchObject({ orgId: w.org.id, siteId });
      const cert = new x509.X509Certificate(res.certificatePem);
      const ca = new x509.X509Certificate(res.caCertificatePem);
      expect(await cert.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(true);
      expect(cert.subject).toContain(`CN=${res.gatewayId}`);
      expect(cert.issuer).toBe(ca.subject);
      const gw = await w.json('GET', `/api/v1/gateways/${res.gatewayId}`, { key: w.org.keys.viewer });
      expect(gw).toMatchObject({
        siteId,
        name: 'gateway-north-1',
        status: 'active',
        certSerial: cert.serialNumber.toLowerCase(),
      });

      // One-time: the same token again is refused.
      const again = await w.call('POST', '/api/v1/gateways/enroll', {
        body: { token, csrPem: (await makeCsr('x')).csrPem },
      });
      await expectRefused(again, 401, 'auth.invalid_enrollment_token');
      const [entry] = await w.database.db.select().from(auditLog).where(eq(auditLog.targetId, res.gatewayId));
      expect(entry?.action).toBe('gateway.enroll');
    });

    it('refuses expired and unknown tokens, and CSRs that are not P-256 or not PEM', async () => {
      const w = world();
      const { token } = await w.json('POST', '/api/v1/enrollment-tokens', {
        key: w.org.keys.admin,
        body: { siteName: 'north', ttlSeconds: 60 },
      });
      const { csrPem } = await makeCsr('gw');
      w.clock.advance(61_000);
      await expectRefused(
        await w.call('POST', '/api/v1/gateways/enroll', { body: { token, csrPem } }),
        401,
        'auth.invalid_enrollment_token',
      );
      await expectRefused(
        await w.call('POST', '/api/v1/gateways/enroll', { body: { token: 'pet_not-a-real-token-at-all', csrPem } }),
        401,
        'auth.invalid_enrollment_token',
      );
      const fresh = async () =>
        (await w.json('POST', '/api/v1/enrollment-tokens', { key: w.org.keys.admin, body: { siteName: 'north' } }))
          .token;
      const p384 = (await makeCsr('gw', 'P-384')).csrPem;
      await expectRefused(
        await w.call('POST', '/api/v1/gateways/enroll', { body: { token: await fresh(), csrPem: p384 } }),
        400,
        'validation.csr_key',
      );
      const garbage = `-----BEGIN CERTIFICATE REQUEST-----\n${'A'.repeat(120)}\n-----END CERTIFICATE REQUEST-----`;
      await expectRefused(
        await w.call('POST', '/api/v1/gateways/enroll', { body: { token: await fresh(), csrPem: garbage } }),
        400,
        'validation.csr',
      );
      // A token refused for a bad CSR is not consumed.
      const t = await fresh();
      await w.call('POST', '/api/v1/gateways/enroll', { body: { token: t, csrPem: p384 } });
      expect((await w.call('POST', '/api/v1/gateways/enroll', { body: { token: t, csrPem } })).status).toBe(201);
    });

    it('accepts a correctly signed batch', async () => {
      const w = world();
      const gw = await w.enrollGateway();
      const res = await gw.send(gw.batch(1, [device(w)]));
      expect(res.status).toBe(200);
      expect(await readJson(res)).toEqual({ ackedSequence: 1, duplicate: false });
    });

    it('refuses forged, altered, replayed, stale, post-dated, unsigned and wrong-gateway requests, storing nothing', async () => {
      const w = world();
      const gw = await w.enrollGateway();
      const other = await w.enrollGateway(w.org, 'south');
      const before = await batches(w);
      const { privateKey: stranger } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

      await expectRefused(
        await gw.send(gw.batch(10, [device(w)]), { signingKey: stranger }),
        401,
        'auth.bad_signature',
      );
      // Body altered after signing.
      await expectRefused(
        await gw.send(gw.batch(11, [device(w)]), {
          signedBody: new TextEncoder().encode(JSON.stringify(gw.batch(11, []))),
        }),
        401,
        'auth.bad_signature',
      );
      // Signed by one gateway, claiming to be another.
      await expectRefused(
        await gw.send(gw.batch(12, [device(w)]), { headerGatewayId: other.id }),
        401,
        'auth.bad_signature',
      );
      // Properly signed by its own key, but the batch names another gateway.
      await expectRefused(
        await gw.send({ ...gw.batch(13, [device(w)]), gatewayId: other.id }),
        403,
        'auth.wrong_gateway',
      );
      await expectRefused(
        await gw.send(gw.batch(14, [device(w)]), { signedAt: w.clock.now() - 301_000 }),
        401,
        'auth.stale_request',
      );
      await expectRefused(
        await gw.send(gw.batch(15, [device(w)]), { signedAt: w.clock.now() + 301_000 }),
        401,
        'auth.stale_request',
      );
      await expectRefused(
        await gw.send(gw.batch(16, [device(w)]), { headerGatewayId: 'gw_unknown' }),
        401,
        'auth.unknown_gateway',
      );
      const unsigned = await w.app.request('/api/v1/sync/batches', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(gw.batch(17, [device(w)])),
      });
      await expectRefused(unsigned, 401, 'auth.bad_signature');
      // Within the window a skewed clock is fine.
      expect((await gw.send(gw.batch(18, [device(w)]), { signedAt: w.clock.now() - 299_000 })).status).toBe(200);
      expect(await batches(w)).toBe(before + 1);

      // Replay: the exact same signed request (same nonce) is refused, even by a fresh instance on the same database.
      const nonce = 'n'.repeat(24);
      expect((await gw.send(gw.batch(19, [device(w)]), { nonce })).status).toBe(200);
      await expectRefused(await gw.send(gw.batch(19, [device(w)]), { nonce }), 401, 'auth.replayed_request');
      const restarted = await createCloudApp({ database: w.database, clock: w.clock });
      const gw2 = gatewayClient(restarted, w.clock, gw);
      await expectRefused(await gw2.send(gw.batch(19, [device(w)]), { nonce }), 401, 'auth.replayed_request');
      expect(await batches(w)).toBe(before + 2);
    });

    it('revokes a gateway (admin only, audited): its requests are refused from then on', async () => {
      const w = world();
      const gw = await w.enrollGateway();
      expect((await gw.send(gw.batch(1, [device(w)]))).status).toBe(200);
      expect((await w.call('POST', `/api/v1/gateways/${gw.id}/revoke`, { key: w.org.keys.analyst })).status).toBe(403);
      const revoked = await w.json('POST', `/api/v1/gateways/${gw.id}/revoke`, { key: w.org.keys.admin });
      expect(revoked.status).toBe('revoked');
      await expectRefused(await gw.send(gw.batch(2, [device(w)])), 403, 'auth.gateway_revoked');
      expect((await w.call('POST', `/api/v1/gateways/${gw.id}/revoke`, { key: w.org.keys.admin })).status).toBe(409);
      const log = await w.json('GET', '/api/v1/audit-log?action=gateway.revoke', { key: w.org.keys.admin });
      expect(log.items[0]).toMatchObject({ targetId: gw.id, before: { revokedAt: null } });
    });

    it('refuses a gateway whose certificate has expired', async () => {
      const w = world();
      const gw = await w.enrollGateway(w.org, 'aging');
      expect((await gw.send(gw.batch(1, [device(w)]))).status).toBe(200);
      w.clock.advance(2 * 365 * 86_400_000 + 120_000);
      await expectRefused(await gw.send(gw.batch(2, [device(w)])), 401, 'auth.certificate_expired');
    });
  },
);
