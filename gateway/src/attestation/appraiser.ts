import { createHash, type KeyObject } from 'node:crypto';
import {
  buildAttestationResult,
  decodeAttestationResult,
  decodeEvidenceClaims,
  decodeSign1,
  type EarClaims,
  type EarStatus,
  type EvidenceFormat,
  evidenceFormatOf,
  isProtocolError,
  MAX_EVIDENCE_BYTES,
  type NormalisedClaims,
  type Sign1,
  TRUST,
  type TrustworthinessVector,
} from '@palisade/firmware-protocol';
import { type Clock, describeError, isDeviceId, type Logger, newId, toHex } from '@palisade/shared';
import {
  assessBoot,
  type BootAssessment,
  bytesEqual,
  checkHardware,
  checkIdentity,
  checkMeasurements,
} from './claim-checks.js';
import { Findings } from './findings.js';
import { KeyResolver, type ResolvedKey, type TrustAnchors } from './key-resolver.js';
import { ResultSigner, verifySign1OnPool } from './pool-crypto.js';
import { ReferenceValues } from './reference-values.js';
import type { BootObservation, DeviceAttestationState, DeviceStateStore, NonceStore, ResultSink } from './stores.js';
import { testKeyName } from './test-keys.js';

export interface AppraiserOptions {
  /** Gateway id: the `iss` of every result. */
  gatewayId: string;
  /** The gateway's result key (ES256); used for nothing else [FP-8.3-1]. */
  resultKey: { privateKey: KeyObject; kid: string };
  clock: Clock;
  trust: TrustAnchors;
  referenceValues?: ReferenceValues;
  /** Without a nonce store, freshness is checked only against `ctx.expectedNonce` (offline appraisal). */
  nonces?: NonceStore;
  devices?: DeviceStateStore;
  results?: ResultSink;
  /** Lifts the deny-list of public test keys (labs only) [FP-10-4]. Default false. */
  allowTestKeys?: boolean;
  /** Operator-added deny-listed keys: SPKI SHA-256 fingerprint (hex) → name. */
  deniedKeys?: ReadonlyMap<string, string>;
  /** `exp` of results = appraisal time + this; default none. */
  resultTtlSeconds?: number;
  chainCacheTtlMs?: number;
  logger?: Logger;
}

/** Per-evidence input: who sent it and how. */
export interface AppraisalContext {
  /** Authenticated device id of the connection (certificate CN and MQTT client id) [FP-3.1-3]. */
  deviceId?: string;
  /** The nonce of the evidence message (§4.3). */
  messageNonce?: Uint8Array;
  /** The evidence message's `format` [FP-4.3-2]. */
  format?: EvidenceFormat;
  /** Offline appraisal: the nonce the token must carry (no nonce store involved). */
  expectedNonce?: Uint8Array;
  /** Offline appraisal: the device's attestation public key, instead of the registry's. */
  attestationKey?: Uint8Array | string | KeyObject;
  /**
   * The connection's client certificate chain (DER, leaf first): the key of tokens without an x5chain (PSA) when
   * the device authenticated with TLS [FP-5.3-1]; validated like an x5chain.
   */
  certificateChain?: Uint8Array[];
  /** Evaluation time (ms) for certificate validity and nonce expiry; default the clock's now. */
  at?: number;
}

export interface AppraisalResult {
  /** The appraised device (`unidentified` when offline evidence names none). */
  deviceId: string;
  status: EarStatus;
  reasons: string[];
  vector: TrustworthinessVector;
  /** The signed EAR (compact JWS) and its claims set. */
  jwt: string;
  ear: EarClaims;
  resultId: string;
  appraisedAt: number;
  nonceHex?: string;
  /** SHA-256 (hex) of the token bytes. */
  evidenceDigest: string;
  /** Present only when the signature verified. */
  claims?: NormalisedClaims;
  /**
   * Evidence for an unknown, expired or spent nonce [FP-7.2-3]: the failure is recorded but MUST NOT change the
   * device's last result (nor its quarantine state).
   */
  refused: boolean;
  /** A duplicate of already-appraised evidence, answered with the stored result and not appraised again [FP-7.2-2]. */
  duplicate: boolean;
  /** The boot seed changed since the last accepted evidence [FP-5.2-3]. */
  rebooted: boolean;
  /** Facts for logs and alerts (chain reason, differing components, deny-listed key name, boot counters). */
  details: Record<string, unknown>;
}

interface Meta {
  deviceId?: string;
  nonce?: Uint8Array;
  claims?: NormalisedClaims;
  /** The claims echoed in the EAR: the evidence's, completed with what the appraisal established. */
  attested?: NormalisedClaims;
  refused: boolean;
  rebooted: boolean;
  policyIds: string[];
  details: Record<string, unknown>;
  duplicateOf?: { jwt: string; ear: EarClaims; status: EarStatus; reasons: string[] };
}

