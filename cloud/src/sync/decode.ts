import type { KeyObject } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { type EarClaims, earClaimsSchema, type SyncBatch, syncBatchSchema, ValidationError } from '@palisade/shared';
import { Decoder } from 'cbor-x';
import { compactVerify } from 'jose';

const cbor = new Decoder({ mapsAsObjects: true, useRecords: false });

/**
 * Undoes `Content-Encoding: gzip` (the gateway's sync client compresses its batches). The signature covers the bytes
 * as sent, so this runs after authentication; the inflated size is bounded by `maxBytes` too, so a small body cannot
 * expand into gigabytes (a "zip bomb").
 */
export function decodeContentEncoding(body: Uint8Array, encoding: string | undefined, maxBytes: number): Uint8Array {
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  if (enc === 'identity' || enc === '') return body;
  if (enc !== 'gzip') {
    throw new ValidationError('validation.unsupported_media_type', 'Content-Encoding must be gzip or identity', {
      details: { contentEncoding: encoding ?? null },
    });
  }
  try {
    return gunzipSync(body, { maxOutputLength: maxBytes });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ValidationError('validation.body_too_large', `inflated body exceeds ${maxBytes} bytes`, {
        details: { maxBytes },
      });
    }
    throw new ValidationError('validation.malformed_body', 'body is not valid gzip', { cause: e });
  }
}

/** Decodes a batch body (JSON or CBOR by Content-Type) and validates it against the shared contract. */
export function decodeBatch(body: Uint8Array, contentType: string | undefined): SyncBatch {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  let value: unknown;
  try {
    if (type === 'application/json') value = JSON.parse(Buffer.from(body).toString('utf8'));
    else if (type === 'application/cbor') value = cbor.decode(body);
    else {
      throw new ValidationError('validation.unsupported_media_type', 'send application/json or application/cbor', {
        details: { contentType: contentType ?? null },
      });
    }
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw new ValidationError('validation.malformed_body', `body is not valid ${type}`, { cause: e });
  }
  const parsed = syncBatchSchema.safeParse(value);
  if (!parsed.success) {
    throw new ValidationError('validation.batch', 'batch does not match the sync contract', {
      details: {
        issues: parsed.error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.'), message: i.message })),
      },
    });
  }
  return parsed.data;
}

export interface VerifiedResult {
  claims: EarClaims;
  jwt: string;
}

/**
 * Verifies a gateway-signed attestation result: ES256 over the JWT with the key of the gateway's own certificate
 * (so a result signed by any other key, or altered, is refused), claims valid per the EAR profile, issued by this
 * gateway, and `jti` equal to the record id. Time claims are not checked against now: a result synced late is still
 * the record of what was appraised then.
 */
export async function verifyAttestationJwt(
  jwt: string,
  key: KeyObject,
  gatewayId: string,
  recordId: string,
): Promise<VerifiedResult> {
  const refuse = (reason: string, cause?: unknown) =>
    new ValidationError('validation.attestation_result', `attestation result ${recordId}: ${reason}`, {
      details: { recordId, reason },
      ...(cause === undefined ? {} : { cause }),
    });
  let payload: Uint8Array;
  try {
    const verified = await compactVerify(jwt, key, { algorithms: ['ES256'] });
    payload = verified.payload;
  } catch (e) {
    throw refuse('signature does not verify with the gateway key', e);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch (e) {
    throw refuse('payload is not JSON', e);
  }
  const parsed = earClaimsSchema.safeParse(value);
  if (!parsed.success) throw refuse('claims do not match the EAR profile');
  if (parsed.data.iss !== gatewayId) throw refuse('issued by another gateway');
  if (parsed.data.jti !== recordId) throw refuse('jti differs from the record id');
  return { claims: parsed.data, jwt };
}
