import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CertificateAuthority,
  type CertifiedKey,
  createCrl,
  createDeviceIdentity,
  createIntermediateCa,
  createRootCa,
  createServerIdentity,
  generateKeyPair,
  isIssuedBy,
  isRevoked,
  isWithinValidity,
  parseCertificate,
  parseCrl,
  privateKeyFromPem,
  privateKeyToPem,
  verifyCrlSignature,
} from '../../src/pki/index.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}
const OPENSSL = hasOpenssl();
if (!OPENSSL) console.warn('openssl not found on PATH: skipping the openssl cross-checks of the PKI');

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect((e as Error).name).toBe('ProtocolError');
    return (e as { code: string }).code;
  }
  throw new Error('expected a ProtocolError');
}

let dir: string;
let root: CertificateAuthority;
let inter: CertificateAuthority;
let device: CertifiedKey;
let edDevice: CertifiedKey;
let expired: CertifiedKey;
let revoked: CertifiedKey;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-pki-'));
  root = await createRootCa();
  inter = await createIntermediateCa(root);
  device = await createDeviceIdentity(inter, { deviceId: 'nrf52-0001' });
  edDevice = await createDeviceIdentity(inter, { deviceId: 'esp32-ed', keyType: 'ed25519' });
  expired = await createDeviceIdentity(inter, { deviceId: 'old-1', expired: true });
  revoked = await createDeviceIdentity(inter, { deviceId: 'stolen-1' });
  writeFileSync(join(dir, 'root.pem'), root.certificate.pem);
  writeFileSync(join(dir, 'inter.pem'), inter.certificate.pem);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `openssl verify` and returns its combined output and whether it succeeded. */
