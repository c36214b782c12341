import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { type CoseAlg, importVerifyKey, ProtocolError, type VerifyKey } from '@palisade/firmware-protocol';
import { type ChainReason, type LeafInfo, verifyChain } from '../pki/validator.js';
import type { AppraisalReasonCode } from './reasons.js';
import { spkiFingerprint } from './test-keys.js';

/** Manufacturer trust configuration: roots, optional extra intermediates, and CRLs (PEM or DER). */
export interface TrustAnchors {
  roots: (string | Uint8Array)[];
  intermediates?: (string | Uint8Array)[];
  crls?: (string | Uint8Array)[];
  /** Intermediates allowed between device certificate and root; default 4. */
  maxChainDepth?: number;
}

/** A verification key and what is known about where it came from. */
export interface ResolvedKey {
  key: KeyObject;
  /** SHA-256 of the SPKI DER. */
  fingerprint: string;
  /** Present when the key came from a validated certificate path. */
  leaf?: LeafInfo;
}

export type ChainOutcome =
  | { ok: true; resolved: ResolvedKey }
  | { ok: false; reason: AppraisalReasonCode; pkiReason: ChainReason; detail?: string };

interface ChainEntry {
  resolved: ResolvedKey;
  /** Evaluation time the path was validated at, and the span the verdict holds in (`VerifyChainResult.validity`). */
  validatedAt: number;
  notBefore: number;
  notAfter: number;
  epoch: number;
}

/** How a chain failure reads as an appraisal reason. */
const CHAIN_REASON_MAP: Partial<Record<ChainReason, AppraisalReasonCode>> = {
  'pki.malformed': 'appraisal.cert_malformed',
  'pki.untrusted': 'appraisal.cert_untrusted',
  'pki.expired': 'appraisal.cert_expired',
  'pki.not_yet_valid': 'appraisal.cert_not_yet_valid',
  'pki.revoked': 'appraisal.cert_revoked',
  'pki.key_usage': 'appraisal.cert_key_usage',
  'pki.eku': 'appraisal.cert_key_usage',
};

/**
 * Finds the key to verify evidence with, fast: certificate paths are validated by the RFC 5280 validator
 * (`gateway/src/pki/validator.ts`) once and then remembered by the digest of the x5chain, and key objects are
 * remembered by their SPKI fingerprint, so the steady state of an appraisal costs one hash and one map look-up
 * before the signature check.
 *
 * A remembered path is reused only while the evaluation time stays inside the validity of every certificate of the
 * validated path and of the CRLs checked against it,
 * within `chainCacheTtlMs` of when it was validated (so a CRL that arrives later takes effect within that time), and
 * for the same trust configuration: {@link KeyResolver.setTrust} drops them all.
 */
/** How long a failed chain verdict is reused for the same chain bytes. */
const FAILED_CHAIN_TTL_MS = 60_000;

export class KeyResolver {
  private trust: TrustAnchors;
  private epoch = 0;
  private readonly chains = new Map<string, ChainEntry>();
  /**
   * Chains that failed validation, briefly: a device re-sending one forged or untrusted x5chain must not cost a full
   * path validation (milliseconds of main-thread CPU) per message. Short-lived, as a time-dependent failure (not yet
   * valid) may clear, and dropped with every trust change.
   */
  private readonly failedChains = new Map<string, { out: ChainOutcome; at: number; epoch: number }>();
  private readonly keys = new Map<string, { key: KeyObject; fingerprint: string; verify: Map<CoseAlg, VerifyKey> }>();

  constructor(
    trust: TrustAnchors,
    private readonly opts: { chainCacheTtlMs?: number; cacheSize?: number } = {},
  ) {
    this.trust = trust;
  }

  setTrust(trust: TrustAnchors): void {
    this.trust = trust;
    this.epoch++;
    this.chains.clear();
    this.failedChains.clear();
  }

  get hasRoots(): boolean {
    return this.trust.roots.length > 0;
  }

