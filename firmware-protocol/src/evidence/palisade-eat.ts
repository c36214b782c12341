import { DEVICE_ID_PATTERN } from '@palisade/shared';
import { decodeCbor, encodeCbor } from '../cbor/index.js';
import { ProtocolError } from '../errors.js';
import { checkBytes, checkInt, checkText, FieldReader } from '../messages/cbor-fields.js';
import {
  BOARD_FAMILIES,
  type BoardFamily,
  CLAIM_LIMITS,
  EAT_CLAIM,
  FIRMWARE_VERSION_PATTERN,
  type Measurement,
  type NormalisedClaims,
  PALISADE_CLAIM,
  PALISADE_EAT_PROFILE_ID,
  PALISADE_MEASUREMENT_CONTENT_TYPE,
} from './claims.js';
import { CLAIM_CODES, decodeComponent, encodeComponent } from './measurements.js';

/** The claims a device puts into Palisade EAT evidence. @see PROTOCOL.md §5.2 */
export interface PalisadeEvidenceClaims {
  nonce: Uint8Array;
  ueid: Uint8Array;
  deviceId: string;
  boardFamily: BoardFamily;
  firmwareVersion: string;
  measurements: Measurement[];
  bootCount: number;
  bootSeed: Uint8Array;
  /** Seconds since the epoch; only devices with a trustworthy clock send it. */
  issuedAt?: number;
}

/** UEID types of RFC 9711 §4.2.1 accepted by Palisade, with the lengths of what follows the type byte. */
const UEID_TYPES: ReadonlyMap<number, readonly number[]> = new Map([
  [0x01, [16, 24, 32]], // RAND
  [0x02, [6, 8]], // IEEE EUI-48 / EUI-64
]);

/** [FP-5.2-2] A ueid is 7..33 bytes: a type byte (0x01 RAND or 0x02 EUI) then a value of the length the type fixes. */
export function checkUeid(v: unknown, fail: (why: string) => Error): Uint8Array {
  const ueid = checkBytes(v, { min: CLAIM_LIMITS.ueidMin, max: CLAIM_LIMITS.ueidMax }, fail);
  const lengths = UEID_TYPES.get(ueid[0] ?? -1);
  if (lengths === undefined) throw fail('has an unknown ueid type byte');
  if (!lengths.includes(ueid.length - 1)) throw fail('has a length its ueid type does not allow');
  return ueid;
}

/** Builds the EAT claims map (integer keys, in a fixed order so that encodings are reproducible). */
export function encodePalisadeClaims(c: PalisadeEvidenceClaims): Map<number, unknown> {
  const fail = (field: string) => (why: string) =>
    new ProtocolError('evidence.bad_claim', `palisade evidence: ${field} ${why}`, { details: { field, why } });
  checkBytes(c.nonce, { min: CLAIM_LIMITS.nonceMin, max: CLAIM_LIMITS.nonceMax }, fail('nonce'));
  checkUeid(c.ueid, fail('ueid'));
  checkText(c.deviceId, { min: 1, max: 64 }, DEVICE_ID_PATTERN, fail('deviceId'));
  if (!BOARD_FAMILIES.includes(c.boardFamily)) throw fail('boardFamily')('is not a known board family');
  checkText(c.firmwareVersion, { min: 1, max: CLAIM_LIMITS.firmwareVersionMax }, FIRMWARE_VERSION_PATTERN, fail('fw'));
  checkInt(c.bootCount, 0, CLAIM_LIMITS.bootCountMax, fail('bootCount'));
  checkBytes(c.bootSeed, { min: CLAIM_LIMITS.bootSeedMin, max: CLAIM_LIMITS.bootSeedMax }, fail('bootSeed'));
  if (c.measurements.length < 1 || c.measurements.length > CLAIM_LIMITS.measurementsMax) {
    throw fail('measurements')(`must hold 1 to ${CLAIM_LIMITS.measurementsMax} entries`);
  }
  const map = new Map<number, unknown>([
    [EAT_CLAIM.eatProfile, PALISADE_EAT_PROFILE_ID],
    [EAT_CLAIM.nonce, new Uint8Array(c.nonce)],
    [EAT_CLAIM.ueid, new Uint8Array(c.ueid)],
  ]);
  if (c.issuedAt !== undefined) {
    checkInt(c.issuedAt, 0, Number.MAX_SAFE_INTEGER, fail('issuedAt'));
    map.set(EAT_CLAIM.iat, c.issuedAt);
  }
  map.set(EAT_CLAIM.bootcount, c.bootCount);
  map.set(EAT_CLAIM.bootseed, new Uint8Array(c.bootSeed));
  map.set(
    EAT_CLAIM.measurements,
    c.measurements.map((m) => [PALISADE_MEASUREMENT_CONTENT_TYPE, encodeComponentBytes(m)]),
  );
  map.set(PALISADE_CLAIM.deviceId, c.deviceId);
  map.set(PALISADE_CLAIM.boardFamily, c.boardFamily);
  map.set(PALISADE_CLAIM.firmwareVersion, c.firmwareVersion);
  return map;
}

