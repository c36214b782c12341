import { type CborLimits, DEFAULT_CBOR_LIMITS, decodeCbor, encodeCbor, Tag } from '../cbor/index.js';
import {
  COSE_ALG,
  type CoseAlg,
  coseAlgFromId,
  type Signer,
  type VerifyKey,
  verifySignature,
} from '../crypto/index.js';
import { ProtocolError } from '../errors.js';

/** COSE header labels used by the protocol (RFC 9052 §3.1, RFC 9360 §2). */
export const COSE_HEADER = { alg: 1, crit: 2, contentType: 3, kid: 4, x5chain: 33 } as const;

/** CBOR tag of a tagged COSE_Sign1 (RFC 9052 §2). */
export const COSE_SIGN1_TAG = 18;

export type HeaderMap = Map<number | string, unknown>;

/** A decoded COSE_Sign1. The byte fields are exactly what was received; verification uses them, never a re-encoding. */
export interface Sign1 {
  tagged: boolean;
  /** The protected header as received (the bstr's content; empty for an empty header). */
  protectedBytes: Uint8Array;
  protectedHeader: HeaderMap;
  unprotectedHeader: HeaderMap;
  payload: Uint8Array;
  signature: Uint8Array;
  alg: CoseAlg;
  /** True when `alg` came from the protected header (the protocol requires it, [FP-5.1-1]). */
  algProtected: boolean;
  kid?: Uint8Array;
  /** Certificates (DER), leaf first (RFC 9360). */
  x5chain?: Uint8Array[];
}

export interface DecodeSign1Options {
  limits?: Readonly<CborLimits>;
  /**
   * [FP-5.1-1] `alg` must be in the protected header (default). RFC 9052 itself allows it unprotected; general COSE
   * tooling (and the COSE working group's examples) set this to false.
   */
  requireProtectedAlg?: boolean;
}

/** Header labels this implementation understands, for `crit` (RFC 9052 §3.1). */
const UNDERSTOOD = new Set<number | string>([
  COSE_HEADER.alg,
  COSE_HEADER.crit,
  COSE_HEADER.contentType,
  COSE_HEADER.kid,
  COSE_HEADER.x5chain,
]);

function malformed(message: string): ProtocolError {
  return new ProtocolError('cose.malformed', message);
}

function asHeaderMap(v: unknown, what: string): HeaderMap {
  if (!(v instanceof Map)) throw malformed(`${what} header must be a map`);
  for (const k of v.keys()) {
    if (typeof k !== 'number' && typeof k !== 'string') throw malformed(`${what} header label must be an int or text`);
  }
  return v as HeaderMap;
}

function decodeProtected(bytes: Uint8Array, limits: Readonly<CborLimits>): HeaderMap {
  // RFC 9052 §3: a zero-length bstr is an empty header; an encoded empty map (h'a0') is also accepted.
  if (bytes.length === 0) return new Map();
  return asHeaderMap(decodeCbor(bytes, limits), 'protected');
}

/**
 * Decodes a COSE_Sign1 (tagged or untagged) and checks its structure and headers, without checking the signature.
 * Throws `cbor.*` for undecodable input, `cose.malformed`, `cose.header_conflict` or `cose.unsupported_alg`.
 */
