import { PalisadeError } from '@palisade/shared';

/**
 * Reason codes of the device protocol. They are normative (PROTOCOL.md §Reason codes): they travel in result
 * messages, alerts and logs, and tests assert on them. Append new codes; never rename one.
 */
export const PROTOCOL_REASON_CODES = [
  // CBOR layer (PROTOCOL.md §Encoding)
  'cbor.malformed',
  'cbor.too_large',
  'cbor.too_deep',
  'cbor.too_many_items',
  'cbor.trailing_bytes',
  'cbor.unsupported',
  // COSE layer (PROTOCOL.md §Evidence)
  'cose.malformed',
  'cose.unsupported_alg',
  'cose.bad_signature',
  'cose.bad_key',
  'cose.header_conflict',
  // message layer (PROTOCOL.md §Messages)
  'message.schema',
  'message.unknown_type',
  'message.topic',
  // evidence claims (PROTOCOL.md §Claims)
  'evidence.schema',
  'evidence.unknown_profile',
  'evidence.missing_claim',
  'evidence.bad_claim',
  // attestation results (PROTOCOL.md §Results)
  'ear.malformed',
  'ear.bad_signature',
  // certificates (PROTOCOL.md §Identity)
  'pki.malformed',
  'pki.unsupported',
  // attestation results, appended by issue 2 (PROTOCOL.md §8)
  'ear.expired',
  'ear.unsupported_alg',
] as const;

export type ProtocolReasonCode = (typeof PROTOCOL_REASON_CODES)[number];

/** Any rejection by the device-protocol layer: decoders, COSE, claims, results. */
export class ProtocolError extends PalisadeError<ProtocolReasonCode> {
  override readonly name = 'ProtocolError';
}

export function isProtocolError(e: unknown): e is ProtocolError {
  return e instanceof ProtocolError;
}
