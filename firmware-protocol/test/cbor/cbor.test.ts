import { fromHex } from '@palisade/shared';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CBOR_LIMITS, decodeCbor, encodeCbor, GENERIC_CBOR_LIMITS } from '../../src/cbor/index.js';
import { decodeSign1, signSign1, verifySign1 } from '../../src/cose/index.js';
import { generateSigner, importVerifyKey } from '../../src/crypto/index.js';
import { isProtocolError } from '../../src/errors.js';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (isProtocolError(e)) return e.code;
    throw e;
  }
  return 'ok';
};

describe('decodeCbor limits [FP-2-2]', () => {
  it('refuses input over the size limit before scanning', () => {
    expect(code(() => decodeCbor(new Uint8Array(DEFAULT_CBOR_LIMITS.maxBytes + 1)))).toBe('cbor.too_large');
  });

  it('refuses nesting deeper than 16, accepts 16', () => {
    const nested = (n: number) => new Uint8Array([...Array(n - 1).fill(0x81), 0x00]);
    expect(code(() => decodeCbor(nested(16)))).toBe('ok');
    expect(code(() => decodeCbor(nested(17)))).toBe('cbor.too_deep');
    // A deeply nested bomb never reaches the recursive decoder.
    expect(code(() => decodeCbor(new Uint8Array(8000).fill(0x81)))).toBe('cbor.too_deep');
  });

  it('refuses containers with more than 256 items and headers that promise more than the input holds', () => {
    expect(code(() => decodeCbor(fromHex(`990101${'00'.repeat(257)}`)))).toBe('cbor.too_many_items');
    // array of 2^32-1 items in 5 bytes: must not allocate anything
    expect(code(() => decodeCbor(fromHex('9affffffff')))).toBe('cbor.too_many_items');
    expect(code(() => decodeCbor(fromHex('5affffffff')))).toBe('cbor.too_large');
    expect(code(() => decodeCbor(fromHex('5820aabb')))).toBe('cbor.malformed');
  });

  it('refuses trailing bytes, duplicate keys, bad UTF-8, unknown tags and reserved encodings', () => {
    expect(code(() => decodeCbor(fromHex('0000')))).toBe('cbor.trailing_bytes');
    expect(code(() => decodeCbor(fromHex('a201020103')))).toBe('cbor.malformed');
    expect(code(() => decodeCbor(fromHex('62c328')))).toBe('cbor.malformed');
    expect(code(() => decodeCbor(fromHex('d81b820102')))).toBe('cbor.unsupported'); // tag 27 (cbor-x constructors)
    expect(code(() => decodeCbor(fromHex('d9e00001')))).toBe('cbor.unsupported');
    expect(code(() => decodeCbor(fromHex('1c')))).toBe('cbor.malformed');
    expect(code(() => decodeCbor(fromHex('ff')))).toBe('cbor.malformed');
    expect(code(() => decodeCbor(new Uint8Array(0)))).toBe('cbor.malformed');
    expect(code(() => decodeCbor(fromHex('c16161'), GENERIC_CBOR_LIMITS))).toBe('cbor.malformed'); // tag 1 on text
  });

  it('decodes integer-keyed maps to Map and byte strings to Uint8Array copies [FP-6-1]', () => {
    const input = encodeCbor(
      new Map<number, unknown>([
        [1, new Uint8Array([9, 9])],
        [-2, 'x'],
      ]),
    );
    const value = decodeCbor(input) as Map<number, unknown>;
    expect(value).toBeInstanceOf(Map);
    const bytes = value.get(1) as Uint8Array;
    expect(bytes.constructor).toBe(Uint8Array);
    input.fill(0);
    expect([...bytes]).toEqual([9, 9]);
    expect(value.get(-2)).toBe('x');
  });
});

const protocolValue = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.string({ maxLength: 20 }),
    fc.uint8Array({ maxLength: 20 }),
    fc.array(tie('node'), { maxLength: 5 }),
    fc
      .uniqueArray(fc.integer({ min: -1000, max: 1000 }), { maxLength: 5 })
      .chain((keys) =>
        fc.tuple(...keys.map(() => tie('node'))).map((vals) => new Map(keys.map((k, i) => [k, vals[i]]))),
      ),
  ),
})).node;

describe('CBOR properties [FP-10-6]', () => {
  it('decodeCbor throws only ProtocolError on arbitrary bytes, in both modes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const limits of [DEFAULT_CBOR_LIMITS, GENERIC_CBOR_LIMITS]) {
          try {
            decodeCbor(bytes, limits);
          } catch (e) {
            if (!isProtocolError(e)) throw e;
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('encode then decode gives the same value for protocol-shaped values', () => {
    fc.assert(
      fc.property(protocolValue, (v) => {
        expect(decodeCbor(encodeCbor(v))).toEqual(v);
      }),
      { numRuns: 500 },
    );
  });

  it('decodeSign1 throws only ProtocolError on mutated tokens, and a verified token always verifies again', () => {
    const signer = generateSigner('ES256');
    const key = importVerifyKey(signer.publicKey, 'ES256');
    const token = signSign1({ payload: encodeCbor(new Map([[10, new Uint8Array(32)]])), signer });
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, bits) => {
        const bad = new Uint8Array(token);
        bad[at] = (bad[at] as number) ^ bits;
        try {
          verifySign1(decodeSign1(bad), key);
          // A flipped bit that still verifies would be a forgery.
          throw new Error(`mutation at ${at} still verifies`);
        } catch (e) {
          if (!isProtocolError(e)) throw e;
        }
      }),
      { numRuns: 400 },
    );
  });
});
