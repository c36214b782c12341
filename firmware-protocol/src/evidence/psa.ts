import { ProtocolError } from '../errors.js';
import { checkBytes, checkInt, checkText, FieldReader } from '../messages/cbor-fields.js';
import {
  CLAIM_LIMITS,
  EAT_CLAIM,
  type Measurement,
  type NormalisedClaims,
  PSA1_CLAIM,
  PSA1_PROFILE_ID,
  PSA2_CLAIM,
  PSA2_PROFILE_ID,
} from './claims.js';
import { CLAIM_CODES, decodeComponent, encodeComponent } from './measurements.js';

/** The claims of a PSA attestation token as TF-M emits them. @see PROTOCOL.md §5.3, RFC 9783 §4 */
export interface PsaEvidenceClaims {
  nonce: Uint8Array;
  /** 33 bytes: 0x01 then 32 bytes (the hash of the IAK public key). */
  instanceId: Uint8Array;
  implementationId: Uint8Array;
  bootSeed: Uint8Array;
  lifecycle: number;
  clientId: number;
  measurements: Measurement[];
  certificationReference?: string;
  verificationService?: string;
  profile?: 'psa-1' | 'psa-2';
}

/** [FP-5.3-2] PSA nonces are 32, 48 or 64 bytes (RFC 9783 §4.1.1). */
const PSA_NONCE_LENGTHS = [32, 48, 64];
/** EAN-13, optionally followed by `-` and a 5-digit version (RFC 9783 §4.2.3). */
const CERTIFICATION_REFERENCE = /^[0-9]{13}(-[0-9]{5})?$/;
const INT32 = { min: -0x8000_0000, max: 0x7fff_ffff };

function checkNonce(v: unknown, fail: (why: string) => Error): Uint8Array {
  const nonce = checkBytes(v, { min: 32, max: 64 }, fail);
  if (!PSA_NONCE_LENGTHS.includes(nonce.length)) throw fail('must be 32, 48 or 64 bytes');
  return nonce;
}

/** [FP-5.3-3] The instance id is a RAND-type ueid of 33 bytes: 0x01 then 32 bytes. */
function checkInstanceId(v: unknown, fail: (why: string) => Error): Uint8Array {
  const id = checkBytes(v, { min: CLAIM_LIMITS.psaInstanceIdLength, max: CLAIM_LIMITS.psaInstanceIdLength }, fail);
  if (id[0] !== 0x01) throw fail('must start with the RAND ueid type byte 0x01');
  return id;
}

export function encodePsaClaims(c: PsaEvidenceClaims): Map<number, unknown> {
  const fail = (field: string) => (why: string) =>
    new ProtocolError('evidence.bad_claim', `psa evidence: ${field} ${why}`, { details: { field, why } });
  checkNonce(c.nonce, fail('nonce'));
  checkInstanceId(c.instanceId, fail('instanceId'));
  const idLen = CLAIM_LIMITS.implementationIdLength;
  checkBytes(c.implementationId, { min: idLen, max: idLen }, fail('implementationId'));
  checkInt(c.lifecycle, 0, 0xffff, fail('lifecycle'));
  checkInt(c.clientId, INT32.min, INT32.max, fail('clientId'));
  if (c.measurements.length < 1 || c.measurements.length > CLAIM_LIMITS.measurementsMax) {
    throw fail('measurements')(`must hold 1 to ${CLAIM_LIMITS.measurementsMax} entries`);
  }
  if (c.certificationReference !== undefined) {
    checkText(c.certificationReference, { max: 19 }, CERTIFICATION_REFERENCE, fail('certificationReference'));
  }
  const components = c.measurements.map((m) => encodeComponent(m, true));
  if ((c.profile ?? 'psa-2') === 'psa-1') {
    checkBytes(c.bootSeed, { min: 32, max: 32 }, fail('bootSeed'));
    const map = new Map<number, unknown>([
      [PSA1_CLAIM.profile, PSA1_PROFILE_ID],
      [PSA1_CLAIM.clientId, c.clientId],
      [PSA1_CLAIM.lifecycle, c.lifecycle],
      [PSA1_CLAIM.implementationId, new Uint8Array(c.implementationId)],
      [PSA1_CLAIM.bootSeed, new Uint8Array(c.bootSeed)],
      [PSA1_CLAIM.softwareComponents, components],
      [PSA1_CLAIM.nonce, new Uint8Array(c.nonce)],
      [PSA1_CLAIM.instanceId, new Uint8Array(c.instanceId)],
    ]);
    if (c.verificationService !== undefined) map.set(PSA1_CLAIM.verificationService, c.verificationService);
    return map;
  }
  checkBytes(c.bootSeed, { min: CLAIM_LIMITS.bootSeedMin, max: CLAIM_LIMITS.bootSeedMax }, fail('bootSeed'));
  const map = new Map<number, unknown>([
    [EAT_CLAIM.eatProfile, PSA2_PROFILE_ID],
    [PSA2_CLAIM.clientId, c.clientId],
    [PSA2_CLAIM.lifecycle, c.lifecycle],
    [PSA2_CLAIM.implementationId, new Uint8Array(c.implementationId)],
    [EAT_CLAIM.bootseed, new Uint8Array(c.bootSeed)],
    [PSA2_CLAIM.softwareComponents, components],
    [EAT_CLAIM.nonce, new Uint8Array(c.nonce)],
    [EAT_CLAIM.ueid, new Uint8Array(c.instanceId)],
  ]);
  if (c.certificationReference !== undefined) map.set(PSA2_CLAIM.certificationReference, c.certificationReference);
  if (c.verificationService !== undefined) map.set(PSA2_CLAIM.verificationService, c.verificationService);
  return map;
}

