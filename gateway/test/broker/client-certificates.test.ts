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

  it('never reuses an acceptance past the notAfter of an intermediate that expires before the leaf', async () => {
    const { root } = await standardPki();
    const now = Date.now();
    const clock = new ManualClock(now);
    const inter = await issue({
      subject: 'CN=Short-lived Devices CA',
      ca: true,
      issuer: root,
      notBefore: new Date(now - MINUTE),
      notAfter: new Date(now + 2 * MINUTE),
    });
    // The leaf itself is valid for a year: only the intermediate bounds the verdict.
    const leaf = await issue({ subject: 'CN=dev-long', issuer: inter, eku: [EKU.clientAuth] });
    const v = new ClientCertificateVerifier({ roots: [root.pem] }, [EKU.clientAuth], clock, 5 * MINUTE);
    expect((await v.verify(leaf.der, [inter.der])).reason).toBe('ok');
    clock.advance(MINUTE);
    expect((await v.verify(leaf.der, [inter.der])).reason).toBe('ok');
    clock.advance(2 * MINUTE);
    // Within the TTL of the remembered acceptance, but the intermediate is past its notAfter.
    expect(await v.verify(leaf.der, [inter.der])).toMatchObject({ valid: false, reason: 'pki.expired' });
  });

  it('does not reuse an acceptance when the clock steps back before a notBefore of the path', async () => {
    const { root } = await standardPki();
    const now = Date.now();
    const clock = new ManualClock(now);
    const inter = await issue({
      subject: 'CN=New Devices CA',
      ca: true,
      issuer: root,
      notBefore: new Date(now - MINUTE),
    });
    const leaf = await issue({ subject: 'CN=dev-new', issuer: inter, notBefore: new Date(now - 10 * MINUTE) });
    const v = new ClientCertificateVerifier({ roots: [root.pem] }, [], clock, 5 * MINUTE);
    expect((await v.verify(leaf.der, [inter.der])).reason).toBe('ok');
    clock.advance(-2 * MINUTE);
    expect(await v.verify(leaf.der, [inter.der])).toMatchObject({ valid: false, reason: 'pki.not_yet_valid' });
  });

  it('never reuses an acceptance past the nextUpdate of a CRL it was checked against', async () => {
    const { root, inter, leaf } = await standardPki();
    const now = Date.now();
    const clock = new ManualClock(now);
    const list = await crl(inter, [], { thisUpdate: new Date(now - MINUTE), nextUpdate: new Date(now + 2 * MINUTE) });
    const v = new ClientCertificateVerifier({ roots: [root.pem], crls: [list] }, [], clock, 5 * MINUTE);
    expect((await v.verify(leaf.der, [inter.der])).reason).toBe('ok');
    clock.advance(3 * MINUTE);
    expect(await v.verify(leaf.der, [inter.der])).toMatchObject({ valid: false, reason: 'pki.crl_stale' });
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