function encodeComponentBytes(m: Measurement): Uint8Array {
  return encodeCbor(encodeComponent(m, true));
}

/**
 * Validates a Palisade EAT claims map into the normalised model. [FP-5.2-1..7]
 * Unknown claim keys are ignored (RFC 9711 §4: claims not understood MAY be ignored), within the CBOR limits.
 */
export function decodePalisadeClaims(payload: unknown): NormalisedClaims {
  const r = FieldReader.of(payload, 'palisade evidence', CLAIM_CODES);
  const nonce = r.bytes(EAT_CLAIM.nonce, 'eat_nonce', { min: CLAIM_LIMITS.nonceMin, max: CLAIM_LIMITS.nonceMax });
  const ueid = checkUeid(r.raw(EAT_CLAIM.ueid, 'ueid'), (why) => r.bad(EAT_CLAIM.ueid, 'ueid', why));
  const deviceId = r.text(PALISADE_CLAIM.deviceId, 'device-id', { min: 1, max: 64 }, DEVICE_ID_PATTERN);
  const boardFamily = r.oneOf(PALISADE_CLAIM.boardFamily, 'board-family', BOARD_FAMILIES);
  const firmwareVersion = r.text(
    PALISADE_CLAIM.firmwareVersion,
    'firmware-version',
    { min: 1, max: CLAIM_LIMITS.firmwareVersionMax },
    FIRMWARE_VERSION_PATTERN,
  );
  const bootCount = r.int(EAT_CLAIM.bootcount, 'bootcount', 0, CLAIM_LIMITS.bootCountMax);
  const bootSeed = r.bytes(EAT_CLAIM.bootseed, 'bootseed', {
    min: CLAIM_LIMITS.bootSeedMin,
    max: CLAIM_LIMITS.bootSeedMax,
  });
  const issuedAt = r.optInt(EAT_CLAIM.iat, 'iat', 0, Number.MAX_SAFE_INTEGER);
  const entries = r.array(EAT_CLAIM.measurements, 'measurements', { min: 1, max: CLAIM_LIMITS.measurementsMax });
  const measurements = entries.map((e, i) => decodeMeasurementEntry(e, i, r));
  const claims: NormalisedClaims = {
    profile: 'palisade-eat/1',
    nonce,
    ueid,
    deviceId,
    boardFamily,
    firmwareVersion,
    measurements,
    bootCount,
    bootSeed,
  };
  if (issuedAt !== undefined) claims.issuedAt = issuedAt;
  return claims;
}

/** [FP-5.2-5] Each measurements entry is `[content-type, bstr .cbor measured-component]`. */
function decodeMeasurementEntry(e: unknown, i: number, r: FieldReader): Measurement {
  const key = EAT_CLAIM.measurements;
  if (!Array.isArray(e) || e.length !== 2) throw r.bad(key, `measurements[${i}]`, 'must be [content-type, bytes]');
  if (e[0] !== PALISADE_MEASUREMENT_CONTENT_TYPE) throw r.bad(key, `measurements[${i}]`, 'has an unknown content type');
  const bytes = checkBytes(e[1], { min: 1, max: 512 }, (why) => r.bad(key, `measurements[${i}]`, why));
  let inner: unknown;
  try {
    inner = decodeCbor(bytes);
  } catch (err) {
    throw new ProtocolError('evidence.bad_claim', `measurements[${i}] is not well-formed CBOR`, {
      cause: err,
      details: { field: `measurements[${i}]` },
    });
  }
  return decodeComponent(inner, i, true);
}
