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
