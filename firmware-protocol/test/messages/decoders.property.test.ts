import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { palisadeClaims, psaClaims } from '../../scripts/vector-cases.js';
import { encodeCbor } from '../../src/cbor/index.js';
import { generateSigner } from '../../src/crypto/index.js';
import { isProtocolError } from '../../src/errors.js';
import { createPalisadeEvidence, createPsaEvidence, decodeEvidence } from '../../src/evidence/index.js';
import {
  decodeChallenge,
  decodeCommand,
  decodeCommandAck,
  decodeEvidenceMessage,
  decodeResult,
  decodeStatus,
  decodeTelemetry,
  encodeChallenge,
  encodeCommand,
  encodeCommandAck,
  encodeEvidenceMessage,
  encodeResult,
  encodeStatus,
  encodeTelemetry,
} from '../../src/messages/index.js';

/** [FP-10-6] A decoder either returns or throws a ProtocolError; nothing else, whatever the bytes. */
function onlyProtocolErrors(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): void {
  try {
    decode(bytes);
  } catch (e) {
    if (!isProtocolError(e)) {
      throw new Error(`decoder threw a non-ProtocolError: ${String(e)} on ${Buffer.from(bytes).toString('hex')}`);
    }
  }
}

const signer = generateSigner('ES256');
const nonce = new Uint8Array(32).fill(1);
const EAR = 'eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ.c2ln';

const samples: [string, (b: Uint8Array) => unknown, Uint8Array][] = [
  ['evidence (palisade)', decodeEvidence, createPalisadeEvidence(palisadeClaims(), signer)],
  ['evidence (psa-2)', decodeEvidence, createPsaEvidence(psaClaims('psa-2'), signer)],
  ['evidence (psa-1)', decodeEvidence, createPsaEvidence(psaClaims('psa-1'), signer)],
  ['challenge', decodeChallenge, encodeChallenge({ nonce, issuedAt: 5, ttlMs: 30_000, reason: 'periodic' })],
  ['evidence message', decodeEvidenceMessage, encodeEvidenceMessage({ nonce, token: nonce, format: 'psa' })],
  ['result', decodeResult, encodeResult({ nonce, status: 'warning', reasons: ['a.b'], ear: EAR })],
  [
    'command',
    decodeCommand,
    encodeCommand({ id: 'c1', type: 're-attest', args: { why: 'x', n: 1 }, issuedAt: 1, expiresAt: 2 }),
  ],
  ['command ack', decodeCommandAck, encodeCommandAck({ id: 'c1', outcome: 'rejected', detail: 'no' })],
  ['telemetry', decodeTelemetry, encodeTelemetry({ seq: 1, ts: 2, values: { t: 1.5, h: 40 } })],
  ['status', decodeStatus, encodeStatus({ state: 'online', firmwareVersion: '1.0.0', bootCount: 1 })],
];

/** A valid message with bytes flipped, inserted, deleted or the tail cut. */
const mutation = (base: Uint8Array) =>
  fc
    .array(
      fc.oneof(
        fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bits: fc.integer({ min: 1, max: 255 }) }),
        fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
        fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
        fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((ops) => {
      let b = Array.from(base);
      for (const op of ops) {
        const at = b.length === 0 ? 0 : op.at % b.length;
        if (op.kind === 'flip' && b.length > 0) b[at] = (b[at] ?? 0) ^ op.bits;
        else if (op.kind === 'insert') b.splice(at, 0, op.byte);
        else if (op.kind === 'delete') b.splice(at, 1);
        else if (op.kind === 'cut') b = b.slice(0, at);
      }
      return new Uint8Array(b);
    });

describe('decoders throw only ProtocolError [FP-10-6]', () => {
  it.each(samples)('%s: arbitrary bytes', (_name, decode) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => onlyProtocolErrors(decode, bytes)),
      { numRuns: 1000 },
    );
  });

  it.each(samples)('%s: mutated valid messages', (_name, decode, valid) => {
    expect(() => decode(valid)).not.toThrow();
    fc.assert(
      fc.property(mutation(valid), (bytes) => onlyProtocolErrors(decode, bytes)),
      { numRuns: 1000 },
    );
  });

  it.each(samples)('%s: arbitrary CBOR-shaped values', (_name, decode) => {
    // Well-formed CBOR of random shape reaches the schema layer rather than the CBOR layer.
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.integer(),
        fc.double(),
        fc.string(),
        fc.uint8Array({ maxLength: 70 }),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('node'), { maxLength: 4 }),
        fc
          .array(fc.tuple(fc.oneof(fc.integer({ min: -80005, max: 2400 }), fc.string()), tie('node')), {
            maxLength: 6,
          })
          .map((entries) => new Map(entries)),
      ),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        let bytes: Uint8Array;
        try {
          bytes = encodeCbor(v);
        } catch {
          return;
        }
        onlyProtocolErrors(decode, bytes);
      }),
      { numRuns: 500 },
    );
  });
});
