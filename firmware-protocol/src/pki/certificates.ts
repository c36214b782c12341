import 'reflect-metadata';
import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { isDeviceId } from '@palisade/shared';
import * as x509 from '@peculiar/x509';
import { ProtocolError } from '../errors.js';
import {
  generateKeyPair,
  type KeyPair,
  keyTypeOf,
  type PkiKeyType,
  publicKeyToSpki,
  signingAlgorithmFor,
  toSigningCryptoKey,
} from './keys.js';
import { toPem } from './pem.js';

/**
 * Issuing the certificates of the device PKI: a manufacturer root CA, an intermediate (issuing) CA, device
 * certificates (subject CN = device id, SAN URI `urn:palisade:device:<id>`, digitalSignature, clientAuth), and
 * server certificates for a gateway's TLS listener. @see PROTOCOL.md §3.1 [FP-3.1-3], §10 [FP-10-3]
 */

/** Prefix of the SAN URI that binds a certificate to a device id. */
export const DEVICE_URI_PREFIX = 'urn:palisade:device:';

const DAY_MS = 86_400_000;

/** A certificate in both encodings, with the fields callers most often need. */
export interface IssuedCertificate {
  pem: string;
  der: Uint8Array;
  /** Lower-case hex, as it appears on a CRL. */
  serial: string;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
}

/** A certificate together with the key pair it certifies. */
export interface CertifiedKey extends KeyPair {
  certificate: IssuedCertificate;
}

/** A CA: its certificate and signing key (only P-256 and Ed25519 CA keys are used). */
export type CertificateAuthority = CertifiedKey;

/**
 * Validity of a new certificate. Explicit `notBefore`/`notAfter` win; otherwise the window starts at `now`
 * (default: the system clock) and lasts `validityDays`. `expired` yields a window that ended a day before `now`,
 * for testing that expired identities are refused.
 */
export interface ValidityOptions {
  now?: Date;
  notBefore?: Date;
  notAfter?: Date;
  validityDays?: number;
  expired?: boolean;
}

export interface IssueOptions extends ValidityOptions {
  /** Hex serial; random 128-bit positive by default. */
  serial?: string;
}

function validity(opts: ValidityOptions, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const now = opts.now ?? new Date();
  if (opts.expired === true) {
    return {
      notBefore: opts.notBefore ?? new Date(now.getTime() - 365 * DAY_MS),
      notAfter: opts.notAfter ?? new Date(now.getTime() - DAY_MS),
    };
  }
  const notBefore = opts.notBefore ?? now;
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + (opts.validityDays ?? defaultDays) * DAY_MS);
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new ProtocolError('pki.malformed', 'notAfter must be after notBefore');
  }
  return { notBefore, notAfter };
}

/** A random positive serial (RFC 5280 §4.1.2.2: positive, at most 20 octets); the high bit is cleared. */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

function checkSerial(serial: string): string {
  if (!/^[0-9a-f]{2,40}$/i.test(serial) || serial.length % 2 !== 0) {
    throw new ProtocolError('pki.malformed', 'serial must be 1 to 20 bytes of hex');
  }
  return serial.toLowerCase();
}

/** Serials compare as numbers: leading zero octets (DER positive-sign padding) are not significant. */
export function normaliseSerial(hex: string): string {
  const s = hex.toLowerCase().replace(/^(00)+/, '');
  return s === '' ? '00' : s;
}

function dnValue(s: string, what: string): string {
  if (s.length < 1 || s.length > 64 || /[,+=<>#;"\\\n\r]/.test(s)) {
    throw new ProtocolError('pki.malformed', `${what} must be 1 to 64 characters without DN special characters`);
  }
  return s;
}

export function toIssued(cert: x509.X509Certificate): IssuedCertificate {
  return {
    pem: toPem(new Uint8Array(cert.rawData), 'CERTIFICATE'),
    der: new Uint8Array(cert.rawData),
    serial: normaliseSerial(cert.serialNumber),
    subject: cert.subject,
    issuer: cert.issuer,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

async function sign(opts: {
  issuer: CertificateAuthority | null;
  subject: string;
  subjectKey: KeyObject;
  extensions: x509.Extension[];
  window: { notBefore: Date; notAfter: Date };
  serial?: string;
  /** For self-signed certificates: the subject's private key. */
  selfKey?: KeyObject;
}): Promise<IssuedCertificate> {
  const signingKey = opts.issuer?.privateKey ?? opts.selfKey;
  if (signingKey === undefined) throw new ProtocolError('pki.malformed', 'no signing key');
  const spki = publicKeyToSpki(opts.subjectKey);
  const extensions = [...opts.extensions, await x509.SubjectKeyIdentifierExtension.create(spki)];
  const issuerSpki = opts.issuer === null ? spki : publicKeyToSpki(opts.issuer.publicKey);
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerSpki));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: checkSerial(opts.serial ?? randomSerial()),
    subject: opts.subject,
    issuer: opts.issuer === null ? opts.subject : opts.issuer.certificate.subject,
    notBefore: opts.window.notBefore,
    notAfter: opts.window.notAfter,
    publicKey: spki,
    signingKey: await toSigningCryptoKey(signingKey),
    signingAlgorithm: signingAlgorithmFor(signingKey),
    extensions,
  });
  return toIssued(cert);
}

