import { ProtocolError } from '@palisade/firmware-protocol';

/**
 * PEM/DER input handling for the path validator. Input comes from operators (CLI, config) and from devices (TLS
 * client certificates, COSE x5chain), so every size is bounded before anything is decoded.
 */

/** Largest single certificate or CRL accepted, DER bytes. Device certificates are ~600 bytes; CRLs can grow. */
export const MAX_DER_BYTES = 256 * 1024;
/** Largest PEM text accepted in one string (a bundle of certificates). */
export const MAX_PEM_CHARS = 1024 * 1024;

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Extracts the DER bodies of every PEM block with one of the given labels. Text outside blocks is ignored
 * (as OpenSSL does: bundles often carry `subject=` comment lines). Throws `pki.malformed` when no block is found
 * or a block's body is not clean base64.
 */
export function pemBlocks(text: string, labels: readonly string[]): Uint8Array[] {
  if (text.length > MAX_PEM_CHARS) {
    throw new ProtocolError('pki.malformed', 'PEM text too large', { details: { chars: text.length } });
  }
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const label = m[1] ?? '';
    if (!labels.includes(label)) continue;
    const body = (m[2] ?? '').replace(/\s+/g, '');
    if (body.length === 0 || body.length % 4 !== 0 || !BASE64_BODY.test(body)) {
      throw new ProtocolError('pki.malformed', `PEM ${label} block is not valid base64`);
    }
    const der = new Uint8Array(Buffer.from(body, 'base64'));
    if (der.length > MAX_DER_BYTES) {
      throw new ProtocolError('pki.malformed', `PEM ${label} block too large`, { details: { bytes: der.length } });
    }
    out.push(der);
  }
  if (out.length === 0) {
    throw new ProtocolError('pki.malformed', `no PEM ${labels.join('/')} block found`);
  }
  return out;
}

/** One or more DER objects from a PEM string (possibly a bundle) or a single DER byte array. */
export function derObjects(input: string | Uint8Array, labels: readonly string[]): Uint8Array[] {
  if (typeof input === 'string') return pemBlocks(input, labels);
  if (input instanceof Uint8Array) {
    if (input.length === 0 || input.length > MAX_DER_BYTES) {
      throw new ProtocolError('pki.malformed', 'DER object empty or too large', { details: { bytes: input.length } });
    }
    return [input];
  }
  throw new ProtocolError('pki.malformed', 'certificate input must be a PEM string or DER bytes');
}

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
