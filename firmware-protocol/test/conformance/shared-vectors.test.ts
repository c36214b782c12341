import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromHex } from '@palisade/shared';
import { describe, expect, it } from 'vitest';
import { decodeCbor, encodeCbor, GENERIC_CBOR_LIMITS, Tag } from '../../src/cbor/index.js';
import { decodeSign1, verifySign1 } from '../../src/cose/index.js';
import { type CoseAlg, importVerifyKey, verifySignature } from '../../src/crypto/index.js';
import { isProtocolError } from '../../src/errors.js';

/**
 * External conformance vectors in `../shared/vectors/` (see its README), read in place and never edited. Every case
 * runs through the project's own functions: `verifySignature`, `decodeSign1`/`verifySign1`, `decodeCbor`.
 */
const VECTORS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../shared/vectors');
const readJson = <T>(...p: string[]): T => JSON.parse(readFileSync(join(VECTORS, ...p), 'utf8')) as T;

interface WycheproofFile {
  numberOfTests: number;
  testGroups: {
    publicKeyPem: string;
    tests: { tcId: number; comment: string; msg: string; sig: string; result: 'valid' | 'invalid' | 'acceptable' }[];
  }[];
}

function wycheproof(file: string, alg: CoseAlg, encoding: 'der' | 'p1363') {
  const data = readJson<WycheproofFile>('wycheproof', file);
  const cases = data.testGroups.flatMap((g) => g.tests.map((t) => ({ ...t, pem: g.publicKeyPem })));
  return { data, cases, alg, encoding };
}

describe('Wycheproof (C2SP/wycheproof) through verifySignature', () => {
  for (const { file, alg, encoding } of [
    { file: 'ecdsa_secp256r1_sha256_test.json', alg: 'ES256', encoding: 'der' },
    { file: 'ecdsa_secp256r1_sha256_p1363_test.json', alg: 'ES256', encoding: 'p1363' },
    { file: 'ed25519_test.json', alg: 'EdDSA', encoding: 'p1363' },
  ] as const) {
    it(`${file}: every valid case verifies, every invalid case is rejected`, () => {
      const { data, cases } = wycheproof(file, alg, encoding);
      expect(cases).toHaveLength(data.numberOfTests);
      // Policy for `acceptable` cases: these files contain none; if a future revision adds some, this fails so the
      // policy is decided deliberately rather than by accident.
      expect(cases.filter((c) => c.result === 'acceptable')).toEqual([]);
      const keys = new Map<string, ReturnType<typeof importVerifyKey>>();
      const wrong: string[] = [];
      for (const c of cases) {
        let key = keys.get(c.pem);
        if (!key) {
          key = importVerifyKey(c.pem, alg);
          keys.set(c.pem, key);
        }
        const ok = verifySignature(key, fromHex(c.msg), fromHex(c.sig), encoding);
        if (ok !== (c.result === 'valid')) wrong.push(`tc ${c.tcId} (${c.comment}): expected ${c.result}`);
      }
      expect(wrong).toEqual([]);
    });
  }
});

interface CoseExample {
  title: string;
  fail?: boolean;
  input: {
    sign0?: { key: Record<string, string>; alg: string; external?: string };
    sign?: unknown;
  };
  output: { cbor: string };
}