export interface CaOptions extends IssueOptions {
  commonName?: string;
  organization?: string;
  /** Existing key pair (e.g. loaded from disk); a new P-256 key by default. */
  keyPair?: KeyPair;
}

const CA_USAGES = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

/** A self-signed manufacturer root CA (basicConstraints CA, pathLen 1; keyCertSign, cRLSign). Default 20 years. */
export async function createRootCa(opts: CaOptions = {}): Promise<CertificateAuthority> {
  const keys = opts.keyPair ?? generateKeyPair('p256');
  const subject = `CN=${dnValue(opts.commonName ?? 'Palisade Manufacturer Root CA', 'commonName')}, O=${dnValue(opts.organization ?? 'Palisade', 'organization')}`;
  const certificate = await sign({
    issuer: null,
    subject,
    subjectKey: keys.publicKey,
    selfKey: keys.privateKey,
    window: validity(opts, 20 * 365),
    extensions: [new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(CA_USAGES, true)],
    ...(opts.serial === undefined ? {} : { serial: opts.serial }),
  });
  return { ...keys, certificate };
}

/** An intermediate (issuing) CA under `root` (pathLen 0: it issues only end-entity certificates). Default 10 years. */
export async function createIntermediateCa(
  root: CertificateAuthority,
  opts: CaOptions = {},
): Promise<CertificateAuthority> {
  const keys = opts.keyPair ?? generateKeyPair('p256');
  const subject = `CN=${dnValue(opts.commonName ?? 'Palisade Device Issuing CA', 'commonName')}, O=${dnValue(opts.organization ?? 'Palisade', 'organization')}`;
  const certificate = await sign({
    issuer: root,
    subject,
    subjectKey: keys.publicKey,
    window: validity(opts, 10 * 365),
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(CA_USAGES, true)],
    ...(opts.serial === undefined ? {} : { serial: opts.serial }),
  });
  return { ...keys, certificate };
}

export interface DeviceCertificateOptions extends IssueOptions {
  deviceId: string;
  /** The device's public key (the key stays on the device). */
  publicKey: KeyObject;
  organization?: string;
}

/**
 * A device certificate: subject CN = device id [FP-3.1-3], SAN URI `urn:palisade:device:<id>`, keyUsage
 * digitalSignature (critical) so the same key may sign evidence and authenticate TLS [FP-10-3], EKU clientAuth.
 * Default validity 10 years.
 */
export async function issueDeviceCertificate(
  issuer: CertificateAuthority,
  opts: DeviceCertificateOptions,
): Promise<IssuedCertificate> {
  if (!isDeviceId(opts.deviceId)) throw new ProtocolError('pki.malformed', 'not a valid device id');
  keyTypeOf(opts.publicKey);
  return sign({
    issuer,
    subject: `CN=${opts.deviceId}, O=${dnValue(opts.organization ?? 'Palisade Devices', 'organization')}`,
    subjectKey: opts.publicKey,
    window: validity(opts, 10 * 365),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `${DEVICE_URI_PREFIX}${opts.deviceId}` }]),
    ],
    ...(opts.serial === undefined ? {} : { serial: opts.serial }),
  });
}

/** A new device key pair (P-256 by default) and its certificate. */
export async function createDeviceIdentity(
  issuer: CertificateAuthority,
  opts: Omit<DeviceCertificateOptions, 'publicKey'> & { keyType?: PkiKeyType; keyPair?: KeyPair },
): Promise<CertifiedKey> {
  const keys = opts.keyPair ?? generateKeyPair(opts.keyType ?? 'p256');
  const certificate = await issueDeviceCertificate(issuer, { ...opts, publicKey: keys.publicKey });
  return { ...keys, certificate };
}

export interface ServerCertificateOptions extends IssueOptions {
  commonName: string;
  dnsNames?: string[];
  ipAddresses?: string[];
  keyType?: PkiKeyType;
  keyPair?: KeyPair;
}

/** A TLS server certificate (e.g. a gateway's MQTT listener): SAN dNSName/iPAddress, EKU serverAuth. 2 years. */
export async function createServerIdentity(
  issuer: CertificateAuthority,
  opts: ServerCertificateOptions,
): Promise<CertifiedKey> {
  const keys = opts.keyPair ?? generateKeyPair(opts.keyType ?? 'p256');
  const names: x509.JsonGeneralName[] = [];
  for (const dns of opts.dnsNames ?? []) {
    if (!/^[A-Za-z0-9*]([A-Za-z0-9.-]{0,252})$/.test(dns)) throw new ProtocolError('pki.malformed', 'bad DNS name');
    names.push({ type: 'dns', value: dns });
  }
  for (const ip of opts.ipAddresses ?? []) {
    if (isIP(ip) === 0) throw new ProtocolError('pki.malformed', 'bad IP address');
    names.push({ type: 'ip', value: ip });
  }
  if (names.length === 0) throw new ProtocolError('pki.malformed', 'a server certificate needs a DNS name or IP');
  const certificate = await sign({
    issuer,
    subject: `CN=${dnValue(opts.commonName, 'commonName')}`,
    subjectKey: keys.publicKey,
    window: validity(opts, 2 * 365),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
    ],
    ...(opts.serial === undefined ? {} : { serial: opts.serial }),
  });
  return { ...keys, certificate };
}
