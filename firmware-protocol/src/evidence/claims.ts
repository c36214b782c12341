/**
 * The normalised claims model: what the gateway appraises, whichever evidence profile the device speaks.
 * @see PROTOCOL.md §5 (Evidence) and §6 (Claims)
 */

export type BoardFamily = 'stm32' | 'nrf52' | 'esp32';
export const BOARD_FAMILIES: readonly BoardFamily[] = ['stm32', 'nrf52', 'esp32'];

/**
 * `palisade-eat/1`: the Palisade EAT profile (RFC 9711 claims, PROTOCOL.md §5.2).
 * `psa-1`: PSA_IOT_PROFILE_1 (legacy arm_psa claim keys -75000..-75010, RFC 9783 Appendix).
 * `psa-2`: RFC 9783 `tag:psacertified.org,2023:psa#tfm` (EAT claim keys 10, 256, 265, 268 and 2394..2400).
 */
export type EvidenceProfile = 'palisade-eat/1' | 'psa-1' | 'psa-2';
export const EVIDENCE_PROFILES: readonly EvidenceProfile[] = ['palisade-eat/1', 'psa-1', 'psa-2'];

export type MeasurementAlg = 'sha-256' | 'sha-384' | 'sha-512';
export const MEASUREMENT_ALGS: readonly MeasurementAlg[] = ['sha-256', 'sha-384', 'sha-512'];
export const DIGEST_LENGTH: Readonly<Record<MeasurementAlg, number>> = { 'sha-256': 32, 'sha-384': 48, 'sha-512': 64 };

export interface Measurement {
  /** Component name (PSA measurement-type: "BL", "PRoT", "ARoT", "App"; Palisade: "bootloader", "app", ...). */
  component: string;
  digest: Uint8Array;
  alg: MeasurementAlg;
  version?: string;
  signerId?: Uint8Array;
}

export interface PsaClaims {
  implementationId: Uint8Array;
  /** PSA security lifecycle (major state in bits 8..15, e.g. 0x3000 = secured). */
  lifecycle: number;
  /** Caller partition id: positive = secure, negative = non-secure. */
  clientId: number;
  certificationReference?: string;
  verificationService?: string;
}

export interface NormalisedClaims {
  profile: EvidenceProfile;
  nonce: Uint8Array;
  /** EAT ueid, or the PSA instance id (also a RAND-type ueid). */
  ueid: Uint8Array;
  deviceId?: string;
  boardFamily?: BoardFamily;
  firmwareVersion?: string;
  measurements: Measurement[];
  bootCount?: number;
  bootSeed?: Uint8Array;
  /** Seconds since the epoch (CWT `iat`), when the device has a clock. */
  issuedAt?: number;
  psa?: PsaClaims;
}

/** What a device sends as `format` in an evidence message (PROTOCOL.md §4.4). */
export type EvidenceFormat = 'palisade-eat' | 'psa';
export const EVIDENCE_FORMATS: readonly EvidenceFormat[] = ['palisade-eat', 'psa'];

export function evidenceFormatOf(profile: EvidenceProfile): EvidenceFormat {
  return profile === 'palisade-eat/1' ? 'palisade-eat' : 'psa';
}

/** `eat_profile` values. */
export const PALISADE_EAT_PROFILE_ID = 'tag:palisade.dev,2026:eat#1';
export const PSA2_PROFILE_ID = 'tag:psacertified.org,2023:psa#tfm';
export const PSA1_PROFILE_ID = 'PSA_IOT_PROFILE_1';

/** RFC 8392 / RFC 9711 §7.3.1 claim keys used by the profiles. */
export const EAT_CLAIM = {
  iat: 6,
  nonce: 10,
  ueid: 256,
  eatProfile: 265,
  bootcount: 267,
  bootseed: 268,
  measurements: 273,
} as const;

/** Palisade private-use claim keys (CWT private use: below -65536). PROTOCOL.md [FP-5.2-6]. */
export const PALISADE_CLAIM = {
  boardFamily: -80000,
  firmwareVersion: -80001,
  deviceId: -80002,
} as const;

/** RFC 9783 (psa-2) claim keys beyond the EAT ones. */
export const PSA2_CLAIM = {
  clientId: 2394,
  lifecycle: 2395,
  implementationId: 2396,
  certificationReference: 2398,
  softwareComponents: 2399,
  verificationService: 2400,
} as const;

/** PSA_IOT_PROFILE_1 (psa-1) claim keys. */
export const PSA1_CLAIM = {
  profile: -75000,
  clientId: -75001,
  lifecycle: -75002,
  implementationId: -75003,
  bootSeed: -75004,
  hardwareVersion: -75005,
  softwareComponents: -75006,
  noSoftwareComponents: -75007,
  nonce: -75008,
  instanceId: -75009,
  verificationService: -75010,
} as const;

/** Keys of a software-component / measured-component map (RFC 9783 §4.4.1, reused by the Palisade profile). */
export const COMPONENT_KEY = { type: 1, value: 2, version: 4, signerId: 5, description: 6 } as const;

/**
 * Content type of a Palisade measurement inside the RFC 9711 `measurements` claim (273): a CoAP content-format
 * number from the experimental range (RFC 7252 §12.3), whose content is a CBOR-encoded measured-component map.
 */
export const PALISADE_MEASUREMENT_CONTENT_TYPE = 65000;

/** Size limits of claims (PROTOCOL.md §6.3). */
export const CLAIM_LIMITS = {
  nonceMin: 32,
  nonceMax: 64,
  ueidMin: 7,
  ueidMax: 33,
  bootSeedMin: 8,
  bootSeedMax: 32,
  bootCountMax: 0xffff_ffff,
  measurementsMax: 16,
  componentNameMax: 32,
  versionMax: 32,
  signerIdMin: 32,
  signerIdMax: 64,
  firmwareVersionMax: 32,
  textMax: 64,
  implementationIdLength: 32,
  psaInstanceIdLength: 33,
} as const;

/** Firmware versions: printable, no spaces, 1..32 characters (`1.4.2`, `2.0.0-rc1+build.7`). */
export const FIRMWARE_VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,31}$/;
