import { z } from 'zod';

/**
 * Attestation results as the gateway signs them: the JWT claims set of an EAR (EAT Attestation Result,
 * draft-ietf-rats-ear-04, JSON serialisation) with the AR4SI trustworthiness vector (draft-ietf-rats-ar4si §2.3).
 * The gateway signs it as an ES256 JWT (`firmware-protocol` PROTOCOL.md §8); the cloud and auditors validate the
 * decoded claims set with {@link earClaimsSchema} without importing the device protocol.
 *
 * Palisade profile of EAR (PROTOCOL.md §8):
 * - exactly one submodule, named {@link EAR_SUBMOD} (`"device"`), appraising the device's evidence;
 * - `iss` is the gateway id, `sub` the device id, `jti` the result id, `eat_nonce` the challenge nonce (base64url);
 * - `ear_verifier_claims.reasons` lists the machine-readable reason codes of the appraisal (empty when affirming);
 * - `ear_attester_claims` echoes the appraised evidence claims that matter to the SOC (profile, ueid, board family,
 *   firmware version, boot count).
 */

/** `eat_profile` of every Palisade attestation result (draft-ietf-rats-ear-04 §3). */
export const EAR_PROFILE = 'tag:ietf.org,2026:rats/ear#04';
/** The one submodule name of a Palisade result. */
export const EAR_SUBMOD = 'device';

export const EAR_STATUSES = ['affirming', 'warning', 'contraindicated', 'none'] as const;
export type EarStatus = (typeof EAR_STATUSES)[number];
export const earStatusSchema = z.enum(EAR_STATUSES);

/** The eight AR4SI trustworthiness claims, in the order of draft-ietf-rats-ar4si §2.3. */
export const TRUSTWORTHINESS_CLAIMS = [
  'instance-identity',
  'configuration',
  'executables',
  'file-system',
  'hardware',
  'runtime-opaque',
  'storage-opaque',
  'sourced-data',
] as const;
export type TrustworthinessClaim = (typeof TRUSTWORTHINESS_CLAIMS)[number];

/** A trustworthiness claim value: a signed 8-bit integer (AR4SI §2.3.1). */
export const trustClaimValueSchema = z.int().min(-128).max(127);

export const trustworthinessVectorSchema = z.strictObject({
  'instance-identity': trustClaimValueSchema.optional(),
  configuration: trustClaimValueSchema.optional(),
  executables: trustClaimValueSchema.optional(),
  'file-system': trustClaimValueSchema.optional(),
  hardware: trustClaimValueSchema.optional(),
  'runtime-opaque': trustClaimValueSchema.optional(),
  'storage-opaque': trustClaimValueSchema.optional(),
  'sourced-data': trustClaimValueSchema.optional(),
});
export type TrustworthinessVector = z.infer<typeof trustworthinessVectorSchema>;

/**
 * The tier a trustworthiness claim value falls in (AR4SI §2.3.2): none [-1, 1]; affirming [2, 31] ∪ [-32, -2];
 * warning [32, 95] ∪ [-96, -33]; contraindicated [96, 127] ∪ [-128, -97].
 */
export function trustTier(value: number): EarStatus {
  const v = Math.abs(value);
  if (v <= 1) return 'none';
  if (value >= 2 ? value <= 31 : value >= -32) return 'affirming';
  if (value >= 32 ? value <= 95 : value >= -96) return 'warning';
  return 'contraindicated';
}

/** Order of severity used to combine statuses: the result is the least favourable one. */
export const EAR_STATUS_SEVERITY: Readonly<Record<EarStatus, number>> = {
  affirming: 0,
  none: 1,
  warning: 2,
  contraindicated: 3,
};

/**
 * The status a trustworthiness vector implies: the least favourable tier among its claims, ignoring "no claim"
 * values ([-1, 1] are treated as absent, AR4SI §2.3.2); `none` when the vector makes no claim at all.
 */