function exampleKey(jwk: Record<string, string>, alg: CoseAlg) {
  if (jwk.kty === 'OKP') {
    const x = Buffer.from(jwk.x_hex ?? '', 'hex').toString('base64url');
    return importVerifyKey({ kty: 'OKP', crv: jwk.crv, x }, alg);
  }
  return importVerifyKey({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, alg);
}

describe('COSE examples (cose-wg/Examples) through decodeSign1 + verifySign1', () => {
  const dirs = ['sign1-tests', 'ecdsa-examples', 'eddsa-examples'];
  const files = dirs.flatMap((d) =>
    readdirSync(join(VECTORS, 'cose', d))
      .filter((f) => f.startsWith('sign-') || f.includes('-sig-'))
      .map((f) => [d, f] as const),
  );

  it('finds the Sign1 cases the README names', () => {
    expect(files.length).toBe(15);
  });

  for (const [dir, file] of files) {
    const ex = readJson<CoseExample>('cose', dir, file);
    const sign0 = ex.input.sign0;
    if (!sign0) throw new Error(`${file} is not a Sign1 example`);
    const supported = sign0.alg === 'ES256' || (sign0.alg === 'EdDSA' && sign0.key.crv === 'Ed25519');
    const mustPass = !ex.fail && supported;
    it(`${dir}/${file} (${ex.title}) ${mustPass ? 'verifies' : 'is rejected'}`, () => {
      const bytes = fromHex(ex.output.cbor);
      const aad = sign0.external ? fromHex(sign0.external) : undefined;
      const run = () => {
        // RFC 9052 allows alg in the unprotected header (sign-pass-01); evidence does not ([FP-5.1-1]).
        const sign1 = decodeSign1(bytes, { requireProtectedAlg: false });
        return verifySign1(sign1, exampleKey(sign0.key, sign1.alg), aad);
      };
      if (mustPass) {
        expect(new TextDecoder().decode(run().payload)).toBe('This is the content.');
      } else {
        let error: unknown;
        try {
          run();
        } catch (e) {
          error = e;
        }
        expect(isProtocolError(error), String(error)).toBe(true);
        // Algorithms the protocol does not support (ES384, ES512) are refused as such, not as bad signatures; an
        // Ed448 key under alg EdDSA is refused as a key that does not suit the algorithm (EdDSA here is Ed25519).
        if (!supported) expect(['cose.unsupported_alg', 'cose.bad_key']).toContain((error as { code: string }).code);
      }
    });
  }

  it("sign-pass-01 (empty protected map h'a0', alg unprotected) is refused as evidence [FP-5.1-1]", () => {
    const ex = readJson<CoseExample>('cose', 'sign1-tests', 'sign-pass-01.json');
    expect(() => decodeSign1(fromHex(ex.output.cbor))).toThrow(/alg must be in the protected header/);
  });
});

interface AppendixA {
  hex: string;
  roundtrip: boolean;
  decoded?: unknown;
  diagnostic?: string;
}

/** JSON `decoded` values compared with what decodeCbor gives (maps decode to Map, byte strings to Uint8Array). */
function toJsonShape(v: unknown): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toJsonShape(x)]));
  if (Array.isArray(v)) return v.map(toJsonShape);
  if (typeof v === 'bigint') return Number(v);
  return v;
}

/** The expected values of the 23 vectors that carry only diagnostic notation. */
const DIAGNOSTIC: Record<string, (v: unknown) => boolean> = {
  Infinity: (v) => v === Number.POSITIVE_INFINITY,
  '-Infinity': (v) => v === Number.NEGATIVE_INFINITY,
  NaN: (v) => Number.isNaN(v),
  undefined: (v) => v === undefined,
  '0("2013-03-21T20:04:00Z")': (v) => v instanceof Date && v.toISOString() === '2013-03-21T20:04:00.000Z',
  '1(1363896240)': (v) => v instanceof Date && v.getTime() === 1363896240000,
  '1(1363896240.5)': (v) => v instanceof Date && v.getTime() === 1363896240500,
  "23(h'01020304')": (v) =>
    v instanceof Tag && v.tag === 23 && Buffer.from(v.value as Uint8Array).equals(Buffer.from([1, 2, 3, 4])),
  "24(h'6449455446')": (v) =>
    v instanceof Tag && v.tag === 24 && Buffer.from(v.value as Uint8Array).toString('hex') === '6449455446',
  '32("http://www.example.com")': (v) => v instanceof Tag && v.tag === 32 && v.value === 'http://www.example.com',
  "h''": (v) => v instanceof Uint8Array && v.length === 0,
  "h'01020304'": (v) => v instanceof Uint8Array && Buffer.from(v).equals(Buffer.from([1, 2, 3, 4])),
  "(_ h'0102', h'030405')": (v) => v instanceof Uint8Array && Buffer.from(v).equals(Buffer.from([1, 2, 3, 4, 5])),
  "2(h'010000000000000000')": (v) => v === 18446744073709551616n,
  "3(h'010000000000000000')": (v) => v === -18446744073709551617n,
  '18446744073709551615': (v) => v === 18446744073709551615n,
  '-18446744073709551616': (v) => v === -18446744073709551616n,
  '{1: 2, 3: 4}': (v) => v instanceof Map && v.get(1) === 2 && v.get(3) === 4 && v.size === 2,
};

