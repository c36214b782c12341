import { createHash } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { remember } from './bounded-map.js';
import { derObjects } from './pem.js';

/** Strict decoding of certificates and CRLs for the validator: DER envelope, one object, consistent algorithms. */

/**
 * One TLV with a definite, minimally encoded length (DER, X.690 §10.1). Returns the offset after it, or -1.
 * ASN.1 decoders are lenient about outer lengths; the signature covers only the inner TBS bytes, so without this
 * a certificate with a corrupted envelope would still validate.
 */
function derTlvEnd(der: Uint8Array, at: number, end: number): number {
  if (at + 2 > end || ((der[at] ?? 0) & 0x1f) === 0x1f) return -1;
  const first = der[at + 1] ?? 0;
  let len = first;
  let p = at + 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4 || p + n > end || der[p] === 0) return -1;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[p + i] ?? 0);
    if (len < 128) return -1;
    p += n;
  }
  return p + len <= end ? p + len : -1;
}

/** A SIGNED{} envelope (RFC 5280 §4.1): SEQUENCE { tbs, signatureAlgorithm, signatureValue }, exactly. */
function isSignedEnvelope(der: Uint8Array): boolean {
  if (der[0] !== 0x30 || derTlvEnd(der, 0, der.length) !== der.length) return false;
  const first = der[1] ?? 0;
  let p = 2 + (first & 0x80 ? first & 0x7f : 0);
  const tags = [0x30, 0x30, 0x03];
  for (const tag of tags) {
    if (der[p] !== tag) return false;
    p = derTlvEnd(der, p, der.length);
    if (p < 0) return false;
  }
  return p === der.length;
}

/** asn1js throws on some malformed primitives (e.g. an invalid GeneralizedTime) instead of reporting an error. */
function decodeBer(der: Uint8Array): ReturnType<typeof asn1js.fromBER> {
  try {
    return asn1js.fromBER(der);
  } catch {
    throw malformed('undecodable ASN.1');
  }
}

export function parseCertificate(der: Uint8Array): pkijs.Certificate {
  if (!isSignedEnvelope(der)) throw malformed('certificate is not a DER SIGNED structure');
  const asn = decodeBer(der);
  if (asn.offset === -1 || asn.offset !== der.byteLength) throw malformed('certificate is not one DER object');
  let cert: pkijs.Certificate;
  try {
    cert = new pkijs.Certificate({ schema: asn.result });
  } catch {
    throw malformed('not an X.509 certificate');
  }
  // RFC 5280 §4.1.1.2: the outer signatureAlgorithm (not covered by the signature) MUST equal the signed one.
  if (!sameAlgorithm(cert.signatureAlgorithm, cert.signature)) throw malformed('signature algorithm mismatch');
  return cert;
}

function sameAlgorithm(a: pkijs.AlgorithmIdentifier, b: pkijs.AlgorithmIdentifier): boolean {
  return Buffer.from(a.toSchema().toBER()).equals(Buffer.from(b.toSchema().toBER()));
}

export function parseCrl(der: Uint8Array): pkijs.CertificateRevocationList {
  if (!isSignedEnvelope(der)) throw malformed('CRL is not a DER SIGNED structure');
  const asn = decodeBer(der);
  if (asn.offset === -1 || asn.offset !== der.byteLength) throw malformed('CRL is not one DER object');
  let crl: pkijs.CertificateRevocationList;
  try {
    crl = new pkijs.CertificateRevocationList({ schema: asn.result });
  } catch {
    throw malformed('not an X.509 CRL');
  }
  // RFC 5280 §5.1.1.2, as for certificates.
  if (!sameAlgorithm(crl.signatureAlgorithm, crl.signature)) throw malformed('CRL signature algorithm mismatch');
  return crl;
}

/** Input that does not decode; the validator turns it into `pki.malformed`. */
export class MalformedInput extends Error {}
export function malformed(message: string): MalformedInput {
  return new MalformedInput(message);
}

export function certificates(inputs: readonly (string | Uint8Array)[]): pkijs.Certificate[] {
  const out: pkijs.Certificate[] = [];
  for (const input of inputs) {
    for (const der of derObjects(input, ['CERTIFICATE'])) out.push(parseCertificate(der));
  }
  return out;
}

/**
 * Parsed CA certificates (roots and intermediates) keyed by SHA-256 of their DER: they come from configuration or
 * repeat in every device's chain, so each is decoded once. Leaves are never cached.
 */
const caCache = new Map<string, pkijs.Certificate>();
const CA_CACHE_SIZE = 1024;

export function cachedCertificates(inputs: readonly (string | Uint8Array)[]): pkijs.Certificate[] {
  const out: pkijs.Certificate[] = [];
  for (const input of inputs) {
    for (const der of derObjects(input, ['CERTIFICATE'])) {
      const key = createHash('sha256').update(der).digest('base64');
      let cert = caCache.get(key);
      if (cert === undefined) {
        cert = parseCertificate(der);
        remember(caCache, key, cert, CA_CACHE_SIZE);
      }
      out.push(cert);
    }
  }
  return out;
}
