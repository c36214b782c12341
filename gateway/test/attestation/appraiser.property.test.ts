import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDevice, createPki, harness, palisadeToken, type TestDevice, type TestPki } from './fixtures.js';

let pki: TestPki;
let dev: TestDevice;

beforeAll(async () => {
  pki = await createPki();
  dev = await createDevice(pki, 'nrf52-prop');
});

describe('appraisal never trusts what it cannot verify (property)', () => {
  it('arbitrary bytes: never affirming, always a reason, never a throw', async () => {
    const h = harness(pki);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
        const r = await h.appraiser.appraise(bytes, { deviceId: dev.deviceId });
        expect(r.status).not.toBe('affirming');
        expect(r.reasons.length).toBeGreaterThan(0);
      }),
      { numRuns: 200, seed: 42 },
    );
  });

  it('a valid token with any one byte changed is never affirming', async () => {
    const h = harness(pki);
    const n = h.challenge(dev.deviceId);
    const token = palisadeToken(dev, n);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: token.length - 1 }), fc.integer({ min: 1, max: 255 }), async (i, x) => {
        const bad = token.slice();
        bad[i] = (bad[i] as number) ^ x;
        const r = await h.appraiser.appraise(bad, { deviceId: dev.deviceId, messageNonce: n });
        expect(r.status).not.toBe('affirming');
      }),
      { numRuns: 150, seed: 7 },
    );
    // and the nonce was never spent by any of the mutants: the genuine token still passes
    const ok = await h.appraiser.appraise(token, { deviceId: dev.deviceId, messageNonce: n });
    expect(ok.status).toBe('affirming');
  });
});