/**
 * Vectors whose decoded JS value cannot remember its encoding, so only the VALUE can round-trip: floats (a JS number
 * does not record integer vs half/single/double, and -0 encodes as 0), -2^64 (a BigInt outside int64 that cbor-x
 * writes as a bignum) and tag 0 (a Date, which cbor-x writes as tag 1). The protocol never re-encodes received items:
 * signatures are checked over received bytes ([FP-5.1-2]).
 */
const VALUE_ONLY = (hex: string) => /^f[9ab]/.test(hex) || hex === '3bffffffffffffffff' || hex.startsWith('c074');

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && Number.isNaN(a)) return Number.isNaN(b);
  if (Object.is(a, -0)) return b === 0;
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
  return Object.is(a, b);
}

describe('CBOR RFC 8949 Appendix A (cbor/test-vectors) through decodeCbor', () => {
  const vectors = readJson<AppendixA[]>('cbor', 'appendix_a.json');

  it('has all 82 vectors', () => expect(vectors).toHaveLength(82));

  // Unassigned simple values (simple(16), simple(255)) have no defined meaning; cbor-x reserves them for its
  // packed-values extension, which must never be enabled on untrusted input. Policy: they are refused with
  // `cbor.unsupported` in every mode ([FP-2-3]). `f818` (simple(24) in two bytes) is not well-formed under RFC 8949
  // §3.3 (the vector predates it) and is refused as `cbor.malformed`. Every other vector decodes.
  const UNASSIGNED_SIMPLE = new Set(['f0', 'f818', 'f8ff']);

  for (const v of vectors) {
    const label = `${v.hex.slice(0, 40)} ${v.diagnostic ?? JSON.stringify(v.decoded)?.slice(0, 40)}`;
    if (UNASSIGNED_SIMPLE.has(v.hex)) {
      it(`${label}: unassigned simple value is refused`, () => {
        const code = v.hex === 'f818' ? 'cbor.malformed' : 'cbor.unsupported';
        expect(() => decodeCbor(fromHex(v.hex), GENERIC_CBOR_LIMITS)).toThrow(expect.objectContaining({ code }));
      });
      continue;
    }
    it(`${label}: decodes${v.roundtrip ? ' and round-trips' : ''}`, () => {
      const value = decodeCbor(fromHex(v.hex), GENERIC_CBOR_LIMITS);
      if ('decoded' in v) {
        if (typeof v.decoded === 'number' && Object.is(v.decoded, -0)) expect(Object.is(value, -0)).toBe(true);
        else expect(toJsonShape(value)).toEqual(v.decoded);
      } else {
        const check = DIAGNOSTIC[v.diagnostic ?? ''];
        expect(check, `no expectation for ${v.diagnostic}`).toBeDefined();
        expect(check?.(value), `${v.diagnostic} decoded to ${String(value)}`).toBe(true);
      }
      if (!v.roundtrip) return;
      const again = encodeCbor(value);
      if (VALUE_ONLY(v.hex)) {
        expect(sameValue(value, decodeCbor(again, GENERIC_CBOR_LIMITS))).toBe(true);
      } else {
        expect(Buffer.from(again).toString('hex')).toBe(v.hex);
      }
    });
  }

  it('the protocol profile refuses what Appendix A allows but the protocol does not use [FP-2-3]', () => {
    expect(() => decodeCbor(fromHex('5f42010243030405ff'))).toThrow(
      expect.objectContaining({ code: 'cbor.unsupported' }),
    );
    expect(() => decodeCbor(fromHex('c11a514b67b0'))).toThrow(expect.objectContaining({ code: 'cbor.unsupported' }));
    expect(() => decodeCbor(fromHex('f7'))).toThrow(expect.objectContaining({ code: 'cbor.unsupported' }));
  });
});
