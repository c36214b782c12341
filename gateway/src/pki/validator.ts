import { isProtocolError } from '@palisade/firmware-protocol';
import type * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { cryptoEngine } from './crypto-engine.js';
import { cachedCertificates, certificates, MalformedInput, malformed, parseCrl } from './parse.js';
import { derObjects } from './pem.js';

/**
 * RFC 5280 certification path validation for device certificates, built on PKI.js's
 * `CertificateChainValidationEngine` (path building, signatures, validity, name chaining, basic constraints of CAs,
 * CRLs, policies, name constraints). This module adds only what the engine leaves to its caller — work bounds,
 * stable reason codes, leaf key usage / extended key usage, `pathLenConstraint`, unknown critical extensions and
 * CRL integrity — and never walks a chain itself. The broker, the appraisal and `pki verify-chain` all call
 * {@link verifyChain}, so one verdict holds everywhere.
 */

/** Stable reason codes; tests, logs and the CLI contract depend on them. Append, never rename. */
export const CHAIN_REASONS = [
  'ok',
  'pki.malformed', // a certificate or CRL that does not parse
  'pki.unsupported', // an unknown critical extension, or a key/signature algorithm the engine cannot verify
  'pki.untrusted', // no path to a configured root
  'pki.bad_signature', // an issuer was found by name and key id but its signature does not verify
  'pki.expired', // a certificate of the path is past notAfter at the validation time
  'pki.not_yet_valid', // a certificate of the path is before notBefore at the validation time
  'pki.revoked', // a certificate of the path is listed on a valid CRL of its issuer
  'pki.crl_invalid', // a CRL for an issuer of the path does not verify with that issuer's key (or issuer not cRLSign)
  'pki.crl_stale', // a CRL for an issuer of the path is past its nextUpdate (or not yet issued) at validation time
  'pki.crl_missing', // the issuer announces revocation information (CRL distribution point) and none was supplied
  'pki.not_ca', // an issuing certificate is not a CA (basicConstraints / keyCertSign)
  'pki.depth', // more intermediates than allowed by the caller or by a CA's pathLenConstraint
  'pki.key_usage', // leaf keyUsage present without digitalSignature
  'pki.eku', // leaf (or a CA's) extendedKeyUsage does not include a required purpose
  'pki.policy', // certificate policy processing failed
  'pki.name_constraints', // a name constraint of a CA is violated
  'pki.path_budget', // the input exceeds the path-building work bound (too many certificates or candidate paths)
] as const;
export type ChainReason = (typeof CHAIN_REASONS)[number];

/** At most this many intermediates are considered at all: a hostile bundle cannot make path building explode. */
export const MAX_INTERMEDIATES = 16;
export const MAX_ROOTS = 256;
export const MAX_CRLS = 32;
/** Default limit on intermediates between leaf and root (OpenSSL `-verify_depth` semantics). */
export const DEFAULT_MAX_CHAIN_DEPTH = 8;
/**
 * Issuer look-ups allowed per validation. Each look-up is memoised, so this bounds the recursion of the engine's
 * depth-first path builder, which otherwise loops forever on cross-signed cycles (A issues B, B issues A).
 */
const ISSUER_LOOKUP_BUDGET = 64;

const OID_KEY_USAGE = '2.5.29.15';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_ANY_EKU = '2.5.29.37.0';
const OID_SAN = '2.5.29.17';
const OID_AKI = '2.5.29.35';
const OID_SKI = '2.5.29.14';

/** Extensions PKI.js processes (or that carry no constraint), so they may be critical. RFC 5280 §4.2. */
const UNDERSTOOD_EXTENSIONS = new Set([
  OID_KEY_USAGE,
  OID_BASIC_CONSTRAINTS,
  OID_EXT_KEY_USAGE,
  OID_SAN,
  OID_AKI,
  OID_SKI,
  '2.5.29.18', // issuerAltName
  '2.5.29.30', // nameConstraints
  '2.5.29.31', // cRLDistributionPoints
  '2.5.29.32', // certificatePolicies
  '2.5.29.33', // policyMappings
  '2.5.29.36', // policyConstraints
  '2.5.29.54', // inhibitAnyPolicy
  '1.3.6.1.5.5.7.1.1', // authorityInfoAccess
]);