const II = 'instance-identity';

/**
 * The gateway's attestation engine: appraises Palisade EAT and PSA evidence [PROTOCOL.md §5, §7, §8] and signs the
 * result as an EAR. The signature is checked before any claim is looked at [FP-5.1-2]; every failure becomes a stable
 * reason code and a trustworthiness claim value, never an exception. Appraisals of one device run one at a time, so
 * the boot-counter check and its update cannot interleave.
 */
export class Appraiser {
  private readonly keys: KeyResolver;
  private refs: ReferenceValues;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly signer: ResultSigner;

  constructor(private readonly opts: AppraiserOptions) {
    this.signer = new ResultSigner(opts.resultKey);
    const resolverOpts: { chainCacheTtlMs?: number } = {};
    if (opts.chainCacheTtlMs !== undefined) resolverOpts.chainCacheTtlMs = opts.chainCacheTtlMs;
    this.keys = new KeyResolver(opts.trust, resolverOpts);
    this.refs = opts.referenceValues ?? ReferenceValues.empty();
  }

  /** Replaces roots/intermediates/CRLs (a revocation update); remembered certificate paths are dropped. */
  setTrust(trust: TrustAnchors): void {
    this.keys.setTrust(trust);
  }

  setReferenceValues(refs: ReferenceValues): void {
    this.refs = refs;
  }

  get referenceValues(): ReferenceValues {
    return this.refs;
  }

