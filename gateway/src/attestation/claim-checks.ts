import { createHash, type KeyObject } from 'node:crypto';
import { DEVICE_URI_PREFIX, type NormalisedClaims, TRUST } from '@palisade/firmware-protocol';
import type { Findings } from './findings.js';
import type { ResolvedKey } from './key-resolver.js';
import { compareVersions, type ReferenceEntry, type ReferenceValues } from './reference-values.js';
import type { DeviceAttestationState } from './stores.js';

/**
 * The claim checks of an appraisal, run only on evidence whose signature has verified [FP-5.1-2]: identity binding,
 * hardware, firmware measurements, boot state. Each records its outcome as a trustworthiness claim value and, when
 * unfavourable, a reason code; `details` collects what an operator needs to see why.
 */

const II = 'instance-identity';
const instanceIds = new WeakMap<KeyObject, Uint8Array>();

/** [FP-3.1-3] [FP-5.2-6] [FP-5.3-3] [FP-10-3] certificate ↔ device id ↔ claimed device id ↔ ueid / instance id. */
export function checkIdentity(
  claims: NormalisedClaims,
  resolved: ResolvedKey,
  deviceId: string | undefined,
  state: DeviceAttestationState | undefined,
  f: Findings,
  details: Record<string, unknown>,
): void {
  const problem = identityProblem(claims, resolved, deviceId, state);
  if (problem === undefined) return;
  details['identity'] = problem;
  f.fail(II, TRUST[II].untrustworthy, 'appraisal.identity_mismatch');
}

/** Board family against profile and registry [FP-5.2-1]; PSA security lifecycle [FP-5.3-5]. */
export function checkHardware(claims: NormalisedClaims, state: DeviceAttestationState | undefined, f: Findings): void {
  const hw = TRUST.hardware;
  const psa = claims.profile !== 'palisade-eat/1';
  const family = claims.boardFamily ?? state?.boardFamily;
  const registered = state?.boardFamily;
  if (
    (registered !== undefined && claims.boardFamily !== undefined && registered !== claims.boardFamily) ||
    (family !== undefined && psa !== (family === 'stm32'))
  ) {
    f.fail('hardware', hw.unrecognized, 'appraisal.profile_mismatch');
  }
  if (claims.psa !== undefined) {
    const major = claims.psa.lifecycle & 0xff00;
    if (major === 0x3000) f.set('hardware', hw.genuine);
    else if (major === 0x4000 || major === 0x5000) f.fail('hardware', hw.unsafe, 'appraisal.lifecycle_not_secured');
    else f.fail('hardware', hw.contraindicated, 'appraisal.lifecycle_not_secured');
    return;
  }
  f.set('hardware', hw.genuine);
}

/**
 * [FP-5.2-5] Measurements against the reference values of the family and version. Returns the reference entry the
 * device was found to run (the matching one, or the older release of a rollback), if any.
 */
export function checkMeasurements(
  refs: ReferenceValues,
  claims: NormalisedClaims,
  state: DeviceAttestationState | undefined,
  f: Findings,
  details: Record<string, unknown>,
): ReferenceEntry | undefined {
  const id: Parameters<ReferenceValues['appraise']>[0] = {};
  const family = claims.boardFamily ?? state?.boardFamily;
  const version = claims.firmwareVersion ?? state?.firmwareVersion;
  if (family !== undefined) id.boardFamily = family;
  if (version !== undefined) id.firmwareVersion = version;
  if (claims.psa !== undefined) id.implementationId = claims.psa.implementationId;
  const verdict = refs.appraise(id, claims.measurements);
  if (verdict.verdict === 'match') {
    f.set('executables', TRUST.executables.approvedRuntime);
    if (verdict.entry.description !== undefined) details['reference'] = verdict.entry.description;
    return verdict.entry;
  }
  if (verdict.verdict === 'mismatch') {
    details['components'] = verdict.components;
    f.fail('executables', TRUST.executables.contraindicated, 'appraisal.measurement_mismatch');
    // Known-good firmware of an older release is a downgrade: for PSA devices, which carry no boot counter, the
    // only sign of a rollback [FP-5.3-6].
    const older = family === undefined ? undefined : refs.identify(family, id.implementationId, claims.measurements);
    if (older !== undefined && version !== undefined && compareVersions(older.firmwareVersion, version) < 0) {
      details['runningVersion'] = older.firmwareVersion;
      f.fail(II, TRUST[II].untrustworthy, 'appraisal.rollback');
      return older;
    }
    return undefined;
  }
  f.fail('executables', TRUST.executables.unrecognized, 'appraisal.unknown_reference');
  return undefined;
}

