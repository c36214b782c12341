import { createHash, createPrivateKey, createPublicKey, type KeyObject, randomBytes, sign, verify } from 'node:crypto';
import { z } from 'zod';

/**
 * Signed gateway requests: how an enrolled gateway authenticates every call to the cloud after enrollment.
 *
 * The gateway signs, with the P-256 key its cloud-issued certificate certifies, the canonical string
 *
 *     PALISADE-REQUEST-V1 \n METHOD \n PATH \n TIMESTAMP \n NONCE \n hex(sha256(body))
 *
 * (no spaces; METHOD upper-case, PATH the request target: path plus query string exactly as sent) with ES256
 * (ECDSA P-256 / SHA-256, signature as raw r‖s, 64 bytes, base64url), and sends it in four headers. The cloud
 * refuses a request when any header is missing or malformed, the gateway is unknown or revoked, the timestamp is
 * more than {@link SIGNATURE_WINDOW_SECONDS} away from its clock (stale or post-dated), the nonce was already seen
 * for that gateway within the window (replay), or the signature does not verify over the request it received
 * (forged, or body / path / method altered in transit). The body hash binds the payload, so a captured signature
 * cannot carry a different batch.
 */

export const SIGNATURE_HEADERS = {
  gateway: 'palisade-gateway',
  timestamp: 'palisade-timestamp',
  nonce: 'palisade-nonce',
  signature: 'palisade-signature',
} as const;

/** Allowed distance between the gateway's timestamp and the cloud's clock, either way. */
export const SIGNATURE_WINDOW_SECONDS = 300;

const CANONICAL_PREFIX = 'PALISADE-REQUEST-V1';

export const signatureHeadersSchema = z.object({
  gatewayId: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/),
  /** Seconds since the epoch, decimal. */
  timestamp: z.string().regex(/^\d{1,12}$/),
  /** 16 to 64 random bytes, base64url (22 to 86 characters). */
  nonce: z
    .string()
    .min(22)
    .max(86)
    .regex(/^[A-Za-z0-9_-]+$/),
  /** Raw r‖s ES256 signature, base64url: exactly 86 characters. */
  signature: z
    .string()
    .length(86)
    .regex(/^[A-Za-z0-9_-]+$/),
});
export type SignatureHeaders = z.infer<typeof signatureHeadersSchema>;

export function sha256Hex(body: Uint8Array | string): string {
  return createHash('sha256').update(body).digest('hex');
}

/** The exact bytes that are signed. */
export function canonicalRequest(parts: {
  method: string;
  path: string;
  timestamp: string;
  nonce: string;
  body: Uint8Array | string;
}): string {
  return [
    CANONICAL_PREFIX,
    parts.method.toUpperCase(),
    parts.path,
    parts.timestamp,
    parts.nonce,
    sha256Hex(parts.body),
  ].join('\n');
}

export interface SignRequestInput {
  gatewayId: string;
  /** The gateway's P-256 private key (KeyObject or PKCS#8 PEM). */
  privateKey: KeyObject | string;
  method: string;
  /** Path plus query string, exactly as the request will carry it. */
  path: string;
  body: Uint8Array | string;
  /** Now, ms since the epoch (from the caller's injected clock). */
  now: number;
  /** For deterministic tests only; defaults to 18 random bytes. */
  nonce?: string;
}

/** Signs a request; returns the four headers to send with it. Used by the gateway's sync client. */
export function signRequest(input: SignRequestInput): Record<string, string> {
  const key = typeof input.privateKey === 'string' ? createPrivateKey(input.privateKey) : input.privateKey;
  const timestamp = String(Math.floor(input.now / 1000));
  const nonce = input.nonce ?? randomBytes(18).toString('base64url');
  const data = canonicalRequest({ method: input.method, path: input.path, timestamp, nonce, body: input.body });
  const signature = sign('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return {
    [SIGNATURE_HEADERS.gateway]: input.gatewayId,
    [SIGNATURE_HEADERS.timestamp]: timestamp,
    [SIGNATURE_HEADERS.nonce]: nonce,
    [SIGNATURE_HEADERS.signature]: signature,
  };
}

/** Checks the signature only (not time, nonce or revocation: the verifier's job). */
export function verifyRequestSignature(
  publicKey: KeyObject | string,
  parts: {
    method: string;
    path: string;
    timestamp: string;
    nonce: string;
    signature: string;
    body: Uint8Array | string;
  },
): boolean {
  const key = typeof publicKey === 'string' ? createPublicKey(publicKey) : publicKey;
  const sig = Buffer.from(parts.signature, 'base64url');
  if (sig.length !== 64) return false;
  try {
    return verify('sha256', Buffer.from(canonicalRequest(parts)), { key, dsaEncoding: 'ieee-p1363' }, sig);
  } catch {
    return false;
  }
}
