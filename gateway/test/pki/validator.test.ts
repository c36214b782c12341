import 'reflect-metadata';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type VerifyChainInput, verifyChain } from '../../src/pki/index.js';
import { crl, EKU, type Issued, issue, KeyUsage, newKeys, standardPki } from './test-pki.js';

const DAY = 86_400_000;
const HAVE_OPENSSL = spawnSync('openssl', ['version']).status === 0;
if (!HAVE_OPENSSL && process.env.CI === 'true') throw new Error('openssl is required in CI');

let dir: string;
let root: Issued;
let inter: Issued;
let leaf: Issued;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-pki-'));
  ({ root, inter, leaf } = await standardPki('dev-001'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function file(content: string): string {
  const p = join(dir, `f${fileNo++}.pem`);
  writeFileSync(p, content);
  return p;
}

/** Runs `openssl verify` on the same input; returns true when OpenSSL accepts the chain. */
function opensslAccepts(input: VerifyChainInput): boolean {
  const args = ['verify', '-CAfile', file((input.roots as string[]).join(''))];
  const inters = (input.intermediates ?? []) as string[];
  if (inters.length > 0) args.push('-untrusted', file(inters.join('')));
  if ((input.crls ?? []).length > 0) args.push('-crl_check', '-CRLfile', file((input.crls as string[]).join('')));
  args.push('-attime', String(Math.floor((input.time ?? new Date()).getTime() / 1000)));
  if (input.maxChainDepth !== undefined) args.push('-verify_depth', String(input.maxChainDepth));
  if (input.extendedKeyUsage?.includes(EKU.clientAuth)) args.push('-purpose', 'sslclient');
  args.push(file(input.leaf as string));
  return spawnSync('openssl', args, { encoding: 'utf8' }).status === 0;
}

/** Checks our verdict and, when OpenSSL is present, that OpenSSL reaches the same verdict. */
async function expectVerdict(input: VerifyChainInput, reason: string): Promise<void> {
  const r = await verifyChain(input);
  expect(r.reason).toBe(reason);
  expect(r.valid).toBe(reason === 'ok');
  if (HAVE_OPENSSL) expect(opensslAccepts(input), 'openssl verify agrees').toBe(reason === 'ok');
}

describe('verifyChain (pkijs RFC 5280 path validation)', () => {
  it('accepts a valid leaf → intermediate → root chain and reports the path and leaf', async () => {
    const input = { leaf: leaf.pem, intermediates: [inter.pem], roots: [root.pem] };
    await expectVerdict(input, 'ok');
    const r = await verifyChain(input);
    expect(r.chain).toEqual([
      'CN=dev-001, O=Palisade',
      'CN=Palisade Test Devices CA, O=Palisade',
      'CN=Palisade Test Root, O=Palisade',
    ]);
    expect(r.leaf?.commonName).toBe('dev-001');
    expect(r.leaf?.serial).toBe(leaf.cert.serialNumber.toLowerCase());
    expect(r.leaf?.notAfter.getTime()).toBe(leaf.cert.notAfter.getTime());
    const spki = Buffer.from(await crypto.subtle.exportKey('spki', leaf.keys.publicKey));
    expect(Buffer.from(r.leaf?.publicKeyDer ?? []).equals(spki)).toBe(true);
  });

  it('accepts DER input and an intermediates bundle in one PEM string', async () => {
    const r = await verifyChain({ leaf: leaf.der, intermediates: [`junk\n${inter.pem}`], roots: [root.der] });
    expect(r.reason).toBe('ok');
  });

  it('refuses an expired leaf (pki.expired) and one not yet valid (pki.not_yet_valid)', async () => {
    const now = Date.now();
    const expired = await issue({
      subject: 'CN=dev-old',
      issuer: inter,
      notBefore: new Date(now - 30 * DAY),
      notAfter: new Date(now - DAY),
    });
    await expectVerdict({ leaf: expired.pem, intermediates: [inter.pem], roots: [root.pem] }, 'pki.expired');
    const future = await issue({ subject: 'CN=dev-new', issuer: inter, notBefore: new Date(now + DAY) });
    await expectVerdict({ leaf: future.pem, intermediates: [inter.pem], roots: [root.pem] }, 'pki.not_yet_valid');
  });

  it('judges validity at the requested time, not now', async () => {
    const input = { leaf: leaf.pem, intermediates: [inter.pem], roots: [root.pem] };
    await expectVerdict({ ...input, time: new Date(Date.now() + 400 * DAY) }, 'pki.expired');
    await expectVerdict({ ...input, time: new Date(Date.now() - 2 * DAY) }, 'pki.not_yet_valid');
  });

  it('refuses an expired intermediate', async () => {
    const now = Date.now();
    const oldInter = await issue({
      subject: 'CN=Old CA',
      ca: true,
      issuer: root,
      notBefore: new Date(now - 30 * DAY),
      notAfter: new Date(now - DAY),
    });
    const l = await issue({ subject: 'CN=dev-002', issuer: oldInter });
    await expectVerdict({ leaf: l.pem, intermediates: [oldInter.pem], roots: [root.pem] }, 'pki.expired');
  });

  it('refuses a chain whose trust anchor has expired', async () => {
    const now = Date.now();
    const oldRoot = await issue({
      subject: 'CN=Old Root',
      ca: true,
      notBefore: new Date(now - 30 * DAY),
      notAfter: new Date(now - DAY),
    });
    const l = await issue({ subject: 'CN=dev-004', issuer: oldRoot });
    await expectVerdict({ leaf: l.pem, roots: [oldRoot.pem] }, 'pki.expired');
  });

  it('refuses a chain to another root (pki.untrusted), including a look-alike root with the same name', async () => {
    const other = await issue({ subject: 'CN=Other Root', ca: true });
    await expectVerdict({ leaf: leaf.pem, intermediates: [inter.pem], roots: [other.pem] }, 'pki.untrusted');
    const lookAlike = await issue({ subject: root.subject, ca: true });
    await expectVerdict({ leaf: leaf.pem, intermediates: [inter.pem], roots: [lookAlike.pem] }, 'pki.untrusted');
    // Without the intermediate there is no path either.
    await expectVerdict({ leaf: leaf.pem, roots: [root.pem] }, 'pki.untrusted');
  });

  it('refuses a leaf whose signature was forged or damaged (pki.bad_signature)', async () => {
    const attacker = await newKeys();
    const forged = await issue({ subject: 'CN=dev-001', issuer: inter, signingKey: attacker.privateKey });
    await expectVerdict({ leaf: forged.pem, intermediates: [inter.pem], roots: [root.pem] }, 'pki.bad_signature');
    const damaged = Uint8Array.from(leaf.der);
    damaged[damaged.length - 5] = (damaged[damaged.length - 5] ?? 0) ^ 0x01;
    const pem = x509.PemConverter.encode(damaged.buffer, 'CERTIFICATE');
    await expectVerdict({ leaf: pem, intermediates: [inter.pem], roots: [root.pem] }, 'pki.bad_signature');
  });

  it('refuses a self-signed leaf and a leaf signed by a non-CA certificate', async () => {
    const self = await issue({ subject: 'CN=dev-self' });
    await expectVerdict({ leaf: self.pem, roots: [root.pem] }, 'pki.untrusted');
    const notCa = await issue({ subject: 'CN=not-a-ca', issuer: root });
    const l = await issue({ subject: 'CN=dev-003', issuer: notCa });
    await expectVerdict({ leaf: l.pem, intermediates: [notCa.pem], roots: [root.pem] }, 'pki.not_ca');
  });

  it('validates Ed25519 chains (RFC 8410) and refuses a forged Ed25519 signature', async () => {
    const edRoot = await issue({ subject: 'CN=Ed Root', ca: true, alg: 'Ed25519' });
    const edInter = await issue({ subject: 'CN=Ed CA', ca: true, issuer: edRoot, alg: 'Ed25519' });
    const edLeaf = await issue({ subject: 'CN=dev-ed', issuer: edInter, alg: 'Ed25519' });
    await expectVerdict({ leaf: edLeaf.pem, intermediates: [edInter.pem], roots: [edRoot.pem] }, 'ok');
    // A P-256 device key certified by an Ed25519 CA.
    const mixed = await issue({ subject: 'CN=dev-mixed', issuer: edInter });
    await expectVerdict({ leaf: mixed.pem, intermediates: [edInter.pem], roots: [edRoot.pem] }, 'ok');
    const attacker = await newKeys('Ed25519');
    const forged = await issue({ subject: 'CN=dev-ed', issuer: edInter, signingKey: attacker.privateKey });
    await expectVerdict({ leaf: forged.pem, intermediates: [edInter.pem], roots: [edRoot.pem] }, 'pki.bad_signature');
    const revoked = await crl(edInter, [edLeaf.cert.serialNumber]);
    await expectVerdict(
      { leaf: edLeaf.pem, intermediates: [edInter.pem], roots: [edRoot.pem], crls: [revoked] },
      'pki.revoked',
    );
  });

  it('validates RSA chains through the WebCrypto engine and refuses a forged RSA signature', async () => {
    const rsaRoot = await issue({ subject: 'CN=RSA Root', ca: true, alg: 'RSA' });
    const l = await issue({ subject: 'CN=dev-rsa', issuer: rsaRoot });
    await expectVerdict({ leaf: l.pem, roots: [rsaRoot.pem] }, 'ok');
    const damaged = Uint8Array.from(l.der);
    damaged[damaged.length - 3] = (damaged[damaged.length - 3] ?? 0) ^ 0x01;
    const r = await verifyChain({ leaf: damaged, roots: [rsaRoot.pem] });
    expect(r.reason).toBe('pki.bad_signature');
  });

  describe('revocation', () => {
    it('refuses a leaf revoked on its issuer CRL and accepts one that is not listed', async () => {
      const list = await crl(inter, [leaf.cert.serialNumber]);
      await expectVerdict(
        { leaf: leaf.pem, intermediates: [inter.pem], roots: [root.pem], crls: [list] },
        'pki.revoked',
      );
      const clean = await crl(inter, ['7777']);
      await expectVerdict({ leaf: leaf.pem, intermediates: [inter.pem], roots: [root.pem], crls: [clean] }, 'ok');
    });

    it('refuses an intermediate revoked by the root', async () => {
      const rootCrl = await crl(root, [inter.cert.serialNumber]);
      const r = await verifyChain({ leaf: leaf.pem, intermediates: [inter.pem], roots: [root.pem], crls: [rootCrl] });
      expect(r.reason).toBe('pki.revoked');
    });

    it('refuses a CRL signed by the wrong key rather than ignoring it (pki.crl_invalid)', async () => {
      const attacker = await newKeys();
      const forgedEmpty = await crl(inter, [], { signingKey: attacker.privateKey });
      await expectVerdict(
        { leaf: leaf.pem, intermediates: [inter.pem], roots: [root.pem], crls: [forgedEmpty] },
        'pki.crl_invalid',
      );
      const forgedRevoking = await crl(inter, [leaf.cert.serialNumber], { signingKey: attacker.privateKey });
      const r = await verifyChain({
        leaf: leaf.pem,
        intermediates: [inter.pem],
        roots: [root.pem],
        crls: [forgedRevoking],
      });
      expect(r.valid).toBe(false);
      expect(r.reason).toBe('pki.crl_invalid');
    });

    it('refuses a stale CRL (past nextUpdate) instead of silently skipping it', async () => {
      const now = Date.now();
      const stale = await crl(inter, [leaf.cert.serialNumber], {
        thisUpdate: new Date(now - 10 * DAY),
        nextUpdate: new Date(now - DAY),
      });
      await expectVerdict(
        { leaf: leaf.pem, intermediates: [inter.pem], roots: [root.pem], crls: [stale] },
        'pki.crl_stale',
      );
    });

    it('bounds the validity it reports by every certificate of the path and the CRLs checked against it', async () => {
      const now = Date.now();
      const at = (ms: number) => new Date(Math.floor((now + ms) / 1000) * 1000);
      const ca = await issue({
        subject: 'CN=Window CA',
        ca: true,
        issuer: root,
        notBefore: at(-DAY / 2),
        notAfter: at(20 * DAY),
      });
      const l = await issue({ subject: 'CN=dev-window', issuer: ca, notBefore: at(-3 * DAY), notAfter: at(30 * DAY) });
      const input = { leaf: l.pem, intermediates: [ca.pem], roots: [root.pem] };
      // The root (valid from a day ago) starts earlier than the CA, the leaf ends later.
      expect((await verifyChain(input)).validity).toEqual({ notBefore: at(-DAY / 2), notAfter: at(20 * DAY) });
      const list = await crl(ca, [], { thisUpdate: at(-DAY / 4), nextUpdate: at(5 * DAY) });
      const unrelated = await crl(await issue({ subject: 'CN=Other CA', ca: true }), [], { nextUpdate: at(DAY) });
      const r = await verifyChain({ ...input, crls: [list, unrelated] });
      expect(r.reason).toBe('ok');
      expect(r.validity).toEqual({ notBefore: at(-DAY / 4), notAfter: at(5 * DAY) });
      const late = await verifyChain({ ...input, time: at(25 * DAY) });
      expect(late).toMatchObject({ valid: false, reason: 'pki.expired' });
      expect(late.validity).toBeUndefined();
    });

    it('ignores a CRL of an unrelated issuer', async () => {
      const other = await issue({ subject: 'CN=Unrelated CA', ca: true });
      const r = await verifyChain({
        leaf: leaf.pem,
        intermediates: [inter.pem],
        roots: [root.pem],
        crls: [await crl(other, [leaf.cert.serialNumber])],
      });
      expect(r.reason).toBe('ok');
    });
  });

  describe('depth, usage and purpose', () => {
    it('refuses more intermediates than maxChainDepth allows (pki.depth)', async () => {
      const ca1 = await issue({ subject: 'CN=Level 1 CA', ca: true, issuer: root });
      const ca2 = await issue({ subject: 'CN=Level 2 CA', ca: true, issuer: ca1 });
      const l = await issue({ subject: 'CN=dev-deep', issuer: ca2 });
      const input = { leaf: l.pem, intermediates: [ca2.pem, ca1.pem], roots: [root.pem] };
      await expectVerdict({ ...input, maxChainDepth: 2 }, 'ok');
      await expectVerdict({ ...input, maxChainDepth: 1 }, 'pki.depth');
      await expectVerdict({ ...input, maxChainDepth: 0 }, 'pki.depth');
    });

    it("enforces a CA's pathLenConstraint (RFC 5280 §4.2.1.9)", async () => {
      const sub = await issue({ subject: 'CN=Sub CA under pathLen 0', ca: true, issuer: inter });
      const l = await issue({ subject: 'CN=dev-sub', issuer: sub });
      await expectVerdict({ leaf: l.pem, intermediates: [sub.pem, inter.pem], roots: [root.pem] }, 'pki.depth');
    });

    it('refuses a leaf without the required extended key usage (pki.eku)', async () => {
      const server = await issue({ subject: 'CN=dev-srv', issuer: inter, eku: [EKU.serverAuth] });
      const input = { leaf: server.pem, intermediates: [inter.pem], roots: [root.pem] };
      await expectVerdict({ ...input, extendedKeyUsage: [EKU.clientAuth] }, 'pki.eku');
      await expectVerdict(input, 'ok');
      await expectVerdict({ ...input, leaf: leaf.pem, extendedKeyUsage: [EKU.clientAuth] }, 'ok');
      // A leaf with no EKU at all does not satisfy an explicit requirement (device certificates must declare it).
      const none = await issue({ subject: 'CN=dev-noeku', issuer: inter });
      const r = await verifyChain({ ...input, leaf: none.pem, extendedKeyUsage: [EKU.clientAuth] });
      expect(r.reason).toBe('pki.eku');
    });

    it('refuses a leaf whose keyUsage lacks digitalSignature (pki.key_usage)', async () => {
      const encOnly = await issue({ subject: 'CN=dev-enc', issuer: inter, keyUsage: KeyUsage.keyEncipherment });
      const input = {
        leaf: encOnly.pem,
        intermediates: [inter.pem],
        roots: [root.pem],
        extendedKeyUsage: [EKU.clientAuth],
      };
      await expectVerdict(input, 'pki.key_usage');
      expect((await verifyChain({ ...input, extendedKeyUsage: [], requireDigitalSignature: false })).reason).toBe('ok');
    });

    it('refuses an unknown critical extension on the leaf (pki.unsupported)', async () => {
      const odd = await issue({
        subject: 'CN=dev-odd',
        issuer: inter,
        extraExtensions: [new x509.Extension('1.3.6.1.4.1.55555.1', true, new Uint8Array([5, 0]))],
      });
      await expectVerdict({ leaf: odd.pem, intermediates: [inter.pem], roots: [root.pem] }, 'pki.unsupported');
    });
  });

  describe('hostile input', () => {
    it('rejects garbage as pki.malformed without throwing', async () => {
      for (const bad of [
        'not a pem',
        '-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----',
        '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
        new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]),
        new Uint8Array(0),
        `${leaf.pem}${leaf.pem}`,
      ]) {
        const r = await verifyChain({ leaf: bad, roots: [root.pem] });
        expect(r).toMatchObject({ valid: false, reason: 'pki.malformed', chain: [] });
      }
      expect((await verifyChain({ leaf: leaf.pem, roots: [] })).reason).toBe('pki.malformed');
      expect((await verifyChain({ leaf: leaf.pem, roots: [root.pem], crls: ['junk'] })).reason).toBe('pki.malformed');
      const trailing = new Uint8Array([...leaf.der, 0]);
      expect((await verifyChain({ leaf: trailing, roots: [root.pem] })).reason).toBe('pki.malformed');
    });

    it('never accepts a leaf with any single byte changed, and never throws', async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: leaf.der.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
          const mutated = Uint8Array.from(leaf.der);
          mutated[at] = (mutated[at] ?? 0) ^ xor;
          const r = await verifyChain({ leaf: mutated, intermediates: [inter.pem], roots: [root.pem] });
          return !r.valid && r.reason !== 'ok';
        }),
        { numRuns: 150 },
      );
    });

    it('accepts only the canonical DER encoding of the ECDSA signature (no malleable padding)', async () => {
      // Every byte of the signature BIT STRING (unused-bits octet, INTEGER padding PKI.js alone would ignore), after
      // the unmodified leaf was validated, so no remembered verdict may leak to a variant.
      expect((await verifyChain({ leaf: leaf.der, intermediates: [inter.pem], roots: [root.pem] })).valid).toBe(true);
      const sigStart = leaf.der.length - 75;
      for (let at = sigStart; at < leaf.der.length; at++) {
        const mutated = Uint8Array.from(leaf.der);
        mutated[at] = (mutated[at] ?? 0) ^ 0x01;
        const r = await verifyChain({ leaf: mutated, intermediates: [inter.pem], roots: [root.pem] });
        expect(r.valid, `byte ${at}`).toBe(false);
      }
    });

    it('rejects random bytes and random PEM bodies as pki.malformed', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 600 }), async (bytes) => {
          const asDer = await verifyChain({ leaf: bytes, roots: [root.pem] });
          const asPem = await verifyChain({
            leaf: x509.PemConverter.encode(bytes.slice().buffer, 'CERTIFICATE'),
            roots: [root.pem],
          });
          return asDer.reason === 'pki.malformed' && asPem.reason === 'pki.malformed';
        }),
        { numRuns: 200 },
      );
    });

    it('refuses a certificate whose unsigned outer signature algorithm differs from the signed one', async () => {
      // ecdsa-with-SHA256 (…04 03 02) → ecdsa-with-SHA384 (…04 03 03) in the outer AlgorithmIdentifier only.
      const der = Buffer.from(leaf.der);
      const oid = Buffer.from('06082a8648ce3d040302', 'hex');
      const outer = der.lastIndexOf(oid);
      expect(outer).toBeGreaterThan(der.indexOf(oid));
      der[outer + oid.length - 1] = 0x03;
      const r = await verifyChain({ leaf: new Uint8Array(der), intermediates: [inter.pem], roots: [root.pem] });
      expect(r.reason).toBe('pki.malformed');
    });

    it('bounds path building: too many intermediates are refused up front', async () => {
      const bundle = Array.from({ length: 17 }, () => inter.pem).join('');
      const r = await verifyChain({ leaf: leaf.pem, intermediates: [bundle], roots: [root.pem] });
      expect(r.reason).toBe('pki.path_budget');
    });

    it('terminates on a cross-signed cycle of intermediates', async () => {
      const ka = await newKeys();
      const kb = await newKeys();
      const aSigner = { subject: 'CN=Cycle A', keys: ka } as Issued;
      const bSigner = { subject: 'CN=Cycle B', keys: kb } as Issued;
      const a = await issue({ subject: 'CN=Cycle A', keys: ka, ca: true, issuer: await stub(bSigner) });
      const b = await issue({ subject: 'CN=Cycle B', keys: kb, ca: true, issuer: await stub(aSigner) });
      const l = await issue({ subject: 'CN=dev-cycle', issuer: a });
      const started = performance.now();
      const r = await verifyChain({ leaf: l.pem, intermediates: [a.pem, b.pem], roots: [root.pem] });
      expect(r.valid).toBe(false);
      expect(['pki.path_budget', 'pki.untrusted']).toContain(r.reason);
      expect(performance.now() - started).toBeLessThan(5000);
    });

    it('bounds work on a bundle of many same-name candidate issuers', async () => {
      const decoys = await Promise.all(
        Array.from({ length: 15 }, () => issue({ subject: inter.subject, ca: true, issuer: root })),
      );
      const l = await issue({ subject: 'CN=dev-decoy', issuer: inter });
      const started = performance.now();
      const r = await verifyChain({
        leaf: l.pem,
        intermediates: [...decoys.map((d) => d.pem), inter.pem],
        roots: [root.pem],
      });
      expect(r.reason).toBe('ok');
      expect(performance.now() - started).toBeLessThan(5000);
    });
  });
});

/** A certificate object carrying only a subject and keys, to issue under a name that has no certificate yet. */
async function stub(s: Issued): Promise<Issued> {
  const c = await issue({ subject: s.subject, keys: s.keys, ca: true });
  return { ...c, keys: s.keys };
}

it('openssl is available for verdict comparison (skipped comparisons otherwise)', () => {
  if (!HAVE_OPENSSL) {
    console.warn('openssl not found: verdicts were not compared with `openssl verify`');
    return;
  }
  expect(execFileSync('openssl', ['version'], { encoding: 'utf8' })).toMatch(/OpenSSL/);
});
