import 'reflect-metadata';
import { createPublicKey, type KeyObject, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { isDeviceId } from '@palisade/shared';
import * as x509 from '@peculiar/x509';
import { ProtocolError } from '../errors.js';
import { DEVICE_URI_PREFIX, normaliseSerial } from './certificates.js';
import { keyTypeOf, type PkiKeyType } from './keys.js';
import { toPem } from './pem.js';

/**
 * Reading certificates and CRLs received from elsewhere (devices, operators, files). Every failure is a
 * {@link ProtocolError} `pki.malformed` (or `pki.unsupported` for key types the protocol does not use).
 * @see PROTOCOL.md §9 (pki.* codes)
 */

/** Certificates and CRLs larger than this are refused before parsing (a device chain is well under 2 KiB each). */
export const MAX_PKI_OBJECT_BYTES = 64 * 1024;

export interface ParsedCertificate {
  pem: string;
  der: Uint8Array;
  serial: string;
  subject: string;
  /** The subject's first CN, if any. */
  commonName?: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  keyType: PkiKeyType;
  /** Device id from the SAN URI `urn:palisade:device:<id>`, when present and well-formed. */
  deviceId?: string;
  dnsNames: string[];
  ipAddresses: string[];
  isCa: boolean;
  pathLength?: number;
  /** keyUsage flag names (`digitalSignature`, `keyCertSign`, ...); empty when the extension is absent. */
  keyUsage: string[];
  /** Extended key usage OIDs (`1.3.6.1.5.5.7.3.2` = clientAuth). */
  extendedKeyUsage: string[];
  subjectKeyId?: string;
  authorityKeyId?: string;
}

function malformed(what: string, cause: unknown): ProtocolError {
  return new ProtocolError('pki.malformed', `${what} does not parse`, { cause });
}

function checkInput(input: string | Uint8Array, what: string): string | Uint8Array {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    throw new ProtocolError('pki.malformed', `${what} must be PEM text or DER bytes`);
  }
  if (input.length === 0 || input.length > MAX_PKI_OBJECT_BYTES) {
    throw new ProtocolError('pki.malformed', `${what} must be 1 to ${MAX_PKI_OBJECT_BYTES} bytes`);
  }
  // PEM read from a file as bytes is still PEM.
  if (input instanceof Uint8Array && input[0] === 0x2d) return Buffer.from(input).toString('latin1');
  return input;
}

function toBufferSource(input: string | Uint8Array): string | ArrayBuffer {
  if (typeof input === 'string') return input;
  return input.buffer.slice(input.byteOffset, input.byteOffset + input.byteLength) as ArrayBuffer;
}

const KEY_USAGE_NAMES: readonly [x509.KeyUsageFlags, string][] = [
  [x509.KeyUsageFlags.digitalSignature, 'digitalSignature'],
  [x509.KeyUsageFlags.nonRepudiation, 'nonRepudiation'],
  [x509.KeyUsageFlags.keyEncipherment, 'keyEncipherment'],
  [x509.KeyUsageFlags.dataEncipherment, 'dataEncipherment'],
  [x509.KeyUsageFlags.keyAgreement, 'keyAgreement'],
  [x509.KeyUsageFlags.keyCertSign, 'keyCertSign'],
  [x509.KeyUsageFlags.cRLSign, 'cRLSign'],
  [x509.KeyUsageFlags.encipherOnly, 'encipherOnly'],
  [x509.KeyUsageFlags.decipherOnly, 'decipherOnly'],
];

/** Parses an X.509 certificate (PEM text, PEM bytes or DER). Does not check any signature or validity. */
export function parseCertificate(input: string | Uint8Array): ParsedCertificate {
  const data = checkInput(input, 'certificate');
  let cert: x509.X509Certificate;
  let publicKey: KeyObject;
  try {
    cert = new x509.X509Certificate(toBufferSource(data));
    publicKey = createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
  } catch (e) {
    throw malformed('certificate', e);
  }
  try {
    return describe(cert, publicKey);
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    throw malformed('certificate extensions', e);
  }
}

