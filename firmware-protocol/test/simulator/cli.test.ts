import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate, parseCrl } from '../../src/pki/index.js';
import { runCli } from '../../src/simulator/cli.js';
import { bootDevice, evidenceFor, loadDeviceState, loadPki } from '../../src/simulator/index.js';
import { type Broker, MOSQUITTO, startMosquitto } from './mosquitto.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-sim-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

describe('palisade-sim pki', () => {
  it('init creates root, intermediate and an empty CRL, and refuses to run twice', async () => {
    const r = await cli('pki', 'init', '--dir', dir);
    expect(r.code).toBe(0);
    const files = JSON.parse(r.out) as { root: string; intermediate: string; crl: string };
    const root = parseCertificate(readFileSync(files.root));
    expect(root.isCa).toBe(true);
    expect(parseCrl(readFileSync(files.crl)).revoked).toEqual([]);
    const again = await cli('pki', 'init', '--dir', dir);
    expect(again.code).toBe(1);
    expect(again.err).toContain('conflict.pki_exists');
  });

  it('issue provisions a device whose state, boot counter included, survives a restart', async () => {
    const r = await cli('pki', 'issue', '--dir', dir, '--device-id', 'bench-nrf-1', '--family', 'nrf52');
    expect(r.code).toBe(0);
    const issued = JSON.parse(r.out) as { serial: string };
    // "Restart": everything is read back from disk.
    const a = loadDeviceState(dir, 'bench-nrf-1');
    expect(a.certificate.serial).toBe(issued.serial);
    expect(a.bootCount).toBe(1);
    bootDevice(a);
    bootDevice(a);
    const b = loadDeviceState(dir, 'bench-nrf-1');
    expect(b.bootCount).toBe(3);
    expect(b.bootSeed).toEqual(a.bootSeed);
    expect(b.privateKey.export({ format: 'jwk' })).toEqual(a.privateKey.export({ format: 'jwk' }));
    expect(b.chain.length).toBe(2);
    const dup = await cli('pki', 'issue', '--dir', dir, '--device-id', 'bench-nrf-1', '--family', 'nrf52');
    expect(dup.err).toContain('conflict.device_exists');
  });

  it('issue --expired and revoke put the failure where a verifier finds it', async () => {
    const old = await cli('pki', 'issue', '--dir', dir, '--device-id', 'old-1', '--family', 'esp32', '--expired');
    expect(new Date((JSON.parse(old.out) as { notAfter: string }).notAfter).getTime()).toBeLessThan(Date.now());
    await cli('pki', 'issue', '--dir', dir, '--device-id', 'stolen-1', '--family', 'stm32', '--key-type', 'ed25519');
    const r = await cli('pki', 'revoke', '--dir', dir, '--device-id', 'stolen-1');
    expect(r.code).toBe(0);
    const serial = loadDeviceState(dir, 'stolen-1').certificate.serial;
    expect(loadPki(dir).crl.revoked.map((x) => x.serial)).toEqual([serial]);
    expect(loadPki(dir).crl.crlNumber).toBe(2);
  });

  it('rejects bad usage with exit code 2 and a reason code', async () => {
    expect((await cli('pki', 'issue', '--dir', dir, '--device-id', 'x', '--family', 'avr')).code).toBe(2);
    expect((await cli('pki', 'issue', '--dir', dir, '--device-id', 'bad id', '--family', 'nrf52')).err).toContain(
      'validation.device_id',
    );
    expect((await cli('run', '--devices', '1', '--broker', 'http://x')).code).toBe(2);
    expect((await cli('run', '--devices', '1', '--broker', 'mqtt://x', '--faults', 'gremlins:1')).err).toContain(
      'validation.fault',
    );
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli('pki', 'init', '--bogus')).code).toBe(2);
    expect(
      (await cli('pki', 'issue', '--dir', join(dir, 'nowhere'), '--device-id', 'a', '--family', 'nrf52')).err,
    ).toContain('not_found.pki');
  });
});

