import { describeError, toHex } from '@palisade/shared';
import { decodeCbor, GENERIC_CBOR_LIMITS, Tag } from '../cbor/index.js';
import { COSE_HEADER, decodeSign1 } from '../cose/index.js';
import { ProtocolError } from '../errors.js';
import {
  COMPONENT_KEY,
  EAT_CLAIM,
  PALISADE_CLAIM,
  PALISADE_MEASUREMENT_CONTENT_TYPE,
  PSA1_CLAIM,
  PSA2_CLAIM,
} from '../evidence/claims.js';
import { decodeEvidenceClaims } from '../evidence/evidence.js';
import { decodeEvidenceMessage } from '../messages/messages.js';
import { parseCertificate } from '../pki/index.js';

/**
 * `palisade-sim inspect`: a readable JSON view of any evidence token (Palisade EAT or PSA, tagged or not) or of an
 * evidence message wrapping one. Nothing here checks a signature; it is a debugging aid, not a verifier.
 */

const CLAIM_NAMES = new Map<number, string>([
  ...Object.entries(EAT_CLAIM).map(([k, v]) => [v, k] as [number, string]),
  ...Object.entries(PALISADE_CLAIM).map(([k, v]) => [v, `palisade.${k}`] as [number, string]),
  ...Object.entries(PSA2_CLAIM).map(([k, v]) => [v, `psa.${k}`] as [number, string]),
  ...Object.entries(PSA1_CLAIM).map(([k, v]) => [v, `psa1.${k}`] as [number, string]),
]);
const HEADER_NAMES = new Map<number | string, string>(
  Object.entries(COSE_HEADER).map(([k, v]) => [v, k] as [number, string]),
);
const COMPONENT_NAMES = new Map<number, string>(
  Object.entries(COMPONENT_KEY).map(([k, v]) => [v, k] as [number, string]),
);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** CBOR value → JSON: byte strings as hex, maps as objects (integer keys labelled with `names` where known). */
function toJson(v: unknown, names?: ReadonlyMap<number | string, string>): Json {
  if (v instanceof Uint8Array) return toHex(v);
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map((x) => toJson(x));
  if (v instanceof Tag) return { tag: v.tag, value: toJson(v.value) };
  if (v instanceof Map) {
    const out: { [k: string]: Json } = {};
    for (const [k, x] of v) {
      const name = names?.get(k as number);
      out[name === undefined ? String(k) : `${String(k)} (${name})`] = toJson(x);
    }
    return out;
  }
  return String(v);
}

function certificateJson(der: Uint8Array): Json {
  try {
    const c = parseCertificate(der);
    const out: { [k: string]: Json } = {
      subject: c.subject,
      issuer: c.issuer,
      serial: c.serial,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      keyType: c.keyType,
    };
    if (c.deviceId !== undefined) out['deviceId'] = c.deviceId;
    return out;
  } catch (e) {
    return { unparsable: describeError(e).code, der: toHex(der) };
  }
}

function headerJson(h: Map<number | string, unknown>): Json {
  const out = toJson(h, HEADER_NAMES) as { [k: string]: Json };
  const x5 = h.get(COSE_HEADER.x5chain);
  if (x5 !== undefined) {
    const certs = x5 instanceof Uint8Array ? [x5] : Array.isArray(x5) ? x5 : [];
    out[`${COSE_HEADER.x5chain} (x5chain)`] = certs.map((c) => (c instanceof Uint8Array ? certificateJson(c) : null));
  }
  return out;
}

function claimsJson(payload: Uint8Array): Json {
  const claims = decodeCbor(payload, GENERIC_CBOR_LIMITS);
  if (!(claims instanceof Map)) return toJson(claims);
  const out = toJson(claims, CLAIM_NAMES) as { [k: string]: Json };
  const m = claims.get(EAT_CLAIM.measurements);
  if (Array.isArray(m)) {
    // Palisade measurements are [content-type, bstr .cbor measured-component]: show the component decoded.
    out[`${EAT_CLAIM.measurements} (measurements)`] = m.map((e) => {
      if (Array.isArray(e) && e[0] === PALISADE_MEASUREMENT_CONTENT_TYPE && e[1] instanceof Uint8Array) {
        try {
          return { contentType: e[0], component: toJson(decodeCbor(e[1]), COMPONENT_NAMES) };
        } catch {
          return toJson(e);
        }
      }
      return toJson(e);
    });
  }
  for (const key of [PSA2_CLAIM.softwareComponents, PSA1_CLAIM.softwareComponents]) {
    const comps = claims.get(key);
    const name = CLAIM_NAMES.get(key);
    if (Array.isArray(comps)) out[`${key} (${name})`] = comps.map((c) => toJson(c, COMPONENT_NAMES));
  }
  return out;
}

/** Hex text (whitespace ignored, optional 0x) or raw bytes. */
export function readTokenBytes(content: Uint8Array): Uint8Array {
  const text = Buffer.from(content).toString('latin1').replace(/\s+/g, '').replace(/^0x/i, '');
  if (text.length > 0 && text.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text)) {
    return new Uint8Array(Buffer.from(text, 'hex'));
  }
  return content;
}

/**
 * The JSON view of a token, or of an evidence message (§4.3) wrapping one. Throws {@link ProtocolError} when the
 * bytes are neither.
 */
export function inspectEvidence(bytes: Uint8Array): Record<string, Json> {
  let token = bytes;
  let envelope: Json | undefined;
  try {
    const msg = decodeEvidenceMessage(bytes);
    token = msg.token;
    envelope = { nonce: toHex(msg.nonce), format: msg.format };
  } catch {
    // Not an evidence message: treat the bytes as the token itself.
  }
  const sign1 = decodeSign1(token, { limits: GENERIC_CBOR_LIMITS, requireProtectedAlg: false });
  const out: Record<string, Json> = {};
  if (envelope !== undefined) out['evidenceMessage'] = envelope;
  out['tagged'] = sign1.tagged;
  out['alg'] = sign1.alg;
  out['protectedHeader'] = headerJson(sign1.protectedHeader);
  out['unprotectedHeader'] = headerJson(sign1.unprotectedHeader);
  out['claims'] = claimsJson(sign1.payload);
  try {
    const n = decodeEvidenceClaims(sign1.payload);
    out['profile'] = n.profile;
    out['normalised'] = toJson(
      new Map<string, unknown>(
        Object.entries(n).map(([k, v]) => [k, k === 'measurements' || k === 'psa' ? normalisedJson(v) : v]),
      ),
    );
  } catch (e) {
    out['claimsError'] = e instanceof ProtocolError ? { code: e.code, message: e.message } : describeError(e);
  }
  out['signature'] = toHex(sign1.signature);
  return out;
}

function normalisedJson(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalisedJson);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) return new Map(Object.entries(v));
  return v;
}