/** What the boot claims say: a reboot (new seed), and whether this state may become the new high-water mark. */
export interface BootAssessment {
  rebooted: boolean;
  keep: boolean;
}

/**
 * [FP-5.2-3] The boot counter never goes backwards (`appraisal.rollback`); a new seed with the same count is a second
 * device with the same identity (`appraisal.clone_suspected`); a new seed with a higher count is a reboot. Only
 * authentic, fresh evidence of the right identity moves the high-water mark.
 */
export function assessBoot(
  claims: NormalisedClaims,
  state: DeviceAttestationState | undefined,
  f: Findings,
  details: Record<string, unknown>,
): BootAssessment {
  const count = claims.bootCount;
  const seed = claims.bootSeed;
  const prevCount = state?.bootCount;
  const prevSeed = state?.bootSeed;
  const seedChanged = prevSeed !== undefined && seed !== undefined && !bytesEqual(prevSeed, seed);
  if (count !== undefined && prevCount !== undefined) {
    if (count < prevCount) {
      details['bootCount'] = { previous: prevCount, received: count };
      f.fail(II, TRUST[II].untrustworthy, 'appraisal.rollback');
      return { rebooted: seedChanged, keep: false };
    }
    if (count === prevCount && seedChanged) {
      details['bootCount'] = { previous: prevCount, received: count };
      f.fail(II, TRUST[II].untrustworthy, 'appraisal.clone_suspected');
      return { rebooted: false, keep: false };
    }
    if (count > prevCount && prevSeed !== undefined && seed !== undefined && !seedChanged) {
      f.fail('configuration', TRUST.configuration.unsafe, 'appraisal.boot_seed_reused');
    }
  }
  const keep = !f.has('appraisal.identity_mismatch') && !f.has('appraisal.test_key');
  return { rebooted: seedChanged, keep };
}

/** What breaks the identity binding, if anything (named for the logs, never echoing received values). */
function identityProblem(
  claims: NormalisedClaims,
  resolved: ResolvedKey,
  deviceId: string | undefined,
  state: DeviceAttestationState | undefined,
): string | undefined {
  const leaf = resolved.leaf;
  if (leaf !== undefined) {
    if (leaf.commonName === undefined || leaf.commonName !== deviceId) return 'certificate subject CN';
    const uriIds = leaf.altNames
      .filter((n) => n.startsWith(DEVICE_URI_PREFIX))
      .map((n) => n.slice(DEVICE_URI_PREFIX.length));
    if (uriIds.some((id) => id !== deviceId)) return 'certificate SAN device URI';
  }
  if (claims.profile === 'palisade-eat/1' && claims.deviceId !== deviceId) return 'evidence device id';
  if (claims.profile !== 'palisade-eat/1' && !bytesEqual(claims.ueid, psaInstanceId(resolved.key))) {
    return 'PSA instance id is not 0x01 || SHA-256(attestation key)';
  }
  if (state?.ueid !== undefined && !bytesEqual(state.ueid, claims.ueid)) return 'ueid changed';
  return undefined;
}

/** [FP-5.3-3] TF-M's instance id: 0x01 (RAND ueid) then SHA-256 of the IAK public key as a raw (uncompressed) point. */
export function psaInstanceId(key: KeyObject): Uint8Array {
  // Key objects come from the resolver's cache, so the derivation is done once per key.
  const known = instanceIds.get(key);
  if (known !== undefined) return known;
  const jwk = key.export({ format: 'jwk' });
  const raw =
    jwk.kty === 'EC'
      ? Buffer.concat([
          Buffer.from([0x04]),
          Buffer.from(jwk.x ?? '', 'base64url'),
          Buffer.from(jwk.y ?? '', 'base64url'),
        ])
      : Buffer.from(jwk.x ?? '', 'base64url');
  const id = new Uint8Array(Buffer.concat([Buffer.from([0x01]), createHash('sha256').update(raw).digest()]));
  instanceIds.set(key, id);
  return id;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.length === b.length &&
    Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))
  );
}