export interface VerifyChainInput {
  leaf: string | Uint8Array;
  /** PEM strings (each may be a bundle) or DER certificates. */
  intermediates?: (string | Uint8Array)[];
  roots: (string | Uint8Array)[];
  /** Validation time; defaults to now. */
  time?: Date;
  crls?: (string | Uint8Array)[];
  /** Maximum number of intermediates between leaf and root. */
  maxChainDepth?: number;
  /** Purposes the leaf must carry (all of them, or anyExtendedKeyUsage). Absent EKU on the leaf fails. */
  extendedKeyUsage?: string[];
  /** Refuse a leaf whose keyUsage extension lacks digitalSignature (an absent keyUsage allows all). Default true. */
  requireDigitalSignature?: boolean;
}

export interface LeafInfo {
  subject: string;
  /** Certificate serial number, lower-case hex. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo, DER. */
  publicKeyDer: Uint8Array;
  commonName?: string;
  /** dNSName and URI entries of subjectAltName. */
  altNames: string[];
}

export interface VerifyChainResult {
  valid: boolean;
  reason: ChainReason;
  /** Subjects of the validated path, leaf first, root last (empty when no path was found). */
  chain: string[];
  leaf?: LeafInfo;
  /**
   * On a valid result, the span in which the dates of the validated path and of the CRLs checked against it allow
   * the same verdict: from the latest notBefore (or CRL thisUpdate) to the earliest notAfter (or CRL nextUpdate),
   * both inclusive. Whoever remembers a verdict must not reuse it outside this span: an intermediate or root
   * may expire long before the leaf, and a CRL may go stale before either.
   */
  validity?: { notBefore: Date; notAfter: Date };
  /** Human-readable detail for logs; never branch on it. */
  detail?: string;
}

class PathBudgetExceeded extends Error {}

// ---------------------------------------------------------------------------------------------------------------
// Descriptions

const NAME_KEYS: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
};

function attributeText(value: unknown): string {
  const block = (value as { valueBlock?: { value?: unknown } } | undefined)?.valueBlock;
  return typeof block?.value === 'string' ? block.value : '#';
}

/** `CN=dev-1, O=Acme` in certificate order (the same order `openssl x509 -subject -nameopt oneline` prints). */
export function formatName(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((tv) => `${NAME_KEYS[tv.type] ?? tv.type}=${attributeText(tv.value).replace(/[,\\]/g, '\\$&')}`)
    .join(', ');
}

function extension(cert: pkijs.Certificate, oid: string): pkijs.Extension | undefined {
  return cert.extensions?.find((e) => e.extnID === oid);
}

function leafInfo(cert: pkijs.Certificate): LeafInfo {
  const cn = cert.subject.typesAndValues.find((tv) => tv.type === '2.5.4.3');
  const altNames: string[] = [];
  const san = extension(cert, OID_SAN)?.parsedValue as pkijs.AltName | undefined;
  for (const gn of san?.altNames ?? []) {
    if ((gn.type === 2 || gn.type === 6) && typeof gn.value === 'string') altNames.push(gn.value);
  }
  const info: LeafInfo = {
    subject: formatName(cert.subject),
    serial: Buffer.from(cert.serialNumber.valueBlock.valueHexView).toString('hex'),
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    publicKeyDer: new Uint8Array(cert.subjectPublicKeyInfo.toSchema().toBER()),
    altNames,
  };
  if (cn !== undefined) info.commonName = attributeText(cn.value);
  return info;
}

// ---------------------------------------------------------------------------------------------------------------
// Checks the engine leaves to its caller, applied to the path it returned

function keyUsageBits(cert: pkijs.Certificate): number | undefined {
  const ku = extension(cert, OID_KEY_USAGE)?.parsedValue as asn1js.BitString | undefined;
  if (ku === undefined) return undefined;
  const view = ku.valueBlock.valueHexView;
  return ((view[0] ?? 0) << 8) | (view[1] ?? 0);
}

function ekuAllows(cert: pkijs.Certificate, required: readonly string[], absentMeans: boolean): boolean {
  const eku = extension(cert, OID_EXT_KEY_USAGE)?.parsedValue as pkijs.ExtKeyUsage | undefined;
  if (eku === undefined) return absentMeans;
  if (eku.keyPurposes.includes(OID_ANY_EKU)) return true;
  return required.every((oid) => eku.keyPurposes.includes(oid));
}