function describe(cert: x509.X509Certificate, publicKey: KeyObject): ParsedCertificate {
  const keyType = keyTypeOf(publicKey);
  const parsed: ParsedCertificate = {
    pem: toPem(new Uint8Array(cert.rawData), 'CERTIFICATE'),
    der: new Uint8Array(cert.rawData),
    serial: normaliseSerial(cert.serialNumber),
    subject: cert.subject,
    issuer: cert.issuer,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    publicKey,
    keyType,
    dnsNames: [],
    ipAddresses: [],
    isCa: false,
    keyUsage: [],
    extendedKeyUsage: [],
  };
  const cn = cert.subjectName.getField('CN')[0];
  if (cn !== undefined) parsed.commonName = cn;
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  for (const name of san?.names.items ?? []) {
    if (name.type === 'dns') parsed.dnsNames.push(name.value);
    if (name.type === 'ip') parsed.ipAddresses.push(name.value);
    if (name.type === 'url' && name.value.startsWith(DEVICE_URI_PREFIX) && parsed.deviceId === undefined) {
      const id = name.value.slice(DEVICE_URI_PREFIX.length);
      if (isDeviceId(id)) parsed.deviceId = id;
    }
  }
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (bc !== null) {
    parsed.isCa = bc.ca;
    if (bc.pathLength !== undefined) parsed.pathLength = bc.pathLength;
  }
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (ku !== null) parsed.keyUsage = KEY_USAGE_NAMES.filter(([flag]) => (ku.usages & flag) !== 0).map(([, n]) => n);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku !== null) parsed.extendedKeyUsage = eku.usages.map(String);
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski !== null) parsed.subjectKeyId = ski.keyId;
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  if (aki?.keyId !== undefined) parsed.authorityKeyId = aki.keyId;
  return parsed;
}

/** Whether `at` lies inside the certificate's validity window (inclusive, RFC 5280 §4.1.2.5). */
export function isWithinValidity(cert: Pick<ParsedCertificate, 'notBefore' | 'notAfter'>, at: Date): boolean {
  return at.getTime() >= cert.notBefore.getTime() && at.getTime() <= cert.notAfter.getTime();
}

/**
 * Whether `issuer`'s key signed `cert` and the names chain (issuer DN of `cert` = subject DN of `issuer`).
 * One link only: full path validation (policies, constraints, revocation) belongs to the gateway's verifier.
 */
export function isIssuedBy(cert: ParsedCertificate, issuer: ParsedCertificate): boolean {
  if (cert.issuer !== issuer.subject) return false;
  try {
    return new NodeX509Certificate(cert.der).verify(issuer.publicKey);
  } catch {
    return false;
  }
}

// CRLs --------------------------------------------------------------------------------------------------------------

export interface ParsedCrl {
  pem: string;
  der: Uint8Array;
  issuer: string;
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber?: number;
  revoked: { serial: string; revokedAt: Date }[];
}

/** Parses a CRL (PEM text, PEM bytes or DER). Does not check its signature: see {@link verifyCrlSignature}. */
export function parseCrl(input: string | Uint8Array): ParsedCrl {
  const data = checkInput(input, 'CRL');
  try {
    const crl = new x509.X509Crl(toBufferSource(data));
    const parsed: ParsedCrl = {
      pem: toPem(new Uint8Array(crl.rawData), 'X509 CRL'),
      der: new Uint8Array(crl.rawData),
      issuer: crl.issuer,
      thisUpdate: crl.thisUpdate,
      revoked: crl.entries.map((e) => ({ serial: normaliseSerial(e.serialNumber), revokedAt: e.revocationDate })),
    };
    if (crl.nextUpdate !== undefined) parsed.nextUpdate = crl.nextUpdate;
    const num = crl.getExtension(CRL_NUMBER_OID);
    if (num !== null) parsed.crlNumber = decodeSmallDerInteger(new Uint8Array(num.value));
    return parsed;
  } catch (e) {
    throw malformed('CRL', e);
  }
}

export function isRevoked(crl: ParsedCrl, serial: string): boolean {
  const s = normaliseSerial(serial);
  return crl.revoked.some((r) => r.serial === s);
}

/** Whether the CRL names `issuer` as its issuer and carries a valid signature by `issuer`'s key. */
export async function verifyCrlSignature(crl: ParsedCrl, issuer: ParsedCertificate): Promise<boolean> {
  if (crl.issuer !== issuer.subject) return false;
  try {
    const c = new x509.X509Crl(toBufferSource(crl.der));
    return await c.verify({ publicKey: new x509.X509Certificate(toBufferSource(issuer.der)) });
  } catch {
    return false;
  }
}

/** RFC 5280 §5.2.3 cRLNumber. */
export const CRL_NUMBER_OID = '2.5.29.20';

/** DER INTEGER for a non-negative safe integer (the CRL number). */
export function encodeSmallDerInteger(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new ProtocolError('pki.malformed', 'CRL number must be >= 0');
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return new Uint8Array([0x02, bytes.length, ...bytes]);
}

function decodeSmallDerInteger(der: Uint8Array): number {
  if (der[0] !== 0x02 || der[1] === undefined || der[1] > 7 || der.length !== der[1] + 2) {
    throw new ProtocolError('pki.malformed', 'CRL number is not a small INTEGER');
  }
  let n = 0;
  for (const b of der.subarray(2)) n = n * 256 + b;
  return n;
}
