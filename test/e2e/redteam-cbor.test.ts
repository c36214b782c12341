/**
 * Red team, hostile CBOR: an enrolled, affirmed device sends decoder bombs — deep nesting, lengths that announce
 * gigabytes, unterminated indefinite items, tag towers, duplicate keys — in every message type it may publish
 * (telemetry, status, command ack, evidence message, and the token inside an evidence message). [FP-10-6] Every
 * decoder enforces the §2 limits: nothing is stored, the process stays up and responsive, and only the evidence
 * topic turns the device's own garbage into a (contraindicated) result.
 */
import { encodeEvidenceMessage, encodeTelemetry, topics } from '@palisade/firmware-protocol';
import type { DeviceState } from '@palisade/firmware-protocol/simulator';
import { countTelemetryRows } from '@palisade/gateway';
import { describe, expect, it } from 'vitest';
import { Attacker, connectTls, identityOf, provision, sleep, until } from '../src/redteam/attacker.js';
import { gateway, simDir, tempDir } from './gateway-world.js';

const repeat = (prefix: number[], n: number, tail: number[]) =>
  Buffer.from([...Array.from({ length: n }, () => prefix).flat(), ...tail]);

/** Decoder bombs, each under the broker's packet limit. */
const BOMBS: Record<string, Buffer> = {
  deepArrays: repeat([0x81], 8_000, [0x00]),
  deepMaps: repeat([0xa1, 0x01], 4_000, [0x00]),
  hugeByteString: Buffer.from([0x5a, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01]),
  hugeByteString64: Buffer.from([0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]),
  hugeMap: Buffer.from([0xbb, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01]),
  hugeArray: Buffer.from([0x9b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]),
  unterminated: repeat([0x9f], 5_000, []),
  indefiniteStrings: repeat([0x5f, 0x41, 0x00], 3_000, []),
  tagTower: repeat([0xd8, 0x18], 4_000, [0x00]),
  manyKeys: Buffer.concat([
    Buffer.from([0xb9, 0x0f, 0xa0]),
    Buffer.from(Array.from({ length: 4_000 }, (_, i) => [0x19, (i >> 8) & 0xff, i & 0xff, 0xf6]).flat()),
  ]),
  duplicateKeys: Buffer.from([0xa3, 0x01, 0x01, 0x02, 0x00, 0x01, 0x02]),
  telemetryDuplicateKeys: Buffer.concat([
    Buffer.from([0xa4]),
    Buffer.from(encodeTelemetry({ seq: 1, ts: 1, values: { t: 1 } })).subarray(1),
    Buffer.from([0x01, 0x02]),
  ]),
};

describe('red team: CBOR bombs', () => {
  it('survives decoder bombs in every device message, storing nothing and staying responsive', async () => {
    const ids = ['rc-esp32-1', 'rc-nrf52-2'];
    const gw = await gateway(tempDir('rc-gw'), ids);
    const dir = tempDir('rc-dev');
    const [self, honest] = (await Promise.all([
      provision(dir, simDir, ids[0] as string, 'esp32'),
      provision(dir, simDir, ids[1] as string, 'nrf52'),
    ])) as [DeviceState, DeviceState];
    const a = await Attacker.connect(gw, self);
    expect((await a.attest()).status).toBe('affirming');
    await a.end();
    const historyBefore = gw.registry.history(self.deviceId).length;

    const id = self.deviceId;
    let client = await connectTls(gw, identityOf(self), { clientId: id });
    const started = Date.now();
    const outcomes: Record<string, number> = {};
    const send = async (topic: string, payload: Buffer) => {
      if (!client.connected) client = await connectTls(gw, identityOf(self), { clientId: id });
      // Acknowledged means the broker took it and the gateway went on; a refusal closes the connection.
      const r = await Promise.race([
        client.publishAsync(topic, payload, { qos: 1 }).then(
          () => 'acked',
          () => 'failed',
        ),
        sleep(2_000).then(() => 'timeout'),
      ]);
      outcomes[r] = (outcomes[r] ?? 0) + 1;
    };
    // Telemetry, status and acks first, while the device is affirmed (so the gateway does decode them).
    for (const bomb of Object.values(BOMBS)) {
      for (const topic of [topics.telemetry(id), topics.status(id), topics.commandAck(id)]) await send(topic, bomb);
    }
    expect(outcomes).toEqual({ acked: Object.keys(BOMBS).length * 3 });
    expect(gw.registry.require(id)).toMatchObject({ lastStatus: 'affirming', quarantined: false });
    // Then the evidence topic: the bomb as the message, and as the token inside a well-formed message.
    for (const bomb of Object.values(BOMBS)) {
      await send(topics.evidence(id), bomb);
      if (bomb.length <= 4_096) {
        const message = encodeEvidenceMessage({ nonce: new Uint8Array(32), token: bomb, format: 'palisade-eat' });
        await send(topics.evidence(id), Buffer.from(message));
      }
    }
    // All of it handled quickly (a bomb that made a decoder spin would show here), and the gateway answers.
    await until('evidence bombs recorded', () => gw.registry.history(id).length > historyBefore, 5_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    const health = await (await fetch(`http://127.0.0.1:${gw.ports.http}/health`)).json();
    expect(health).toMatchObject({ status: 'ok', db: true });
    await sleep(400);
    expect(countTelemetryRows(gw.store).raw).toBe(0);
    // The device's own garbage on its evidence topic is its own failed appraisal, never a crash or an affirmation.
    const after = gw.registry.history(id).slice(0, gw.registry.history(id).length - historyBefore);
    expect(after.length).toBeGreaterThan(0);
    for (const h of after) {
      expect(h.status).not.toBe('affirming');
      expect(h.reasons).toContain('appraisal.malformed_evidence');
    }
    await client.endAsync(true);
    const b = await Attacker.connect(gw, honest);
    expect((await b.attest()).status).toBe('affirming');
  });
});
