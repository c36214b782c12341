import { decodeSign1 } from '../../src/cose/index.js';
import { importVerifyKey } from '../../src/crypto/index.js';
import { ProtocolError } from '../../src/errors.js';
import type { NormalisedClaims } from '../../src/evidence/claims.js';
import { verifyEvidence } from '../../src/evidence/evidence.js';
import { decodeEvidenceMessage } from '../../src/messages/messages.js';
import {
  isIssuedBy,
  isRevoked,
  isWithinValidity,
  type ParsedCertificate,
  type ParsedCrl,
  parseCertificate,
} from '../../src/pki/index.js';
import { referenceMeasurements } from '../../src/simulator/firmware.js';
import type { DeviceState } from '../../src/simulator/index.js';

/**
 * A minimal protocol-level appraisal for the simulator's tests: the checks PROTOCOL.md names (signature, chain,
 * validity, CRL, identity binding, nonce, measurements, boot counter) reduced to a list of findings, so each fault
 * mode can be shown to produce a distinct, detectable difference. The gateway's real appraiser lives in `gateway/`.
 */
export interface AppraisalContext {
  intermediate: ParsedCertificate;
  root: ParsedCertificate;
  crl: ParsedCrl;
  /** PSA devices carry no certificate in the token: the registered IAK certificate (PEM). */
  registered: Map<string, string>;
  usedNonces: Set<string>;
  /** Last bootcount / bootseed seen per ueid. */
  seen: Map<string, { bootCount?: number; bootSeed?: string }>;
  now: Date;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export function appraise(
  ctx: AppraisalContext,
  deviceId: string,
  challenge: Uint8Array,
  payload: Uint8Array,
): { findings: string[]; claims?: NormalisedClaims } {
  const findings: string[] = [];
  let msg: ReturnType<typeof decodeEvidenceMessage>;
  try {
    msg = decodeEvidenceMessage(payload);
  } catch (e) {
    if (e instanceof ProtocolError) return { findings: [e.code] };
    throw e;
  }
  let cert: ParsedCertificate;
  const tokenChain = (() => {
    try {
      return verifyEvidenceChain(msg.token);
    } catch {
      return undefined;
    }
  })();
  if (msg.format === 'palisade-eat') {
    if (tokenChain === undefined) return { findings: ['cose.malformed'] };
    cert = parseCertificate(tokenChain[0]!);
    if (!isIssuedBy(cert, ctx.intermediate) || !isIssuedBy(ctx.intermediate, ctx.root)) findings.push('cert_chain');
  } else {
    const pem = ctx.registered.get(deviceId);
    if (pem === undefined) return { findings: ['unknown_device'] };
    cert = parseCertificate(pem);
  }
  if (!isWithinValidity(cert, ctx.now)) findings.push('cert_expired');
  if (isRevoked(ctx.crl, cert.serial)) findings.push('cert_revoked');
  if (cert.commonName !== deviceId || cert.deviceId !== deviceId) findings.push('identity');
  let claims: NormalisedClaims;
  try {
    claims = verifyEvidence(
      msg.token,
      importVerifyKey(cert.publicKey, cert.keyType === 'p256' ? 'ES256' : 'EdDSA'),
    ).claims;
  } catch (e) {
    if (e instanceof ProtocolError) return { findings: [...findings, e.code] };
    throw e;
  }
  if (claims.deviceId !== undefined && claims.deviceId !== deviceId) findings.push('identity');
  if (hex(claims.nonce) !== hex(challenge) || hex(msg.nonce) !== hex(challenge)) findings.push('nonce_mismatch');
  if (ctx.usedNonces.has(hex(claims.nonce))) findings.push('nonce_reused');
  ctx.usedNonces.add(hex(challenge));
  const family = claims.boardFamily ?? (claims.profile === 'palisade-eat/1' ? undefined : 'stm32');
  const reference = family === undefined ? [] : referenceMeasurements(family);
  const digests = (ms: { component: string; digest: Uint8Array }[]) =>
    ms.map((m) => `${m.component}:${hex(m.digest)}`).join(',');
  if (digests(claims.measurements) !== digests(reference)) findings.push('measurement');
  const key = hex(claims.ueid);
  const prev = ctx.seen.get(key);
  const seed = claims.bootSeed === undefined ? undefined : hex(claims.bootSeed);
  if (prev !== undefined && claims.bootCount !== undefined && prev.bootCount !== undefined) {
    if (claims.bootCount < prev.bootCount) findings.push('bootcount_rollback');
    else if (claims.bootCount === prev.bootCount && seed !== prev.bootSeed) findings.push('bootseed_changed');
  }
  const next: { bootCount?: number; bootSeed?: string } = {};
  if (claims.bootCount !== undefined) next.bootCount = claims.bootCount;
  if (seed !== undefined) next.bootSeed = seed;
  ctx.seen.set(key, next);
  return { findings, claims };
}

/** The x5chain of a token (decoded without trusting it: only to find the key to verify with). */
function verifyEvidenceChain(token: Uint8Array): Uint8Array[] {
  // decodeEvidence is not used on purpose: a token whose claims are bad still has a chain to check.
  const chain = decodeSign1(token).x5chain;
  if (chain === undefined) throw new Error('no x5chain');
  return chain;
}

export function registeredCerts(devices: DeviceState[]): Map<string, string> {
  return new Map(devices.map((d) => [d.deviceId, d.certificate.pem]));
}
