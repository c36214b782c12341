import fc from 'fast-check';
import { describe, it } from 'vitest';
import { palisadeClaims, psaClaims } from '../../scripts/vector-cases.js';
import { encodeCbor } from '../../src/cbor/index.js';
import { isProtocolError } from '../../src/errors.js';
import {
  decodeEvidenceClaims,
  EAT_CLAIM,
  encodePalisadeClaims,
  encodePsaClaims,
  PALISADE_EAT_PROFILE_ID,
  PSA1_CLAIM,
  PSA1_PROFILE_ID,
  PSA2_PROFILE_ID,
} from '../../src/evidence/index.js';

/** Claims maps with one or more claims replaced by arbitrary values reach only ProtocolError [FP-10-6]. */
const anyValue = fc.oneof(
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.double(),
  fc.string({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 70 }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.integer(), fc.uint8Array({ maxLength: 40 }), fc.string()), { maxLength: 4 }),
  fc.array(fc.tuple(fc.constant(65000), fc.uint8Array({ maxLength: 80 })), { maxLength: 3 }),
  fc
    .array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.oneof(fc.string(), fc.uint8Array({ maxLength: 70 }))), {
      maxLength: 6,
    })
    .map((e) => new Map(e)),
);

function check(payload: Uint8Array): void {
  try {
    decodeEvidenceClaims(payload);
  } catch (e) {
    if (!isProtocolError(e)) throw new Error(`non-ProtocolError: ${String(e)}`);
  }
}

describe('claims decoders on hostile claim values', () => {
  const bases: [string, () => Map<number, unknown>, number[]][] = [
    [
      'palisade',
      () => encodePalisadeClaims(palisadeClaims()),
      [
        EAT_CLAIM.nonce,
        EAT_CLAIM.ueid,
        EAT_CLAIM.iat,
        EAT_CLAIM.bootcount,
        EAT_CLAIM.bootseed,
        EAT_CLAIM.measurements,
        -80000,
        -80001,
        -80002,
      ],
    ],
    ['psa-2', () => encodePsaClaims(psaClaims('psa-2')), [10, 256, 268, 2394, 2395, 2396, 2398, 2399, 2400]],
    [
      'psa-1',
      () => encodePsaClaims(psaClaims('psa-1')),
      Object.values(PSA1_CLAIM).filter((k) => k !== PSA1_CLAIM.profile),
    ],
  ];

  it.each(bases)('%s', (_name, base, keys) => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...keys), fc.option(anyValue, { nil: undefined })), {
          minLength: 1,
          maxLength: 4,
        }),
        (changes) => {
          const map = base();
          for (const [k, v] of changes) {
            if (v === undefined) map.delete(k);
            else map.set(k, v);
          }
          check(encodeCbor(map));
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('profile claims of any value', () => {
    fc.assert(
      fc.property(
        fc.oneof(anyValue, fc.constantFrom(PALISADE_EAT_PROFILE_ID, PSA2_PROFILE_ID, PSA1_PROFILE_ID)),
        fc.boolean(),
        (profile, psa1) => {
          const map = encodePalisadeClaims(palisadeClaims());
          map.delete(EAT_CLAIM.eatProfile);
          map.set(psa1 ? PSA1_CLAIM.profile : EAT_CLAIM.eatProfile, profile);
          check(encodeCbor(map));
        },
      ),
      { numRuns: 500 },
    );
  });
});