export function deriveEarStatus(vector: TrustworthinessVector): EarStatus {
  let worst: EarStatus = 'none';
  for (const name of TRUSTWORTHINESS_CLAIMS) {
    const v = vector[name];
    if (v === undefined) continue;
    const tier = trustTier(v);
    if (tier === 'none') continue;
    if (worst === 'none' || EAR_STATUS_SEVERITY[tier] > EAR_STATUS_SEVERITY[worst]) worst = tier;
  }
  return worst;
}

/** A machine-readable reason code: dotted lower-case (`appraisal.nonce_mismatch`, `cose.bad_signature`). */
export const earReasonSchema = z
  .string()
  .min(3)
  .max(64)
  .regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/);

const base64url = z
  .string()
  .max(1024)
  .regex(/^[A-Za-z0-9_-]*$/);

export const earVerifierIdSchema = z.object({
  developer: z.string().min(1).max(256),
  build: z.string().min(1).max(256),
});

export const earAttesterClaimsSchema = z.object({
  evidence_profile: z.enum(['palisade-eat/1', 'psa-1', 'psa-2']).optional(),
  /** ueid (EAT) or instance id (PSA), lower-case hex. */
  ueid: z
    .string()
    .regex(/^[0-9a-f]*$/)
    .max(128)
    .optional(),
  board_family: z.enum(['stm32', 'nrf52', 'esp32']).optional(),
  firmware_version: z.string().max(64).optional(),
  bootcount: z.int().min(0).optional(),
});
export type EarAttesterClaims = z.infer<typeof earAttesterClaimsSchema>;

export const earVerifierClaimsSchema = z.object({
  reasons: z.array(earReasonSchema).max(32),
});

export const earAppraisalSchema = z
  .object({
    ear_status: earStatusSchema,
    ear_trustworthiness_vector: trustworthinessVectorSchema.optional(),
    ear_appraisal_policy_ids: z.array(z.string().min(1).max(256)).max(8).optional(),
    eat_nonce: base64url.optional(),
    ear_attester_claims: earAttesterClaimsSchema.optional(),
    ear_verifier_claims: earVerifierClaimsSchema,
  })
  .refine(
    (a) => a.ear_trustworthiness_vector === undefined || a.ear_status === deriveEarStatus(a.ear_trustworthiness_vector),
    {
      message: 'ear_status must be the least favourable tier of the trustworthiness vector',
      path: ['ear_status'],
    },
  )
  .refine((a) => a.ear_status !== 'affirming' || a.ear_verifier_claims.reasons.length === 0, {
    message: 'an affirming result carries no reasons',
    path: ['ear_verifier_claims', 'reasons'],
  });
export type EarAppraisal = z.infer<typeof earAppraisalSchema>;

/** The JWT claims set of a Palisade attestation result. */
export const earClaimsSchema = z
  .object({
    eat_profile: z.literal(EAR_PROFILE),
    /** Appraisal time, seconds since the epoch. */
    iat: z.int().min(0),
    /** Optional expiry, seconds since the epoch; after it a relying party MUST ask for a new appraisal. */
    exp: z.int().min(0).optional(),
    /** Gateway id that appraised. */
    iss: z.string().min(1).max(128),
    /** Device id that was appraised. */
    sub: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
    /** Result id, unique per gateway. */
    jti: z.string().min(1).max(64),
    /** The challenge nonce, base64url without padding (43 to 86 characters for 32 to 64 bytes). */
    eat_nonce: base64url.min(8).max(128).optional(),
    /** Overall status: the least favourable submodule status. */
    ear_status: earStatusSchema,
    ear_verifier_id: earVerifierIdSchema,
    submods: z.object({ [EAR_SUBMOD]: earAppraisalSchema }),
  })
  .refine((c) => c.ear_status === c.submods[EAR_SUBMOD].ear_status, {
    message: 'ear_status must equal the device submodule status',
    path: ['ear_status'],
  })
  .refine((c) => c.exp === undefined || c.exp >= c.iat, { message: 'exp before iat', path: ['exp'] });
export type EarClaims = z.infer<typeof earClaimsSchema>;

/** The reasons of a result (empty when affirming). */
export function earReasons(claims: EarClaims): string[] {
  return claims.submods[EAR_SUBMOD].ear_verifier_claims.reasons;
}