interface PsaKeys {
  nonce: number;
  instanceId: number;
  implementationId: number;
  clientId: number;
  lifecycle: number;
  bootSeed: number;
  softwareComponents: number;
  verificationService: number;
}

const PSA2_KEYS: PsaKeys = {
  nonce: EAT_CLAIM.nonce,
  instanceId: EAT_CLAIM.ueid,
  implementationId: PSA2_CLAIM.implementationId,
  clientId: PSA2_CLAIM.clientId,
  lifecycle: PSA2_CLAIM.lifecycle,
  bootSeed: EAT_CLAIM.bootseed,
  softwareComponents: PSA2_CLAIM.softwareComponents,
  verificationService: PSA2_CLAIM.verificationService,
};

const PSA1_KEYS: PsaKeys = {
  nonce: PSA1_CLAIM.nonce,
  instanceId: PSA1_CLAIM.instanceId,
  implementationId: PSA1_CLAIM.implementationId,
  clientId: PSA1_CLAIM.clientId,
  lifecycle: PSA1_CLAIM.lifecycle,
  bootSeed: PSA1_CLAIM.bootSeed,
  softwareComponents: PSA1_CLAIM.softwareComponents,
  verificationService: PSA1_CLAIM.verificationService,
};

/**
 * Validates a PSA token's claims (either profile) into the normalised model. [FP-5.3-1..6]
 * Required: nonce, instance id, implementation id, client id, lifecycle, software components (psa-1 may instead
 * say `no-sw-measurements`); boot seed is required in psa-1 and optional in psa-2.
 */
export function decodePsaClaims(payload: unknown, profile: 'psa-1' | 'psa-2'): NormalisedClaims {
  const r = FieldReader.of(payload, `${profile} evidence`, CLAIM_CODES);
  const k = profile === 'psa-1' ? PSA1_KEYS : PSA2_KEYS;
  const nonce = checkNonce(r.raw(k.nonce, 'nonce'), (why) => r.bad(k.nonce, 'nonce', why));
  const ueid = checkInstanceId(r.raw(k.instanceId, 'instance-id'), (why) => r.bad(k.instanceId, 'instance-id', why));
  const idLen = CLAIM_LIMITS.implementationIdLength;
  const implementationId = r.bytes(k.implementationId, 'implementation-id', { min: idLen, max: idLen });
  const clientId = r.int(k.clientId, 'client-id', INT32.min, INT32.max);
  const lifecycle = r.int(k.lifecycle, 'security-lifecycle', 0, 0xffff);
  const seedBounds =
    profile === 'psa-1' ? { min: 32, max: 32 } : { min: CLAIM_LIMITS.bootSeedMin, max: CLAIM_LIMITS.bootSeedMax };
  const bootSeed =
    profile === 'psa-1'
      ? r.bytes(k.bootSeed, 'boot-seed', seedBounds)
      : r.optBytes(k.bootSeed, 'boot-seed', seedBounds);
  let measurements: Measurement[] = [];
  if (profile === 'psa-1' && !r.has(k.softwareComponents)) {
    // PSA_IOT_PROFILE_1 allows "no software measurements" (value 1) instead of the components array.
    r.int(PSA1_CLAIM.noSoftwareComponents, 'no-sw-measurements', 1, 1);
  } else {
    const comps = r.array(k.softwareComponents, 'software-components', { min: 1, max: CLAIM_LIMITS.measurementsMax });
    measurements = comps.map((c, i) => decodeComponent(c, i, false));
  }
  const psa: NonNullable<NormalisedClaims['psa']> = { implementationId, lifecycle, clientId };
  if (profile === 'psa-2') {
    const ref = r.optText(
      PSA2_CLAIM.certificationReference,
      'certification-reference',
      { max: 19 },
      CERTIFICATION_REFERENCE,
    );
    if (ref !== undefined) psa.certificationReference = ref;
  }
  const vsi = r.optText(k.verificationService, 'verification-service-indicator', { min: 1, max: CLAIM_LIMITS.textMax });
  if (vsi !== undefined) psa.verificationService = vsi;
  const claims: NormalisedClaims = { profile, nonce, ueid, measurements, psa };
  if (bootSeed !== undefined) claims.bootSeed = bootSeed;
  return claims;
}