  /**
   * Appraises one evidence token and returns the signed result (also handed to the result sink). Everything wrong
   * with the evidence, and a failing store, becomes a result with reason codes; the promise rejects only when the
   * result itself cannot be built, signed or recorded (a misconfigured gateway id or key, a failing result sink).
   */
  async appraise(evidence: Uint8Array, ctx: AppraisalContext = {}): Promise<AppraisalResult> {
    const deviceId = ctx.deviceId;
    if (deviceId === undefined) return this.run(evidence, ctx);
    const previous = this.locks.get(deviceId) ?? Promise.resolve();
    const next = previous.then(
      () => this.run(evidence, ctx),
      () => this.run(evidence, ctx),
    );
    this.locks.set(deviceId, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(deviceId) === next) this.locks.delete(deviceId);
    }
  }

  private async run(evidence: Uint8Array, ctx: AppraisalContext): Promise<AppraisalResult> {
    const at = ctx.at ?? this.opts.clock.now();
    const bytes = evidence instanceof Uint8Array ? evidence : new Uint8Array(0);
    const evidenceDigest = createHash('sha256').update(bytes).digest('hex');
    const f = new Findings();
    const meta: Meta = { refused: false, rebooted: false, policyIds: [], details: {} };
    if (ctx.deviceId !== undefined) meta.deviceId = ctx.deviceId;
    const nonce = ctx.messageNonce ?? ctx.expectedNonce;
    if (nonce !== undefined) meta.nonce = nonce;
    try {
      await this.evaluate(bytes, evidence instanceof Uint8Array, ctx, at, evidenceDigest, f, meta);
    } catch (e) {
      // A bug or a failing store, not the evidence's fault: say so instead of judging the device.
      this.opts.logger?.error({ deviceId: ctx.deviceId, error: describeError(e) }, 'appraisal failed internally');
      f.fail(II, TRUST.any.verifierMalfunction, 'appraisal.internal_error');
    }
    if (meta.duplicateOf !== undefined) return this.duplicate(meta, at, evidenceDigest);
    return this.finish(f, meta, at, evidenceDigest);
  }

  private async evaluate(
    bytes: Uint8Array,
    isBytes: boolean,
    ctx: AppraisalContext,
    at: number,
    evidenceDigest: string,
    f: Findings,
    meta: Meta,
  ): Promise<void> {
    const failed = TRUST.any.cryptoValidationFailed;
    // [FP-5.1-3] Size first, before any decoding.
    if (!isBytes || bytes.length === 0) return f.fail(II, failed, 'appraisal.malformed_evidence', 'cose.malformed');
    if (bytes.length > MAX_EVIDENCE_BYTES) return f.fail(II, failed, 'appraisal.evidence_too_large', 'cbor.too_large');
    let sign1: Sign1;
    try {
      sign1 = decodeSign1(bytes);
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      return f.fail(II, failed, 'appraisal.malformed_evidence', e.code);
    }

    const state = ctx.deviceId !== undefined ? await this.opts.devices?.get(ctx.deviceId) : undefined;
    const resolved = await this.resolveKey(sign1, ctx, state, at, f, meta);
    if (resolved === undefined) return;

    // [FP-5.1-2] The signature, over the bytes received, before any claim is trusted.
    try {
      await verifySign1OnPool(sign1, this.keys.verifyKey(resolved, sign1.alg));
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      return f.fail(II, failed, 'appraisal.bad_signature', e.code);
    }
    let claims: NormalisedClaims;
    try {
      claims = decodeEvidenceClaims(sign1.payload);
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      return f.fail(II, TRUST[II].unrecognized, 'appraisal.malformed_evidence', e.code);
    }
    meta.claims = claims;
    meta.nonce = claims.nonce;
    const deviceId = ctx.deviceId ?? resolved.leaf?.commonName ?? claims.deviceId;
    if (deviceId !== undefined) meta.deviceId = deviceId;

    if (ctx.format !== undefined && evidenceFormatOf(claims.profile) !== ctx.format) {
      f.fail(II, TRUST[II].unrecognized, 'appraisal.format_mismatch');
    }
    if (!(await this.checkFreshness(claims, ctx, deviceId, at, evidenceDigest, f, meta))) return;

    const testKey = testKeyName(resolved.fingerprint, this.opts.deniedKeys);
    if (testKey !== undefined) {
      meta.details['testKey'] = testKey;
      if (this.opts.allowTestKeys === true) meta.policyIds.push('palisade:test-keys-allowed');
      else f.fail(II, TRUST[II].untrustworthy, 'appraisal.test_key');
    }
    checkIdentity(claims, resolved, deviceId, state, f, meta.details);
    checkHardware(claims, state, f);
    const running = checkMeasurements(this.refs, claims, state, f, meta.details);
    // PSA evidence names no family or version [FP-5.3-6]: the result reports those of the release found running.
    if (claims.psa !== undefined && running !== undefined) {
      meta.attested = { ...claims, boardFamily: running.boardFamily, firmwareVersion: running.firmwareVersion };
    }
    const boot = assessBoot(claims, state, f, meta.details);
    meta.rebooted = boot.rebooted;
    await this.recordBoot(claims, deviceId, boot, at);
    f.set(II, TRUST[II].trustworthy);
  }

  /**
   * The verification key, in this order: a key the caller gives explicitly (offline appraisal), the token's x5chain
   * (validated), the connection's certificate chain (validated), the registered attestation key.
   */
  private async resolveKey(
    sign1: Sign1,
    ctx: AppraisalContext,
    state: DeviceAttestationState | undefined,
    at: number,
    f: Findings,
    meta: Meta,
  ): Promise<ResolvedKey | undefined> {
    const registered =
      ctx.attestationKey ?? ((sign1.x5chain ?? ctx.certificateChain) ? undefined : state?.attestationKey);
    if (registered !== undefined) {
      try {
        return this.keys.fromRegistered(registered);
      } catch (e) {
        meta.details['key'] = describeError(e).message;
        f.fail(II, TRUST[II].unrecognized, 'appraisal.key_unknown', 'cose.bad_key');
        return undefined;
      }
    }
    const chain = sign1.x5chain ?? ctx.certificateChain;
    if (chain === undefined) {
      f.fail(II, TRUST[II].unrecognized, ctx.format === 'psa' ? 'appraisal.key_unknown' : 'appraisal.cert_missing');
      return undefined;
    }
    const out = await this.keys.fromChain(chain, at);
    if (out.ok) return out.resolved;
    meta.details['chain'] = out.detail === undefined ? out.pkiReason : `${out.pkiReason}: ${out.detail}`;
    const value =
      out.reason === 'appraisal.cert_untrusted'
        ? TRUST[II].unrecognized
        : out.reason === 'appraisal.cert_malformed' || out.pkiReason === 'pki.bad_signature'
          ? TRUST.any.cryptoValidationFailed
          : TRUST[II].untrustworthy;
    f.fail(II, value, out.reason, out.pkiReason);
    return undefined;
  }

  /** [FP-4.3-1] [FP-4.2-2] [FP-7.2-3] The nonce: the message's, an outstanding one for this device, unused. */
  private async checkFreshness(
    claims: NormalisedClaims,
    ctx: AppraisalContext,
    deviceId: string | undefined,
    at: number,
    evidenceDigest: string,
    f: Findings,
    meta: Meta,
  ): Promise<boolean> {
    const stale = TRUST[II].untrustworthy;
    if (ctx.messageNonce !== undefined && !bytesEqual(ctx.messageNonce, claims.nonce)) {
      f.fail(II, stale, 'appraisal.nonce_mismatch');
      return false;
    }
    if (ctx.expectedNonce !== undefined && !bytesEqual(ctx.expectedNonce, claims.nonce)) {
      f.fail(II, stale, 'appraisal.nonce_mismatch');
      return false;
    }
    const nonces = this.opts.nonces;
    if (nonces === undefined || ctx.deviceId === undefined || deviceId === undefined) {
      if (ctx.expectedNonce === undefined) meta.policyIds.push('palisade:freshness-not-checked');
      return true;
    }
    const nonceHex = toHex(claims.nonce);
    const outcome = await nonces.consume(nonceHex, deviceId, at);
    switch (outcome) {
      case 'ok':
        return true;
      case 'wrong_device':
        f.fail(II, stale, 'appraisal.nonce_mismatch');
        return false;
      case 'replayed': {
        const stored = await this.opts.results?.findByNonce?.(deviceId, nonceHex);
        if (stored !== undefined && stored.evidenceDigest === evidenceDigest) {
          // Our own signed result, read back from our own store: only its shape is checked here.
          const ear = readStoredEar(stored.jwt);
          if (ear !== undefined) {
            meta.duplicateOf = { jwt: stored.jwt, ear, status: stored.status, reasons: stored.reasons };
            return false;
          }
        }
        meta.refused = true;
        f.fail(II, stale, 'appraisal.nonce_reused');
        return false;
      }
      case 'expired':
        meta.refused = true;
        f.fail(II, stale, 'appraisal.nonce_expired');
        return false;
      default:
        meta.refused = true;
        f.fail(II, stale, 'appraisal.nonce_unknown');
        return false;
    }
  }

  /** Keeps accepted boot state as the device's new high-water mark (never after a rollback, clone or foreign key). */
  private async recordBoot(
    claims: NormalisedClaims,
    deviceId: string | undefined,
    boot: BootAssessment,
    at: number,
  ): Promise<void> {
    if (deviceId === undefined || this.opts.devices === undefined || !boot.keep) return;
    const observation: BootObservation = { ueid: claims.ueid, rebooted: boot.rebooted, at };
    if (claims.bootCount !== undefined) observation.bootCount = claims.bootCount;
    if (claims.bootSeed !== undefined) observation.bootSeed = claims.bootSeed;
    await this.opts.devices.recordBoot(deviceId, observation);
  }

  private async finish(f: Findings, meta: Meta, at: number, evidenceDigest: string): Promise<AppraisalResult> {
    const deviceId = meta.deviceId !== undefined && isDeviceId(meta.deviceId) ? meta.deviceId : 'unidentified';
    const resultId = newId('ear', this.opts.clock.now());
    const input: Parameters<typeof buildAttestationResult>[0] = {
      gatewayId: this.opts.gatewayId,
      deviceId,
      resultId,
      appraisedAt: at,
      vector: f.vector,
      reasons: f.reasons,
    };
    if (meta.nonce !== undefined) input.nonce = meta.nonce;
    const attested = meta.attested ?? meta.claims;
    if (attested !== undefined) input.claims = attested;
    if (meta.policyIds.length > 0) input.policyIds = meta.policyIds;
    if (this.opts.resultTtlSeconds !== undefined) input.ttlSeconds = this.opts.resultTtlSeconds;
    const ear = buildAttestationResult(input);
    const jwt = await this.signer.sign(ear);
    const result: AppraisalResult = {
      deviceId,
      status: ear.ear_status,
      reasons: f.reasons,
      vector: f.vector,
      jwt,
      ear,
      resultId,
      appraisedAt: at,
      evidenceDigest,
      refused: meta.refused,
      duplicate: false,
      rebooted: meta.rebooted,
      details: meta.details,
    };
    if (meta.nonce !== undefined) result.nonceHex = toHex(meta.nonce);
    if (meta.claims !== undefined) result.claims = meta.claims;
    if (this.opts.results !== undefined && meta.deviceId !== undefined) {
      await this.opts.results.record({
        deviceId,
        nonceHex: result.nonceHex ?? '',
        evidenceDigest,
        status: result.status,
        reasons: result.reasons,
        jwt,
        appraisedAt: at,
        resultId,
        refused: meta.refused,
      });
    }
    return result;
  }

  /** [FP-7.2-2] The stored result of a duplicate evidence message, unchanged and not recorded again. */
  private duplicate(meta: Meta, at: number, evidenceDigest: string): AppraisalResult {
    const stored = meta.duplicateOf as NonNullable<Meta['duplicateOf']>;
    const ear = stored.ear;
    const result: AppraisalResult = {
      deviceId: ear.sub,
      status: stored.status,
      reasons: stored.reasons,
      vector: ear.submods.device.ear_trustworthiness_vector ?? {},
      jwt: stored.jwt,
      ear,
      resultId: ear.jti,
      appraisedAt: at,
      evidenceDigest,
      refused: false,
      duplicate: true,
      rebooted: false,
      details: {},
    };
    if (meta.nonce !== undefined) result.nonceHex = toHex(meta.nonce);
    if (meta.claims !== undefined) result.claims = meta.claims;
    return result;
  }
}

function readStoredEar(jwt: string): EarClaims | undefined {
  try {
    return decodeAttestationResult(jwt).claims;
  } catch {
    return undefined;
  }
}
