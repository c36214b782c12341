import {
  decodeChallenge,
  decodeEvidenceMessage,
  encodeEvidenceMessage,
  parseDeviceTopic,
} from '@palisade/firmware-protocol';
import { toHex } from '@palisade/shared';
import { describe, expect, it } from 'vitest';
import { type AppraisalResult, ChallengeManager } from '../../src/attestation/index.js';
import { createDevice, createPki, harness, palisadeToken } from './fixtures.js';

const tick = () => new Promise<void>((r) => setTimeout(r, 5));

describe('challenge → evidence → appraisal, in process', () => {
  it('each device answers its own connect challenge and is affirmed; slots are freed; a second answer is refused', async () => {
    const pki = await createPki();
    const devices = await Promise.all(['nrf52-a', 'esp32-b', 'nrf52-c'].map((id) => createDevice(pki, id)));
    const h = harness(pki);
    const results: AppraisalResult[] = [];
    const sent: Uint8Array[] = [];
    const manager = new ChallengeManager({
      clock: h.clock,
      nonces: h.nonces,
      maxInFlight: 2,
      periodMs: 0,
      publish: async (topic, payload) => {
        const deviceId = parseDeviceTopic(topic)?.deviceId ?? '';
        const device = devices.find((d) => d.deviceId === deviceId);
        if (device === undefined) throw new Error(`challenge for unknown device ${deviceId}`);
        const { nonce } = decodeChallenge(payload);
        // the device's answer, as it would arrive on its evidence topic
        const message = encodeEvidenceMessage({ nonce, token: palisadeToken(device, nonce), format: 'palisade-eat' });
        sent.push(message);
        setImmediate(async () => {
          const m = decodeEvidenceMessage(message);
          const r = await h.appraiser.appraise(m.token, { deviceId, messageNonce: m.nonce, format: m.format });
          results.push(r);
          manager.answered(deviceId, toHex(m.nonce));
        });
      },
    });
    for (const d of devices) manager.connected(d.deviceId);
    // Appraisals verify on libuv's thread pool: wait for them by deadline, not by a count of event-loop turns.
    const deadline = Date.now() + 10_000;
    while (results.length < 3 && Date.now() < deadline) await tick();
    expect(results.map((r) => [r.deviceId, r.status]).sort()).toEqual([
      ['esp32-b', 'affirming'],
      ['nrf52-a', 'affirming'],
      ['nrf52-c', 'affirming'],
    ]);
    expect(manager.stats()).toEqual({ devices: 3, inFlight: 0, queued: 0 });
    // replaying a captured answer (a new token for the spent nonce would be `nonce_reused`; the same one is a duplicate)
    const first = decodeEvidenceMessage(sent[0] as Uint8Array);
    const owner = results.find((r) => r.nonceHex === toHex(first.nonce));
    const again = await h.appraiser.appraise(first.token, {
      deviceId: owner?.deviceId ?? '',
      messageNonce: first.nonce,
    });
    expect(again.duplicate).toBe(true);
    expect(h.results.results).toHaveLength(3);
    manager.stop();
  });
});
