import type { KeyObject } from 'node:crypto';
import {
  deriveEarStatus,
  EAR_PROFILE,
  EAR_SUBMOD,
  type EarAppraisal,
  type EarAttesterClaims,
  type EarClaims,
  type EarStatus,
  earClaimsSchema,
  type TrustworthinessVector,
  toHex,
} from '@palisade/shared';
import { decodeJwt, decodeProtectedHeader, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { ProtocolError } from '../errors.js';
import type { NormalisedClaims } from '../evidence/claims.js';

/** What the gateway knows after an appraisal. @see PROTOCOL.md §8 */
export interface AttestationResultInput {
  gatewayId: string;
  deviceId: string;
  /** Unique result id (becomes `jti`). */
  resultId: string;
  /** Appraisal time, ms since the epoch (from the injected clock). */
  appraisedAt: number;
  /** Optional validity; `exp` = appraisal time + ttl. */
  ttlSeconds?: number;
  /** The challenge nonce the evidence answered. */
  nonce?: Uint8Array;
  vector: TrustworthinessVector;
  /** Machine-readable reason codes; MUST be empty iff the derived status is affirming. */
  reasons: readonly string[];
  /** The appraised claims, echoed (selectively) as `ear_attester_claims`. */
  claims?: NormalisedClaims;
  policyIds?: readonly string[];
  verifier?: { developer: string; build: string };
}

export const DEFAULT_VERIFIER_ID = { developer: 'https://palisade.dev', build: 'palisade-gateway 0.1.0' } as const;

function b64url(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');
}

function attesterClaims(c: NormalisedClaims): EarAttesterClaims {
  const out: EarAttesterClaims = { evidence_profile: c.profile, ueid: toHex(c.ueid) };
  if (c.boardFamily !== undefined) out.board_family = c.boardFamily;
  if (c.firmwareVersion !== undefined) out.firmware_version = c.firmwareVersion;
  if (c.bootCount !== undefined) out.bootcount = c.bootCount;
  return out;
}

function malformed(message: string, cause?: unknown, details?: Record<string, unknown>): ProtocolError {
  const opts: { cause?: unknown; details?: Record<string, unknown> } = {};
  if (cause !== undefined) opts.cause = cause;
  if (details !== undefined) opts.details = details;
  return new ProtocolError('ear.malformed', message, opts);
}

function parseClaims(value: unknown): EarClaims {
  const parsed = earClaimsSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw malformed('attestation result does not match the EAR schema', parsed.error, {
      path: issue?.path.join('.') ?? '',
      issue: issue?.message ?? '',
    });
  }
  return parsed.data;
}

/**
 * Builds the EAR claims set. The status is derived from the trustworthiness vector (the least favourable tier,
 * [FP-8.2-2]); reasons must be given exactly when that status is not affirming [FP-8.2-3].
 */
export function buildAttestationResult(input: AttestationResultInput): EarClaims {
  const status: EarStatus = deriveEarStatus(input.vector);
  if ((status === 'affirming') !== (input.reasons.length === 0)) {
    throw malformed('reasons must be given exactly when the status is not affirming', undefined, { status });
  }
  const iat = Math.floor(input.appraisedAt / 1000);
  const appraisal: EarAppraisal = {
    ear_status: status,
    ear_trustworthiness_vector: { ...input.vector },
    ear_verifier_claims: { reasons: [...input.reasons] },
  };
  if (input.policyIds !== undefined) appraisal.ear_appraisal_policy_ids = [...input.policyIds];
  if (input.claims !== undefined) appraisal.ear_attester_claims = attesterClaims(input.claims);
  const claims: Record<string, unknown> = {
    eat_profile: EAR_PROFILE,
    iat,
    iss: input.gatewayId,
    sub: input.deviceId,
    jti: input.resultId,
    ear_status: status,
    ear_verifier_id: { ...(input.verifier ?? DEFAULT_VERIFIER_ID) },
    submods: { [EAR_SUBMOD]: appraisal },
  };
  if (input.ttlSeconds !== undefined) claims['exp'] = iat + input.ttlSeconds;
  if (input.nonce !== undefined) claims['eat_nonce'] = b64url(input.nonce);
  return parseClaims(claims);
}

/** Signs the claims as a compact ES256 JWS (JWT) with the gateway's key; `kid` names that key. [FP-8.3-1] */
export async function signAttestationResult(
  claims: EarClaims,
  gatewayKey: { privateKey: KeyObject; kid: string },
): Promise<string> {
  const checked = parseClaims(claims);
  return new SignJWT(checked as unknown as JWTPayload)
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: gatewayKey.kid })
    .sign(gatewayKey.privateKey);
}

/**
 * Verifies a signed result: ES256 only, signature over the received bytes, `exp` if present (with `now` and a
 * clock tolerance), then the EAR schema. Errors: `ear.bad_signature`, `ear.unsupported_alg`, `ear.expired`,
 * `ear.malformed`. [FP-8.3-2]
 */
export async function verifyAttestationResult(
  jwt: string,
  publicKey: KeyObject,
  opts?: { now?: number; clockToleranceSeconds?: number },
): Promise<EarClaims> {
  if (typeof jwt !== 'string' || jwt.length > 16_384) throw malformed('attestation result must be a compact JWS');
  let payload: unknown;
  try {
    const verifyOpts: Parameters<typeof jwtVerify>[2] = {
      algorithms: ['ES256'],
      clockTolerance: opts?.clockToleranceSeconds ?? 60,
    };
    if (opts?.now !== undefined) verifyOpts.currentDate = new Date(opts.now);
    payload = (await jwtVerify(jwt, publicKey, verifyOpts)).payload;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
      throw new ProtocolError('ear.bad_signature', 'attestation result signature does not verify', { cause: e });
    }
    if (code === 'ERR_JOSE_ALG_NOT_ALLOWED') {
      throw new ProtocolError('ear.unsupported_alg', 'attestation results must be ES256', { cause: e });
    }
    if (code === 'ERR_JWT_EXPIRED') throw new ProtocolError('ear.expired', 'attestation result expired', { cause: e });
    throw malformed('attestation result is not a valid JWT', e);
  }
  return parseClaims(payload);
}

/** Reads a result WITHOUT verifying it (display, routing by `kid`). Never trust what it returns. */
export function decodeAttestationResult(jwt: string): { kid?: string; claims: EarClaims } {
  let header: ReturnType<typeof decodeProtectedHeader>;
  let payload: unknown;
  try {
    header = decodeProtectedHeader(jwt);
    payload = decodeJwt(jwt);
  } catch (e) {
    throw malformed('attestation result is not a valid JWT', e);
  }
  const claims = parseClaims(payload);
  return header.kid === undefined ? { claims } : { kid: header.kid, claims };
}
