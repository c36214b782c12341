/**
 * COSE_Sign1 verification throughput: the project's path (decodeSign1 with its limit scan, then verifySign1 over the
 * received bytes with a cached key) beside raw `node:crypto` verify of the same signature, same key object, same
 * bytes, in the same run. Batches alternate between the two so machine noise hits both alike; the ratio is the
 * median of per-round ratios. Usage: `npx tsc -b && node test/dist/bench/cose-verify.bench.js [--seconds N]`
 */
import { verify } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  type CoseAlg,
  decodeSign1,
  encodeCbor,
  generateSigner,
  importVerifyKey,
  sign1ToBeSigned,
  signSign1,
  verifySign1,
} from '@palisade/firmware-protocol';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '6' } } });
const seconds = Number(values.seconds);

function rate(fn: () => void, ms: number): number {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

for (const alg of ['ES256', 'EdDSA'] as CoseAlg[]) {
  const signer = generateSigner(alg);
  const key = importVerifyKey(signer.publicKey, alg);
  // A realistic evidence-sized payload (~340 bytes of claims).
  const payload = encodeCbor(
    new Map<number, unknown>([
      [10, new Uint8Array(32)],
      [256, new Uint8Array(33)],
      [-80000, 'nrf52'],
      [273, [[65000, new Uint8Array(250)]]],
    ]),
  );
  const token = signSign1({ payload, signer });
  const parsed = decodeSign1(token);
  const tbs = sign1ToBeSigned(parsed.protectedBytes, parsed.payload);
  const sig = parsed.signature;
  const raw =
    alg === 'ES256'
      ? () => {
          if (!verify('sha256', tbs, { key: key.key, dsaEncoding: 'ieee-p1363' }, sig))
            throw new Error('raw verify failed');
        }
      : () => {
          if (!verify(null, tbs, key.key, sig)) throw new Error('raw verify failed');
        };
  const project = () => {
    verifySign1(decodeSign1(token), key);
  };
  rate(raw, 300);
  rate(project, 300); // warm-up
  const rounds = 10;
  const ratios: number[] = [];
  const raws: number[] = [];
  const projects: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const slice = (seconds * 1000) / rounds / 2;
    const a = rate(raw, slice);
    const b = rate(project, slice);
    raws.push(a);
    projects.push(b);
    ratios.push(b / a);
  }
  console.log(
    JSON.stringify({
      bench: 'cose-sign1-verify',
      alg,
      tokenBytes: token.length,
      rawVerifyPerSec: Math.round(median(raws)),
      projectVerifyPerSec: Math.round(median(projects)),
      ratio: Number(median(ratios).toFixed(3)),
      target: 0.8,
    }),
  );
}
