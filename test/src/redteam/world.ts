/**
 * The red-team attestation world: an in-process gateway (test/e2e/gateway-world.ts) with fresh allow-listed devices
 * of the simulator's manufacturer PKI, and the small helpers the attack files share.
 */

import { join } from 'node:path';
import { type BoardFamily, decodeCbor, type KeyPair, type ResultMessage, type Tag } from '@palisade/firmware-protocol';
import { type DeviceState, PKI_FILES, pkiDir, ueidOf } from '@palisade/firmware-protocol/simulator';
import { type GatewayHandle, loadConfig, startGateway } from '@palisade/gateway';
import { type Clock, silentLogger } from '@palisade/shared';
import { expect } from 'vitest';
import { gateway, running, simDir, tempDir } from '../../e2e/gateway-world.js';
import { Attacker, provision } from './attacker.js';

let counter = 0;
/** Fresh device ids per test (one manufacturer PKI per test file). */
export function ids(...families: BoardFamily[]): { id: string; family: BoardFamily }[] {
  counter++;
  return families.map((family, i) => ({ id: `rt-${family}-${counter}-${i}`, family }));
}

export async function world(
  devs: { id: string; family: BoardFamily }[],
  ttlMs = 5_000,
  /** Further gateway configuration (top-level sections replace the defaults'). */
  extra: Record<string, unknown> = {},
): Promise<{ gw: GatewayHandle; states: DeviceState[] }> {
  const gw = await gateway(
    tempDir('rt-gw'),
    devs.map((d) => d.id),
    ttlMs,
    extra,
  );
  const dir = tempDir('rt-dev');
  const states = await Promise.all(devs.map((d) => provision(dir, simDir, d.id, d.family)));
  return { gw, states };
}

/** A device whose TLS/attestation identity is replaced (a key and a certificate chain, leaf first). */
export function withIdentity(state: DeviceState, keys: KeyPair, chain: Uint8Array[], chainPem: string): DeviceState {
  return { ...state, ...keys, chain, chainPem, ueid: ueidOf(keys.publicKey) };
}

export const pem = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/.{64}/g, '$&\n')
    .replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`;

/** The gateway still affirms an honest device after the attack (it neither crashed nor wedged). */
export async function stillServes(gw: GatewayHandle, state: DeviceState): Promise<void> {
  const a = await Attacker.connect(gw, state);
  const r = await a.attest();
  expect({ status: r.status, reasons: r.reasons }).toEqual({ status: 'affirming', reasons: [] });
  await a.end();
}

export function verdict(r: ResultMessage): { status: string; reason: string | undefined } {
  return { status: r.status, reason: r.reasons[0] };
}

/** The payload (claims bytes) of a COSE_Sign1 token. */
export function payloadOf(token: Uint8Array): Uint8Array {
  const top = decodeCbor(token) as Tag;
  return (top.value as unknown[])[2] as Uint8Array;
}

/** A gateway like {@link world}'s, on a clock the test moves (certificate validity, nonce expiry). */
export async function gatewayOnClock(allowList: string[], clock: Clock): Promise<GatewayHandle> {
  const pki = pkiDir(simDir);
  const config = loadConfig({
    overrides: {
      dataDir: tempDir('rt-gw'),
      gatewayId: 'gw-redteam',
      mqtt: { enabled: false },
      mqtts: { enabled: true, host: '127.0.0.1', port: 0 },
      ws: { enabled: false },
      http: { host: '127.0.0.1', port: 0 },
      auth: {
        manufacturerRoots: [join(pki, PKI_FILES.root)],
        intermediateFiles: [join(pki, PKI_FILES.intermediate)],
        crlFiles: [join(pki, PKI_FILES.crl)],
        allowCredentials: false,
      },
      enrollment: { allowList },
      // gateway-world.ts writes the simulator's reference values next to its PKI.
      attestation: { referenceValuesFile: join(simDir, 'refvals.json'), challengeTtlMs: 5_000 },
    },
  });
  const gw = await startGateway(config, { clock, logger: silentLogger });
  running.push(gw);
  return gw;
}
