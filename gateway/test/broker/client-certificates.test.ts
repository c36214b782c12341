import 'reflect-metadata';
import { ManualClock } from '@palisade/shared';
import { describe, expect, it } from 'vitest';
import { ClientCertificateVerifier } from '../../src/broker/index.js';
import { crl, EKU, issue, standardPki } from '../pki/test-pki.js';

const MINUTE = 60_000;

describe('client certificate verdicts', () => {
  it('remembers a verdict for at most its TTL and never past the leaf notAfter', async () => {
    const { root, inter } = await standardPki();
    const now = Date.now();
    const clock = new ManualClock(now);
    const leaf = await issue({
      subject: 'CN=dev-short',
      issuer: inter,
      notBefore: new Date(now - MINUTE),
      notAfter: new Date(now + 2 * MINUTE),
    });
    const v = new ClientCertificateVerifier({ roots: [root.pem], intermediates: [inter.pem] }, [], clock, 5 * MINUTE);
    expect((await v.verify(leaf.der, [])).reason).toBe('ok');
    clock.advance(3 * MINUTE);
    // The TTL (5 min) has not run out, but the certificate has: the verdict is recomputed.
    expect((await v.verify(leaf.der, [])).reason).toBe('pki.expired');
  });

  it('forgets verdicts when the trust material changes, and applies the required EKU', async () => {
    const { root, inter, leaf } = await standardPki();
    const clock = new ManualClock(Date.now());
    const v = new ClientCertificateVerifier({ roots: [root.pem] }, [EKU.clientAuth], clock);
    expect((await v.verify(leaf.der, [inter.der])).reason).toBe('ok');
    v.update({ roots: [root.pem], crls: [await crl(inter, [leaf.cert.serialNumber])] });
    expect((await v.verify(leaf.der, [inter.der])).reason).toBe('pki.revoked');
    const server = await issue({ subject: 'CN=dev-srv', issuer: inter, eku: [EKU.serverAuth] });
    expect((await v.verify(server.der, [inter.der])).reason).toBe('pki.eku');
  });

  it('refuses everything when no roots are configured', async () => {
    const { inter, leaf } = await standardPki();
    const v = new ClientCertificateVerifier({ roots: [] }, [], new ManualClock(Date.now()));
    expect(await v.verify(leaf.der, [inter.der])).toMatchObject({ valid: false, reason: 'pki.untrusted' });
  });
});