function opensslVerify(leafPem: string, extra: string[] = []): { ok: boolean; out: string } {
  const leaf = join(dir, `leaf-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(leaf, leafPem);
  try {
    const out = execFileSync(
      'openssl',
      ['verify', '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'inter.pem'), ...extra, leaf],
      { stdio: 'pipe' },
    ).toString();
    return { ok: true, out };
  } catch (e) {
    const err = e as { stdout: Buffer; stderr: Buffer };
    return { ok: false, out: `${err.stdout.toString()}${err.stderr.toString()}` };
  }
}

describe('device PKI certificates', () => {
  it('binds a device certificate to its device id (CN and SAN URI) with digitalSignature and clientAuth', () => {
    const p = parseCertificate(device.certificate.pem);
    expect(p.commonName).toBe('nrf52-0001');
    expect(p.deviceId).toBe('nrf52-0001');
    expect(p.keyUsage).toEqual(['digitalSignature']);
    expect(p.extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(p.isCa).toBe(false);
    expect(p.issuer).toBe(inter.certificate.subject);
    expect(p.serial).toBe(device.certificate.serial);
    expect(p.keyType).toBe('p256');
    expect(p.publicKey.equals(device.publicKey)).toBe(true);
    expect(p.authorityKeyId).toBe(parseCertificate(inter.certificate.der).subjectKeyId);
  });

  it('issues Ed25519 device certificates', () => {
    const p = parseCertificate(edDevice.certificate.der);
    expect(p.keyType).toBe('ed25519');
    expect(p.publicKey.equals(edDevice.publicKey)).toBe(true);
  });

  it('makes CA certificates with basicConstraints and path lengths', () => {
    const r = parseCertificate(root.certificate.pem);
    const i = parseCertificate(inter.certificate.pem);
    expect([r.isCa, r.pathLength, i.isCa, i.pathLength]).toEqual([true, 1, true, 0]);
    expect(r.keyUsage).toEqual(['keyCertSign', 'cRLSign']);
    expect(r.subject).toBe(r.issuer);
  });

  it('checks each link of the chain and refuses a certificate against the wrong issuer', () => {
    const [r, i, d] = [root, inter, device].map((c) => parseCertificate(c.certificate.der)) as [
      ReturnType<typeof parseCertificate>,
      ReturnType<typeof parseCertificate>,
      ReturnType<typeof parseCertificate>,
    ];
    expect(isIssuedBy(d, i)).toBe(true);
    expect(isIssuedBy(i, r)).toBe(true);
    expect(isIssuedBy(r, r)).toBe(true);
    expect(isIssuedBy(d, r)).toBe(false);
  });

  it('honours fixed validity windows and builds already-expired certificates', async () => {
    const notBefore = new Date('2026-01-01T00:00:00Z');
    const notAfter = new Date('2027-01-01T00:00:00Z');
    const fixed = await createDeviceIdentity(inter, { deviceId: 'fixed-1', notBefore, notAfter, serial: '0a0b0c' });
    const p = parseCertificate(fixed.certificate.pem);
    expect([p.notBefore.toISOString(), p.notAfter.toISOString(), p.serial]).toEqual([
      notBefore.toISOString(),
      notAfter.toISOString(),
      '0a0b0c',
    ]);
    expect(isWithinValidity(parseCertificate(expired.certificate.pem), new Date())).toBe(false);
    expect(isWithinValidity(p, new Date('2026-06-01T00:00:00Z'))).toBe(true);
  });

  it('issues TLS server certificates with DNS and IP names and serverAuth', async () => {
    const server = await createServerIdentity(inter, {
      commonName: 'gateway-1',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    const p = parseCertificate(server.certificate.pem);
    expect(p.dnsNames).toEqual(['localhost']);
    expect(p.ipAddresses).toEqual(['127.0.0.1']);
    expect(p.extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new X509Certificate(server.certificate.pem).checkHost('localhost')).toBe('localhost');
    expect(new X509Certificate(server.certificate.pem).checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('round-trips private keys through PEM', () => {
    const k = generateKeyPair('ed25519');
    const back = privateKeyFromPem(privateKeyToPem(k.privateKey));
    expect(back.type).toBe('ed25519');
    expect(back.publicKey.equals(k.publicKey)).toBe(true);
  });

  it('rejects bad input with pki.* codes', async () => {
    expect(code(() => parseCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'))).toBe(
      'pki.malformed',
    );
    expect(code(() => parseCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])))).toBe('pki.malformed');
    expect(code(() => parseCertificate(new Uint8Array(0)))).toBe('pki.malformed');
    expect(code(() => parseCertificate(new Uint8Array(70_000)))).toBe('pki.malformed');
    expect(code(() => parseCrl('not a crl'))).toBe('pki.malformed');
    expect(code(() => privateKeyFromPem('nope'))).toBe('pki.malformed');
    await expect(createDeviceIdentity(inter, { deviceId: 'bad/id' })).rejects.toMatchObject({ code: 'pki.malformed' });
    await expect(createServerIdentity(inter, { commonName: 'x' })).rejects.toMatchObject({ code: 'pki.malformed' });
  });

  it('refuses RSA subject keys as pki.unsupported', () => {
    const rsa = execFileSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      '/dev/null',
      '-subj',
      '/CN=rsa',
      '-days',
      '1',
    ]).toString();
    expect(code(() => parseCertificate(rsa))).toBe('pki.unsupported');
  }, 20_000);
});

describe('CRLs', () => {
  it('lists revoked serials, carries a CRL number and verifies against its issuer only', async () => {
    const crl = await createCrl(inter, { revoked: [{ serial: revoked.certificate.serial }], crlNumber: 7 });
    const back = parseCrl(crl.pem);
    expect(back.crlNumber).toBe(7);
    expect(isRevoked(back, revoked.certificate.serial)).toBe(true);
    expect(isRevoked(back, device.certificate.serial)).toBe(false);
    expect(await verifyCrlSignature(back, parseCertificate(inter.certificate.pem))).toBe(true);
    expect(await verifyCrlSignature(back, parseCertificate(root.certificate.pem))).toBe(false);
  });
});

describe.skipIf(!OPENSSL)('openssl agrees with the PKI', () => {
  it('verifies device chains (P-256 and Ed25519 leaves) up to the root', () => {
    for (const leaf of [device, edDevice]) {
      const r = opensslVerify(leaf.certificate.pem, ['-purpose', 'sslclient']);
      expect(r.out).toContain(': OK');
      expect(r.ok).toBe(true);
    }
  });

  it('refuses an expired device certificate', () => {
    const r = opensslVerify(expired.certificate.pem);
    expect(r.ok).toBe(false);
    expect(r.out).toContain('certificate has expired');
  });

  it('refuses a leaf whose chain is missing the intermediate', () => {
    const leaf = join(dir, 'orphan.pem');
    writeFileSync(leaf, device.certificate.pem);
    expect(() =>
      execFileSync('openssl', ['verify', '-CAfile', join(dir, 'root.pem'), leaf], { stdio: 'pipe' }),
    ).toThrow();
  });

  it('with -crl_check, refuses the revoked serial and accepts the others', async () => {
    const crl = await createCrl(inter, { revoked: [{ serial: revoked.certificate.serial }] });
    const crlPath = join(dir, 'inter.crl.pem');
    writeFileSync(crlPath, crl.pem);
    const bad = opensslVerify(revoked.certificate.pem, ['-crl_check', '-CRLfile', crlPath]);
    expect(bad.ok).toBe(false);
    expect(bad.out).toContain('certificate revoked');
    const good = opensslVerify(device.certificate.pem, ['-crl_check', '-CRLfile', crlPath]);
    expect(good.out).toContain(': OK');
  });

  it('verifies a server certificate for TLS server use', async () => {
    const server = await createServerIdentity(inter, { commonName: 'gw', dnsNames: ['gw.local'] });
    const r = opensslVerify(server.certificate.pem, ['-purpose', 'sslserver']);
    expect(r.ok).toBe(true);
  });
});
