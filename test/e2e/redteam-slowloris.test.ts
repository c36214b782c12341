/**
 * Red team, slow loris: peers that open a socket to the mTLS listener and then stall — no TLS handshake at all, a
 * handshake but no CONNECT, a CONNECT that never finishes. Each must be closed by the broker's connect timeout
 * (`limits.connectTimeoutMs`, 10 s by default, set to 2 s here), or a patient attacker holds sockets for good.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { DeviceState } from '@palisade/firmware-protocol/simulator';
import { describe, expect, it } from 'vitest';
import { closedWithin, rawTls } from '../src/redteam/attacker.js';
import { ids, stillServes, world } from '../src/redteam/world.js';

function connectTcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

describe('red team: slow loris', () => {
  it('closes slow-loris connections: no TLS handshake, no CONNECT, or a CONNECT that never finishes', async () => {
    const { gw, states } = await world(ids('nrf52'), 5_000, { limits: { connectTimeoutMs: 2_000 } });
    const tcp = connectTcp(gw.ports.mqtts as number);
    const silent = await rawTls(gw);
    const trickle = await rawTls(gw);
    trickle.write(Buffer.from([0x10, 0x20, 0x00, 0x04, 0x4d])); // 32 bytes announced, 5 sent
    const limit = 2_000 + 2_500; // the configured connect timeout plus slack (the 10 s default would fail this)
    const [a, b, c] = await Promise.all([
      closedWithin(await tcp, limit),
      closedWithin(silent, limit),
      closedWithin(trickle, limit),
    ]);
    expect([a.open, b.open, c.open]).toEqual([false, false, false]);
    await stillServes(gw, states[0] as DeviceState);
  }, 20_000);
});
