import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Broker, hashPassword } from '../../src/broker/index.js';
import { type Recorded, sleep, startBroker } from './helpers.js';

/**
 * An independent MQTT implementation against the broker: Mosquitto's own command-line clients (Debian package
 * `mosquitto-clients`). Skipped with a message when they are not installed, except in CI where they are required.
 */
const HAVE_MOSQUITTO = spawnSync('mosquitto_pub', ['--help']).error === undefined;
if (!HAVE_MOSQUITTO) {
  if (process.env.CI === 'true')
    throw new Error('mosquitto-clients are required in CI (apt-get install mosquitto-clients)');
  console.warn(
    'mosquitto_pub/mosquitto_sub not found: skipping the Mosquitto client tests (apt-get install mosquitto-clients)',
  );
}

const PASSWORD = 'mosquitto device secret';
let broker: Broker;
let rec: Recorded;

beforeAll(async () => {
  const hash = await hashPassword(PASSWORD);
  ({ broker, rec } = await startBroker({
    listeners: { mqtt: { port: 0 } },
    credentials: (u) => (u === 'dev-m1' || u === 'dev-m2' ? { deviceId: u, passwordHash: hash } : undefined),
  }));
});
afterAll(async () => {
  await broker?.close();
});

function run(cmd: string, args: string[], ms = 5000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      stdout += d;
    });
    p.stderr.on('data', (d) => {
      stderr += d;
    });
    const t = setTimeout(() => p.kill('SIGTERM'), ms);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

const common = () => ['-h', '127.0.0.1', '-p', String(broker.ports.mqtt), '-V', 'mqttv311'];
const creds = (id: string) => ['-i', id, '-u', id, '-P', PASSWORD];

describe.skipIf(!HAVE_MOSQUITTO)('Mosquitto clients against the broker', () => {
  it('mosquitto_pub is refused without credentials', async () => {
    const r = await run('mosquitto_pub', [
      ...common(),
      '-i',
      'dev-m1',
      '-t',
      'palisade/v1/d/dev-m1/telemetry',
      '-m',
      'x',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not authori[sz]ed|refused/i);
    expect(rec.messages).toHaveLength(0);
  });

  it('mosquitto_pub with a wrong password is refused', async () => {
    const r = await run('mosquitto_pub', [
      ...common(),
      '-i',
      'dev-m1',
      '-u',
      'dev-m1',
      '-P',
      'guess',
      '-t',
      'palisade/v1/d/dev-m1/telemetry',
      '-m',
      'x',
    ]);
    expect(r.code).not.toBe(0);
    expect(rec.authFailures.at(-1)?.reason).toBe('auth.bad_credentials');
  });

  it("mosquitto_pub with valid credentials publishes to its own topic but not to another device's", async () => {
    const own = await run('mosquitto_pub', [
      ...common(),
      ...creds('dev-m1'),
      '-q',
      '1',
      '-t',
      'palisade/v1/d/dev-m1/telemetry',
      '-m',
      'own',
    ]);
    expect(own.code).toBe(0);
    expect(rec.messages.at(-1)).toMatchObject({ deviceId: 'dev-m1', topic: 'palisade/v1/d/dev-m1/telemetry' });
    const before = rec.messages.length;
    await run('mosquitto_pub', [
      ...common(),
      ...creds('dev-m1'),
      '-q',
      '1',
      '-t',
      'palisade/v1/d/dev-m2/telemetry',
      '-m',
      'forged',
    ]);
    expect(rec.messages.length).toBe(before);
    expect(rec.denied.at(-1)).toMatchObject({ deviceId: 'dev-m1', reason: 'acl.other_device' });
  });

  it("mosquitto_sub cannot read another device's commands", async () => {
    const sub = run('mosquitto_sub', [
      ...common(),
      ...creds('dev-m1'),
      '-q',
      '1',
      '-t',
      'palisade/v1/d/dev-m2/cmd',
      '-C',
      '1',
      '-W',
      '2',
    ]);
    await sleep(500);
    await broker.publish('palisade/v1/d/dev-m2/cmd', 'for dev-m2 only', { qos: 1 });
    const r = await sub;
    expect(r.stdout).not.toContain('for dev-m2 only');
    expect(rec.denied.some((d) => d.action === 'subscribe' && d.topic === 'palisade/v1/d/dev-m2/cmd')).toBe(true);
  });

  it('mosquitto_sub receives its own commands', async () => {
    const sub = run('mosquitto_sub', [
      ...common(),
      ...creds('dev-m2'),
      '-q',
      '1',
      '-t',
      'palisade/v1/d/dev-m2/cmd',
      '-C',
      '1',
      '-W',
      '3',
    ]);
    await sleep(500);
    await broker.publish('palisade/v1/d/dev-m2/cmd', 'hello dev-m2', { qos: 1 });
    const r = await sub;
    expect(r.stdout).toContain('hello dev-m2');
  });
});
