import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'palisade-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function error(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has safe defaults: anonymous off, HTTP on loopback', () => {
    const c = loadConfig();
    expect(c.auth.allowAnonymous).toBe(false);
    expect(c.http.host).toBe('127.0.0.1');
    expect(c.mqtt.port).toBe(1883);
    expect(c.telemetry.flushRows).toBe(1000);
  });

  it('layers file < environment < flags', () => {
    const f = file(
      'a.json',
      JSON.stringify({ dataDir: '/from-file', mqtt: { port: 1000, host: '10.0.0.1' }, http: { port: 1001 } }),
    );
    const c = loadConfig({
      flags: { config: f, 'http-port': '0' },
      env: {
        PALISADE_GATEWAY_MQTT_PORT: '2000',
        PALISADE_GATEWAY_HTTP_PORT: '2001',
        PALISADE_GATEWAY_DATA_DIR: '/from-env',
      },
    });
    expect([c.dataDir, c.mqtt.port, c.mqtt.host, c.http.port]).toEqual(['/from-env', 2000, '10.0.0.1', 0]);
  });

  it('finds the file by PALISADE_GATEWAY_CONFIG', () => {
    const f = file('b.json', JSON.stringify({ gatewayId: 'plant-7' }));
    expect(loadConfig({ env: { PALISADE_GATEWAY_CONFIG: f } }).gatewayId).toBe('plant-7');
  });

  it('names the bad key and its source', () => {
    const e1 = error(() => loadConfig({ env: { PALISADE_GATEWAY_MQTT_PORT: 'abc' } }));
    expect(e1.code).toBe('config.invalid');
    expect(e1.message).toMatch(/^config\.invalid: mqtt\.port must be an integer .*PALISADE_GATEWAY_MQTT_PORT/);
    const e2 = error(() => loadConfig({ flags: { 'mqtt-port': '70000' } }));
    expect(e2.message).toMatch(/^config\.invalid: mqtt\.port must be between 0 and 65535 \(from --mqtt-port\)/);
    const f = file('c.json', JSON.stringify({ telemetry: { flushRows: -1 } }));
    const e3 = error(() => loadConfig({ file: f }));
    expect(e3.message).toMatch(/^config\.invalid: telemetry\.flushRows .*c\.json/);
    const e4 = error(() => loadConfig({ overrides: { mqtt: { prot: 1 } } }));
    expect(e4.message).toContain('mqtt.prot is not a known option');
    const e5 = error(() => loadConfig({ env: { PALISADE_GATEWAY_ALLOW_ANONYMOUS: 'yes' } }));
    expect(e5.message).toContain('auth.allowAnonymous must be true or false');
    const e6 = error(() => loadConfig({ overrides: { enrollment: { allowList: ['ok', 'a/b'] } } }));
    expect(e6.message).toContain('enrollment.allowList.1');
  });

  it('refuses unreadable and non-JSON files with config.file', () => {
    expect(error(() => loadConfig({ file: join(dir, 'missing.json') })).code).toBe('config.file');
    expect(error(() => loadConfig({ file: file('d.json', '{nope') })).code).toBe('config.file');
    expect(error(() => loadConfig({ file: file('e.json', '[1]') })).code).toBe('config.file');
  });

  it('parses lists and booleans from the environment', () => {
    const c = loadConfig({
      env: { PALISADE_GATEWAY_MANUFACTURER_ROOTS: 'a.pem, b.pem', PALISADE_GATEWAY_ALLOW_ANONYMOUS: 'true' },
    });
    expect(c.auth.manufacturerRoots).toEqual(['a.pem', 'b.pem']);
    expect(c.auth.allowAnonymous).toBe(true);
  });

  it('bounds the broker connect timeout to 1 s..2 min and names the key when it is out of range', () => {
    expect(loadConfig().limits.connectTimeoutMs).toBe(10_000);
    const f = file('timeout.json', JSON.stringify({ limits: { connectTimeoutMs: 1000 } }));
    expect(loadConfig({ file: f }).limits.connectTimeoutMs).toBe(1000);
    expect(loadConfig({ overrides: { limits: { connectTimeoutMs: 120_000 } } }).limits.connectTimeoutMs).toBe(120_000);
    for (const bad of [0, 999, 120_001, -5]) {
      const e = error(() =>
        loadConfig({ file: file('bad-timeout.json', JSON.stringify({ limits: { connectTimeoutMs: bad } })) }),
      );
      expect(e.code).toBe('config.invalid');
      expect(e.message).toMatch(
        /^config\.invalid: limits\.connectTimeoutMs must be between 1000 and 120000 ms \(from .*bad-timeout\.json\)/,
      );
    }
    for (const bad of [1500.5, '5000']) {
      const e = error(() => loadConfig({ overrides: { limits: { connectTimeoutMs: bad } } }));
      expect(e.message).toContain('limits.connectTimeoutMs must be an integer number of milliseconds');
    }
  });

  it("validates operator ACL rules with the broker's own rules", () => {
    const ok = loadConfig({
      overrides: {
        acl: [{ effect: 'deny', groups: ['line-2'], topic: 'palisade/v1/d/{deviceId}/cmd/ack', action: 'publish' }],
      },
    });
    expect(ok.acl).toHaveLength(1);
    const e = error(() => loadConfig({ overrides: { acl: [{ effect: 'allow', topic: 'a/b#', action: 'both' }] } }));
    expect(e.message).toMatch(/^config\.invalid: acl\[0\]\.topic: a wildcard/);
    expect(
      error(() => loadConfig({ overrides: { acl: [{ effect: 'maybe', topic: 'a', action: 'both' }] } })).message,
    ).toContain('acl.0.effect');
  });
});