describe('palisade-sim inspect', () => {
  it('prints headers and claims of a Palisade EAT token (binary) and a PSA token (hex)', async () => {
    const eat = evidenceFor(loadDeviceState(dir, 'bench-nrf-1'), new Uint8Array(32).fill(7)).message!;
    writeFileSync(join(dir, 'eat.cbor'), eat.token);
    const r = await cli('inspect', join(dir, 'eat.cbor'));
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.alg).toBe('ES256');
    expect(j.protectedHeader).toEqual({ '1 (alg)': -7 });
    expect(j.unprotectedHeader['33 (x5chain)'][0]).toMatchObject({ subject: 'CN=bench-nrf-1, O=Palisade Devices' });
    expect(j.claims['10 (nonce)']).toBe('07'.repeat(32));
    expect(j.claims['-80002 (palisade.deviceId)']).toBe('bench-nrf-1');
    expect(j.claims['273 (measurements)'][1].component['1 (type)']).toBe('app');
    expect(j.profile).toBe('palisade-eat/1');
    expect(j.normalised.bootCount).toBe(3);

    const psa = evidenceFor(loadDeviceState(dir, 'stolen-1'), new Uint8Array(32).fill(8));
    writeFileSync(join(dir, 'psa.hex'), `${Buffer.from(psa.payload).toString('hex')}\n`);
    const p = JSON.parse((await cli('inspect', join(dir, 'psa.hex'))).out);
    expect(p.evidenceMessage).toEqual({ nonce: '08'.repeat(32), format: 'psa' });
    expect(p.alg).toBe('EdDSA');
    expect(p.profile).toBe('psa-2');
    expect(p.claims['2395 (psa.lifecycle)']).toBe(0x3000);
    expect(p.claims['2399 (psa.softwareComponents)'].map((c: Record<string, string>) => c['1 (type)'])).toEqual([
      'BL',
      'PRoT',
      'ARoT',
      'App',
    ]);
  });

  it('reads the TF-M PSA token of the shared conformance vectors', async () => {
    const file = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../shared/vectors/psa/psa-sign1.cbor');
    const j = JSON.parse((await cli('inspect', file)).out);
    expect(j.profile).toBe('psa-2');
    expect(j.claims['2399 (psa.softwareComponents)'][0]['1 (type)']).toBe('PRoT');
    expect(j.normalised.psa.lifecycle).toBe(0x3000);
  });

  it('fails with a protocol reason code on a file that is no token', async () => {
    writeFileSync(join(dir, 'junk.bin'), Buffer.from([0xa3, 0x01]));
    const r = await cli('inspect', join(dir, 'junk.bin'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error cbor\./);
  });
});

describe.skipIf(MOSQUITTO === undefined)('palisade-sim run', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => broker?.stop());

  it('runs a fleet for --duration and prints a JSON summary; the boot counter survives across runs', async () => {
    const args = ['run', '--devices', '3', '--broker', broker.tcpUrl, '--state-dir', dir, '--duration', '0.5'];
    const first = await cli(...args, '--json', '--faults', 'silent:1', '--telemetry-rate', '10');
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.out);
    expect(summary.devices).toBe(3);
    expect(summary.telemetrySent).toBeGreaterThan(0);
    expect(summary.perDevice.map((d: { deviceId: string }) => d.deviceId)).toEqual([
      'sim-stm32-0001-silent',
      'sim-nrf52-0002',
      'sim-esp32-0003',
    ]);
    const count = loadDeviceState(dir, 'sim-nrf52-0002').bootCount;
    const second = await cli(...args, '--faults', 'silent:1');
    expect(second.out).toMatch(/connected \d\/3/);
    expect(second.out).toContain('sim-esp32-0003');
    expect(loadDeviceState(dir, 'sim-nrf52-0002').bootCount).toBe(count + 1);
  });
});