  /** Validates `x5chain` (leaf first) at `at` (ms) against the configured roots and CRLs. */
  async fromChain(x5chain: readonly Uint8Array[], at: number): Promise<ChainOutcome> {
    if (!this.hasRoots) {
      return { ok: false, reason: 'appraisal.cert_untrusted', pkiReason: 'pki.untrusted', detail: 'no roots' };
    }
    const digest = chainDigest(x5chain);
    const ttl = this.opts.chainCacheTtlMs ?? 300_000;
    const hit = this.chains.get(digest);
    if (
      hit !== undefined &&
      hit.epoch === this.epoch &&
      at >= hit.notBefore &&
      at <= hit.notAfter &&
      Math.abs(at - hit.validatedAt) <= ttl
    ) {
      return { ok: true, resolved: hit.resolved };
    }
    const failed = this.failedChains.get(digest);
    if (failed !== undefined && failed.epoch === this.epoch && Math.abs(at - failed.at) <= FAILED_CHAIN_TTL_MS) {
      return failed.out;
    }
    const [leaf, ...intermediates] = x5chain;
    if (leaf === undefined) {
      return { ok: false, reason: 'appraisal.cert_missing', pkiReason: 'pki.malformed' };
    }
    const result = await verifyChain({
      leaf,
      intermediates: [...intermediates, ...(this.trust.intermediates ?? [])],
      roots: this.trust.roots,
      crls: this.trust.crls ?? [],
      time: new Date(at),
      maxChainDepth: this.trust.maxChainDepth ?? 4,
    });
    if (!result.valid || result.leaf === undefined) {
      const out: ChainOutcome = {
        ok: false,
        reason: CHAIN_REASON_MAP[result.reason] ?? 'appraisal.cert_invalid',
        pkiReason: result.reason,
      };
      if (result.detail !== undefined) out.detail = result.detail;
      this.remember(this.failedChains, digest, { out, at, epoch: this.epoch });
      return out;
    }
    const k = this.key(result.leaf.publicKeyDer);
    const resolved: ResolvedKey = { key: k.key, fingerprint: k.fingerprint, leaf: result.leaf };
    // Reused only inside the dates the verdict rests on: every certificate of the validated path (the configured
    // intermediates and the root too, which may expire before the device's own) and the CRLs checked against it.
    const window = result.validity;
    if (window !== undefined) {
      this.remember(this.chains, digest, {
        resolved,
        validatedAt: at,
        notBefore: window.notBefore.getTime(),
        notAfter: window.notAfter.getTime(),
        epoch: this.epoch,
      });
    }
    return { ok: true, resolved };
  }

  /** A registered key (SPKI DER, PEM or KeyObject), parsed once. */
  fromRegistered(input: Uint8Array | string | KeyObject): ResolvedKey {
    const k = this.key(input);
    return { key: k.key, fingerprint: k.fingerprint };
  }

  /**
   * The key in the form `verifySign1` takes for the token's `alg`. A key of another algorithm is
   * `cose.unsupported_alg` [FP-5.1-2] (a P-256 key never verifies an EdDSA token, nor the reverse).
   */
  verifyKey(resolved: ResolvedKey, alg: CoseAlg): VerifyKey {
    const k = this.keys.get(resolved.fingerprint) ?? this.key(resolved.key);
    let vk = k.verify.get(alg);
    if (vk === undefined) {
      const keyAlg = algOfKey(k.key);
      if (keyAlg !== alg) {
        throw new ProtocolError('cose.unsupported_alg', `token is signed with ${alg}, the key is for ${keyAlg}`, {
          details: { tokenAlg: alg, keyAlg },
        });
      }
      vk = importVerifyKey(k.key, alg);
      k.verify.set(alg, vk);
    }
    return vk;
  }

  private key(input: Uint8Array | string | KeyObject): {
    key: KeyObject;
    fingerprint: string;
    verify: Map<CoseAlg, VerifyKey>;
  } {
    const cacheKey =
      input instanceof Uint8Array
        ? `der:${createHash('sha256').update(input).digest('hex')}`
        : typeof input === 'string'
          ? `pem:${createHash('sha256').update(input).digest('hex')}`
          : undefined;
    if (cacheKey !== undefined) {
      const hit = this.keys.get(cacheKey);
      if (hit !== undefined) return hit;
    }
    const key =
      input instanceof Uint8Array
        ? createPublicKey({ key: Buffer.from(input), format: 'der', type: 'spki' })
        : typeof input === 'string'
          ? createPublicKey(input)
          : input.type === 'private'
            ? createPublicKey(input)
            : input;
    const fingerprint = spkiFingerprint(key);
    const entry = this.keys.get(fingerprint) ?? { key, fingerprint, verify: new Map<CoseAlg, VerifyKey>() };
    this.remember(this.keys, fingerprint, entry);
    if (cacheKey !== undefined) this.remember(this.keys, cacheKey, entry);
    return entry;
  }

  /** Bounded insertion: the oldest entry goes when the map is full (a device fleet's keys fit comfortably). */
  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    const max = this.opts.cacheSize ?? 20_000;
    if (!map.has(key) && map.size >= max) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
    map.set(key, value);
  }
}

function chainDigest(x5chain: readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const c of x5chain) {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(c.length);
    h.update(len).update(c);
  }
  return h.digest('hex');
}

/** The COSE algorithm a key is for: P-256 → ES256, Ed25519 → EdDSA; anything else is unusable (`cose.bad_key`). */
function algOfKey(key: KeyObject): CoseAlg {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new ProtocolError('cose.bad_key', 'attestation keys are P-256 or Ed25519', {
    details: { keyType: key.asymmetricKeyType ?? 'unknown' },
  });
}