export function decodeSign1(bytes: Uint8Array, opts: DecodeSign1Options = {}): Sign1 {
  const limits = opts.limits ?? DEFAULT_CBOR_LIMITS;
  const top = decodeCbor(bytes, limits);
  let tagged = false;
  let body: unknown = top;
  if (top instanceof Tag) {
    if (top.tag !== COSE_SIGN1_TAG) throw malformed(`tag ${top.tag} is not COSE_Sign1`);
    tagged = true;
    body = top.value;
  }
  if (!Array.isArray(body) || body.length !== 4) throw malformed('COSE_Sign1 must be an array of four items');
  const [p, u, payload, signature] = body as [unknown, unknown, unknown, unknown];
  if (!(p instanceof Uint8Array)) throw malformed('protected header must be a byte string');
  if (payload === null) throw malformed('detached payloads are not supported');
  if (!(payload instanceof Uint8Array)) throw malformed('payload must be a byte string');
  if (!(signature instanceof Uint8Array)) throw malformed('signature must be a byte string');
  const protectedHeader = decodeProtected(p, limits);
  const unprotectedHeader = asHeaderMap(u, 'unprotected');

  for (const label of protectedHeader.keys()) {
    if (unprotectedHeader.has(label)) {
      throw new ProtocolError('cose.header_conflict', `header ${String(label)} is both protected and unprotected`);
    }
  }
  const crit = protectedHeader.get(COSE_HEADER.crit);
  if (crit !== undefined) {
    if (!Array.isArray(crit) || crit.length === 0) throw malformed('crit must be a non-empty array');
    for (const label of crit) {
      if (!UNDERSTOOD.has(label as number)) {
        throw new ProtocolError('cose.unsupported_alg', `critical header ${String(label)} is not understood`);
      }
    }
  }
  if (unprotectedHeader.has(COSE_HEADER.crit)) throw malformed('crit must be protected');

  const algProtected = protectedHeader.has(COSE_HEADER.alg);
  const rawAlg = algProtected ? protectedHeader.get(COSE_HEADER.alg) : unprotectedHeader.get(COSE_HEADER.alg);
  if (rawAlg === undefined) throw malformed('alg header is missing');
  if (!algProtected && opts.requireProtectedAlg !== false) throw malformed('alg must be in the protected header');
  const alg = coseAlgFromId(rawAlg);
  if (alg === undefined) {
    throw new ProtocolError('cose.unsupported_alg', `algorithm ${String(rawAlg).slice(0, 40)} is not supported`, {
      details: { alg: typeof rawAlg === 'number' ? rawAlg : String(rawAlg).slice(0, 40) },
    });
  }

  const sign1: Sign1 = {
    tagged,
    protectedBytes: p,
    protectedHeader,
    unprotectedHeader,
    payload,
    signature,
    alg,
    algProtected,
  };
  const kid = protectedHeader.get(COSE_HEADER.kid) ?? unprotectedHeader.get(COSE_HEADER.kid);
  if (kid !== undefined) {
    if (!(kid instanceof Uint8Array)) throw malformed('kid must be a byte string');
    sign1.kid = kid;
  }
  const x5 = protectedHeader.get(COSE_HEADER.x5chain) ?? unprotectedHeader.get(COSE_HEADER.x5chain);
  if (x5 !== undefined) {
    const certs = x5 instanceof Uint8Array ? [x5] : x5;
    if (!Array.isArray(certs) || certs.length === 0 || !certs.every((c) => c instanceof Uint8Array && c.length > 0)) {
      throw malformed('x5chain must be a certificate or a non-empty array of certificates');
    }
    sign1.x5chain = certs as Uint8Array[];
  }
  return sign1;
}

/** The Sig_structure of RFC 9052 §4.4 for a COSE_Sign1, built from the bytes as received. */
export function sign1ToBeSigned(
  protectedBytes: Uint8Array,
  payload: Uint8Array,
  externalAad: Uint8Array = new Uint8Array(0),
): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, externalAad, payload]);
}

/**
 * Checks the signature of a decoded COSE_Sign1 with `key` over the received protected-header and payload bytes
 * ([FP-5.1-2]). The key's algorithm must equal the header's. Returns the same Sign1 so calls chain.
 */
export function verifySign1(sign1: Sign1, key: VerifyKey, externalAad?: Uint8Array): Sign1 {
  if (key.alg !== sign1.alg) {
    throw new ProtocolError('cose.unsupported_alg', `token is signed with ${sign1.alg}, the key is for ${key.alg}`, {
      details: { tokenAlg: sign1.alg, keyAlg: key.alg },
    });
  }
  // RFC 9052 §3/§4.4: an empty protected header, sent as h'' or as h'a0', is signed as a zero-length bstr.
  const protectedBytes = sign1.protectedHeader.size === 0 ? new Uint8Array(0) : sign1.protectedBytes;
  const tbs = sign1ToBeSigned(protectedBytes, sign1.payload, externalAad);
  if (!verifySignature(key, tbs, sign1.signature, 'p1363')) {
    throw new ProtocolError('cose.bad_signature', 'signature does not verify');
  }
  return sign1;
}

export interface SignSign1Input {
  payload: Uint8Array;
  signer: Signer;
  /** Extra protected header entries (alg is always set from the signer). */
  protectedHeader?: HeaderMap;
  unprotectedHeader?: HeaderMap;
  /** Wrap in tag 18 (default true). */
  tagged?: boolean;
  externalAad?: Uint8Array;
}

/** Produces a COSE_Sign1 with `alg` in the protected header. */
export function signSign1(input: SignSign1Input): Uint8Array {
  const protectedHeader: HeaderMap = new Map([[COSE_HEADER.alg, COSE_ALG[input.signer.alg]]]);
  for (const [k, v] of input.protectedHeader ?? []) if (k !== COSE_HEADER.alg) protectedHeader.set(k, v);
  const protectedBytes = encodeCbor(protectedHeader);
  const signature = input.signer.sign(sign1ToBeSigned(protectedBytes, input.payload, input.externalAad));
  const body = [protectedBytes, input.unprotectedHeader ?? new Map(), input.payload, signature];
  return encodeCbor(input.tagged === false ? body : new Tag(body, COSE_SIGN1_TAG));
}
