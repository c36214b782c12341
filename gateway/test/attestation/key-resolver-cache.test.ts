import { createIntermediateCa, createRootCa } from '@palisade/firmware-protocol';
import { describe, expect, it } from 'vitest';
import { KeyResolver } from '../../src/attestation/key-resolver.js';
import { createDevice, createPki, T0 } from './fixtures.js';

describe('KeyResolver failed-chain cache', () => {
  it('answers a repeated untrusted chain from the cache, and forgets it when the trust changes', async () => {
    const genuine = await createPki('Genuine');
    const rogue = await createPki('Rogue');
    const device = await createDevice(rogue, 'nrf52-r1');
    const resolver = new KeyResolver({ roots: [genuine.root.certificate.pem] });
    const first = await resolver.fromChain(device.chain, T0);
    expect(first).toMatchObject({ ok: false, reason: 'appraisal.cert_untrusted' });
    // The same bytes again: the same verdict object, without a second path validation.
    expect(await resolver.fromChain(device.chain, T0 + 1_000)).toBe(first);
    // A trust change (the rogue root now configured) must not be shadowed by the remembered failure.
    resolver.setTrust({ roots: [rogue.root.certificate.pem] });
    expect(await resolver.fromChain(device.chain, T0 + 2_000)).toMatchObject({ ok: true });
  });

  it('re-validates a failed chain once the verdict is a minute old', async () => {
    const genuine = await createPki('Genuine');
    const rogue = await createPki('Rogue');
    const device = await createDevice(rogue, 'nrf52-r2');
    const resolver = new KeyResolver({ roots: [genuine.root.certificate.pem] });
    const first = await resolver.fromChain(device.chain, T0);
    const later = await resolver.fromChain(device.chain, T0 + 61_000);
    expect(later).not.toBe(first);
    expect(later).toMatchObject({ ok: false, reason: 'appraisal.cert_untrusted' });
  });
});

describe('KeyResolver validated-chain cache', () => {
  it('stops reusing a validated path when a configured intermediate expires, though the sent chain is still valid', async () => {
    const HOUR = 3_600_000;
    const root = await createRootCa({ commonName: 'Short Root', now: new Date(T0 - HOUR) });
    // The issuing CA lives for two hours only, and is configured at the gateway, not sent by the device.
    const intermediate = await createIntermediateCa(root, {
      commonName: 'Short Issuing CA',
      notBefore: new Date(T0 - HOUR),
      notAfter: new Date(T0 + HOUR),
    });
    const device = await createDevice({ root, intermediate }, 'nrf52-short');
    const leafOnly = [device.chain[0] as Uint8Array];
    const resolver = new KeyResolver(
      { roots: [root.certificate.pem], intermediates: [intermediate.certificate.pem] },
      { chainCacheTtlMs: 10 * HOUR },
    );
    expect(await resolver.fromChain(leafOnly, T0)).toMatchObject({ ok: true });
    // Inside the intermediate's validity the remembered path is reused.
    expect(await resolver.fromChain(leafOnly, T0 + HOUR - 1_000)).toMatchObject({ ok: true });
    // After it, the path no longer validates: the cache must not answer for it.
    expect(await resolver.fromChain(leafOnly, T0 + HOUR + 1_000)).toMatchObject({
      ok: false,
      reason: 'appraisal.cert_expired',
    });
  });
});