function pathLenConstraint(cert: pkijs.Certificate): number | undefined {
  const bc = extension(cert, OID_BASIC_CONSTRAINTS)?.parsedValue as pkijs.BasicConstraints | undefined;
  const p = bc?.pathLenConstraint;
  if (p === undefined) return undefined;
  return typeof p === 'number' ? p : p.valueBlock.valueDec;
}

function isSelfIssued(cert: pkijs.Certificate): boolean {
  return cert.subject.isEqual(cert.issuer);
}

/** The supplied CRLs that speak for an issuer of `path` (its certificates after the leaf), with that issuer. */
function pathCrls(
  path: readonly pkijs.Certificate[],
  crls: readonly pkijs.CertificateRevocationList[],
): { crl: pkijs.CertificateRevocationList; issuer: pkijs.Certificate }[] {
  const out: { crl: pkijs.CertificateRevocationList; issuer: pkijs.Certificate }[] = [];
  for (const crl of crls) {
    const issuer = path.slice(1).find((c) => c.subject.isEqual(crl.issuer));
    if (issuer !== undefined) out.push({ crl, issuer });
  }
  return out;
}

/** Latest start and earliest end of the dates the verdict on `path` (and its CRLs) depends on. */
function pathValidity(
  path: readonly pkijs.Certificate[],
  crls: readonly pkijs.CertificateRevocationList[],
): { notBefore: Date; notAfter: Date } {
  let from = Number.NEGATIVE_INFINITY;
  let until = Number.POSITIVE_INFINITY;
  for (const c of path) {
    from = Math.max(from, c.notBefore.value.getTime());
    until = Math.min(until, c.notAfter.value.getTime());
  }
  for (const { crl } of pathCrls(path, crls)) {
    from = Math.max(from, crl.thisUpdate.value.getTime());
    if (crl.nextUpdate !== undefined) until = Math.min(until, crl.nextUpdate.value.getTime());
  }
  return { notBefore: new Date(from), notAfter: new Date(until) };
}

interface PostCheck {
  reason: ChainReason;
  detail: string;
}

async function checkPath(
  path: pkijs.Certificate[],
  crls: pkijs.CertificateRevocationList[],
  time: Date,
  maxDepth: number,
  eku: readonly string[],
  requireDigitalSignature: boolean,
): Promise<PostCheck | null> {
  const leaf = path[0];
  if (leaf === undefined) return { reason: 'pki.untrusted', detail: 'empty path' };
  for (const cert of path) {
    for (const ext of cert.extensions ?? []) {
      if (ext.critical && !UNDERSTOOD_EXTENSIONS.has(ext.extnID)) {
        return { reason: 'pki.unsupported', detail: `unknown critical extension ${ext.extnID}` };
      }
    }
  }
  // Intermediates are the certificates strictly between leaf and root; a trusted leaf yields [leaf, leaf].
  const intermediates = Math.max(0, path.length - 2);
  if (intermediates > maxDepth) {
    return { reason: 'pki.depth', detail: `${intermediates} intermediates, at most ${maxDepth} allowed` };
  }
  // RFC 5280 §4.2.1.9: pathLenConstraint counts non-self-issued intermediates below the CA.
  for (let k = 1; k < path.length; k++) {
    const cert = path[k] as pkijs.Certificate;
    const limit = pathLenConstraint(cert);
    if (limit === undefined) continue;
    let below = 0;
    for (let j = 1; j < k; j++) if (!isSelfIssued(path[j] as pkijs.Certificate)) below++;
    if (below > limit) {
      return { reason: 'pki.depth', detail: `pathLenConstraint ${limit} of ${formatName(cert.subject)} exceeded` };
    }
  }
  const ku = keyUsageBits(leaf);
  // digitalSignature is the first bit of the KeyUsage BIT STRING (0x80 of the first byte).
  if (requireDigitalSignature && ku !== undefined && (ku & 0x8000) === 0) {
    return { reason: 'pki.key_usage', detail: 'leaf keyUsage lacks digitalSignature' };
  }
  if (eku.length > 0) {
    if (!ekuAllows(leaf, eku, false)) return { reason: 'pki.eku', detail: 'leaf extendedKeyUsage lacks a purpose' };
    // A CA that restricts its own EKU restricts what it may issue for (the common reading, as OpenSSL applies).
    for (let k = 1; k < path.length; k++) {
      if (!ekuAllows(path[k] as pkijs.Certificate, eku, true)) {
        return { reason: 'pki.eku', detail: 'an issuing CA restricts extendedKeyUsage' };
      }
    }
  }
  // The engine silently skips CRLs that fail to verify or are stale, which would let a tampered or outdated CRL
  // hide a revocation. A supplied CRL that names an issuer of this path must be genuine and current.
  for (const { crl, issuer } of pathCrls(path, crls)) {
    let genuine = false;
    try {
      genuine = await crl.verify({ issuerCertificate: issuer }, cryptoEngine);
    } catch {
      genuine = false;
    }
    if (!genuine) return { reason: 'pki.crl_invalid', detail: `CRL of ${formatName(crl.issuer)} does not verify` };
    if (crl.thisUpdate.value > time || (crl.nextUpdate !== undefined && crl.nextUpdate.value < time)) {
      return { reason: 'pki.crl_stale', detail: `CRL of ${formatName(crl.issuer)} is not current` };
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Mapping engine failures to reasons

function keyIdsCompatible(cert: pkijs.Certificate, issuer: pkijs.Certificate): boolean {
  const aki = extension(cert, OID_AKI)?.parsedValue as pkijs.AuthorityKeyIdentifier | undefined;
  const ski = extension(issuer, OID_SKI)?.parsedValue as asn1js.OctetString | undefined;
  if (aki?.keyIdentifier === undefined || ski === undefined) return true;
  return Buffer.from(aki.keyIdentifier.valueBlock.valueHexView).equals(Buffer.from(ski.valueBlock.valueHexView));
}

/**
 * When the engine finds no path, tells a forged or damaged certificate (its named issuer is present, with the
 * right key id, and the signature does not verify) apart from a certificate of another PKI. Follows at most
 * `maxSteps` issuers, one verification per candidate; it decides nothing but the reason code.
 */
async function noPathReason(
  leaf: pkijs.Certificate,
  pool: readonly pkijs.Certificate[],
  maxSteps: number,
): Promise<ChainReason> {
  let cert = leaf;
  for (let step = 0; step <= maxSteps; step++) {
    const candidates = pool.filter((c) => c !== cert && c.subject.isEqual(cert.issuer) && keyIdsCompatible(cert, c));
    if (candidates.length === 0) return 'pki.untrusted';
    let next: pkijs.Certificate | undefined;
    for (const c of candidates) {
      try {
        if (await cert.verify(c, cryptoEngine)) {
          next = c;
          break;
        }
      } catch {
        // An issuer key the engine cannot use counts as not verifying.
      }
    }
    if (next === undefined) return 'pki.bad_signature';
    cert = next;
  }
  return 'pki.untrusted';
}

function outOfValidity(certs: readonly pkijs.Certificate[], time: Date): ChainReason | null {
  for (const c of certs) {
    if (c.notAfter.value < time) return 'pki.expired';
    if (c.notBefore.value > time) return 'pki.not_yet_valid';
  }
  return null;
}

function engineReason(code: number): ChainReason | null {
  switch (code) {
    case 10:
    case 60:
    case 97:
      return 'pki.untrusted';
    case 11:
      return 'pki.crl_missing';
    case 12:
      return 'pki.revoked';
    case 13:
      return 'pki.crl_invalid';
    case 14:
      return 'pki.not_ca';
    case 21:
    case 41:
    case 42:
      return 'pki.name_constraints';
    case 98:
    case 99:
      return 'pki.policy';
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Validates `leaf` against `roots` at `time`. Never throws for bad input: every failure is a reason code.
 */
export async function verifyChain(input: VerifyChainInput): Promise<VerifyChainResult> {
  try {
    return await validate(input);
  } catch (e) {
    // Decoders deep in PKI.js/asn1js parse extensions lazily and may throw on hostile content: that is input
    // that does not parse, never a crash of the caller.
    return { valid: false, reason: 'pki.malformed', chain: [], detail: `undecodable input: ${(e as Error).message}` };
  }
}

async function validate(input: VerifyChainInput): Promise<VerifyChainResult> {
  const time = input.time ?? new Date();
  if (!(time instanceof Date) || Number.isNaN(time.getTime())) {
    return { valid: false, reason: 'pki.malformed', chain: [], detail: 'invalid validation time' };
  }
  const maxDepth = Math.min(input.maxChainDepth ?? DEFAULT_MAX_CHAIN_DEPTH, MAX_INTERMEDIATES);
  if (!Number.isInteger(maxDepth) || maxDepth < 0) {
    return { valid: false, reason: 'pki.malformed', chain: [], detail: 'maxChainDepth must be a natural number' };
  }
  const eku = input.extendedKeyUsage ?? [];
  const requireDigitalSignature = input.requireDigitalSignature ?? true;

  let leaf: pkijs.Certificate;
  let intermediates: pkijs.Certificate[];
  let roots: pkijs.Certificate[];
  let crls: pkijs.CertificateRevocationList[];
  try {
    const leaves = certificates([input.leaf]);
    if (leaves.length !== 1) throw malformed('leaf must be exactly one certificate');
    leaf = leaves[0] as pkijs.Certificate;
    intermediates = cachedCertificates(input.intermediates ?? []);
    if (intermediates.length > MAX_INTERMEDIATES) {
      return {
        valid: false,
        reason: 'pki.path_budget',
        chain: [],
        leaf: leafInfo(leaf),
        detail: `more than ${MAX_INTERMEDIATES} intermediates`,
      };
    }
    roots = cachedCertificates(input.roots);
    if (roots.length === 0 || roots.length > MAX_ROOTS) throw malformed(`1 to ${MAX_ROOTS} roots required`);
    crls = [];
    for (const c of input.crls ?? []) for (const der of derObjects(c, ['X509 CRL', 'CRL'])) crls.push(parseCrl(der));
    if (crls.length > MAX_CRLS) throw malformed(`at most ${MAX_CRLS} CRLs`);
  } catch (e) {
    if (e instanceof MalformedInput || isProtocolError(e)) {
      return { valid: false, reason: 'pki.malformed', chain: [], detail: (e as Error).message };
    }
    throw e;
  }
  const info = leafInfo(leaf);

  // Memoised, budgeted issuer look-up around the engine's own (name + key id match, then signature check).
  const found = new Map<pkijs.Certificate, Promise<pkijs.Certificate[]>>();
  let lookups = 0;
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: roots,
    // The engine takes the last entry as the end entity.
    certs: [...intermediates, leaf],
    crls,
    checkDate: time,
    findIssuer: (cert, eng, crypto) => {
      if (++lookups > ISSUER_LOOKUP_BUDGET) throw new PathBudgetExceeded('issuer look-up budget exhausted');
      let issuers = found.get(cert);
      if (issuers === undefined) {
        issuers = eng.defaultFindIssuer(cert, eng, crypto);
        found.set(cert, issuers);
      }
      return issuers;
    },
  });

  let result: pkijs.CertificateChainValidationEngineVerifyResult;
  try {
    // passedWhenNotRevValues: a path certificate whose issuer has no CRL in the input is not refused for that
    // alone (CRLs are optional input); the engine still refuses when the issuer publishes a distribution point.
    result = await engine.verify({ passedWhenNotRevValues: true }, cryptoEngine);
  } catch (e) {
    result = { result: false, resultCode: -1, resultMessage: (e as Error).message, error: e as Error };
  }

  if (!result.result) {
    const base = { valid: false, chain: [], leaf: info, detail: result.resultMessage };
    if (result.error instanceof PathBudgetExceeded) return { ...base, reason: 'pki.path_budget' };
    if (result.resultCode === 8) {
      return { ...base, reason: outOfValidity([leaf, ...intermediates, ...roots], time) ?? 'pki.expired' };
    }
    const mapped = engineReason(result.resultCode);
    if (mapped !== null && mapped !== 'pki.untrusted') return { ...base, reason: mapped };
    return { ...base, reason: await noPathReason(leaf, [...intermediates, ...roots], maxDepth + 1) };
  }

  const path = result.certificatePath ?? [];
  const post = await checkPath(path, crls, time, maxDepth, eku, requireDigitalSignature);
  const chain: string[] = [];
  for (const [i, c] of path.entries()) if (i === 0 || c !== path[i - 1]) chain.push(formatName(c.subject));
  if (post !== null) return { valid: false, reason: post.reason, chain: [], leaf: info, detail: post.detail };
  return { valid: true, reason: 'ok', chain, leaf: info, validity: pathValidity(path, crls) };
}
