import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '@palisade/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/broker/passwords.js';
import { runCli } from '../../src/cli/run.js';
import { loadConfig } from '../../src/config/index.js';
import { Registry } from '../../src/registry/index.js';
import { databasePath, openStore } from '../../src/store/index.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'palisade-cli-'));
  dirs.push(d);
  return d;
}

async function cli(
  argv: string[],
  env: Record<string, string> = {},
  stdin = '',
  waitForStop: () => Promise<void> = async () => {},
  onStdout: (s: string) => void = () => {},
) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: {
      write: (s: string) => {
        stdout += s;
        onStdout(s);
      },
    },
    stderr: { write: (s: string) => (stderr += s) },
    readStdin: async () => stdin,
    loadConfig: (flags) => loadConfig({ flags, env }),
    waitForStop,
  });
  return { code, stdout, stderr };
}

const refvals = {
  version: 1,
  entries: [
    {
      boardFamily: 'stm32',
      firmwareVersion: '1.2.0',
      components: [{ name: 'app', alg: 'sha-256', digest: 'ab'.repeat(32) }],
    },
  ],
};

describe('palisade-gateway devices', () => {
  it('lists, approves, quarantines, releases and revokes devices in the data dir, with audit', async () => {
    const dir = tempDir();
    const store = openStore({ path: databasePath(dir) });
    new Registry(store.db, { clock: systemClock }).admit({ deviceId: 'dev-1', via: 'manufacturer-root' });
    store.close();

    const list = await cli(['devices', 'list', '--data-dir', dir, '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject([{ id: 'dev-1', enrollment: 'pending' }]);

    // The data dir may also come from the environment.
    const env = { PALISADE_GATEWAY_DATA_DIR: dir };
    expect((await cli(['devices', 'approve', 'dev-1', '--actor', 'ann'], env)).code).toBe(0);
    expect((await cli(['devices', 'release', 'dev-1'], env)).code).toBe(0);
    expect((await cli(['devices', 'quarantine', 'dev-1', '--reason', 'inspection'], env)).code).toBe(0);
    const q = await cli(['devices', 'list', '--quarantined', '--json'], env);
    expect(JSON.parse(q.stdout)).toMatchObject([
      { id: 'dev-1', quarantineReason: 'inspection', quarantinedBy: 'operator:cli' },
    ]);
    expect((await cli(['devices', 'revoke', 'dev-1'], env)).code).toBe(0);
    const text = await cli(['devices', 'list', '--state', 'revoked'], env);
    expect(text.stdout).toMatch(/^dev-1\trevoked\t/);

    const s = openStore({ path: databasePath(dir) });
    const actions = s.sqlite.prepare('SELECT actor, action FROM audit ORDER BY id').all();
    s.close();
    expect(actions).toEqual([
      { actor: 'system', action: 'device.enrol' },
      { actor: 'operator:ann', action: 'device.approve' },
      { actor: 'operator:cli', action: 'device.release' },
      { actor: 'operator:cli', action: 'device.quarantine' },
      { actor: 'operator:cli', action: 'device.revoke' },
    ]);
  });

  it('exit 1 for refused operations, 2 for bad usage', async () => {
    const dir = tempDir();
    const r1 = await cli(['devices', 'revoke', 'ghost', '--data-dir', dir]);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain('not_found.device');
    expect((await cli(['devices', 'approve', 'a/b', '--data-dir', dir])).code).toBe(2);
    expect((await cli(['devices', 'frobnicate', '--data-dir', dir])).code).toBe(2);
    expect((await cli(['devices', 'list', '--bogus', '--data-dir', dir])).code).toBe(2);
    expect((await cli(['devices', 'list'], { PALISADE_GATEWAY_MQTT_PORT: 'x' })).code).toBe(2);
    expect((await cli(['nope'])).code).toBe(2);
    expect((await cli(['help'])).stdout).toContain('usage: palisade-gateway');
  });
});

describe('palisade-gateway devices set-secret and operators add', () => {
  it('stores only hashes: a generated device secret printed once, an operator password from stdin', async () => {
    const dir = tempDir();
    const r = await cli(['devices', 'set-secret', 'dev-7', '--data-dir', dir]);
    expect(r.code).toBe(0);
    const secret = r.stdout.trim();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const s = openStore({ path: databasePath(dir) });
    const row = s.sqlite.prepare('SELECT hash FROM credentials WHERE device_id = ?').get('dev-7') as { hash: string };
    s.close();
    expect(row.hash).not.toContain(secret);
    expect(await verifyPassword(secret, row.hash)).toBe(true);

    const op = await cli(
      ['operators', 'add', 'ann', '--role', 'viewer', '--data-dir', dir, '--json'],
      {},
      'a long passphrase\n',
    );
    expect(op.code).toBe(0);
    expect(JSON.parse(op.stdout)).toEqual({ name: 'ann', role: 'viewer' });
    expect((await cli(['operators', 'add', 'ann', '--data-dir', dir], {}, 'a long passphrase')).code).toBe(1);
    expect((await cli(['operators', 'add', 'bob', '--data-dir', dir], {}, 'short')).code).toBe(2);
    expect(
      (await cli(['operators', 'add', 'bob', '--role', 'root', '--data-dir', dir], {}, 'a long passphrase')).code,
    ).toBe(2);
  });
});

describe('palisade-gateway start', () => {
  it("starts on the flags' ports, serves /health, and stops cleanly when asked", async () => {
    const dir = tempDir();
    let stop!: () => void;
    const stopped = new Promise<void>((r) => {
      stop = r;
    });
    let started!: (ports: Record<string, number>) => void;
    const ports = new Promise<Record<string, number>>((r) => {
      started = r;
    });
    const run = cli(
      ['start', '--data-dir', dir, '--mqtt-port', '0', '--http-port', '0', '--log-level', 'info'],
      { PALISADE_GATEWAY_WS_PORT: '0' },
      '',
      () => stopped,
      (line) => {
        const m = /"msg":"gateway started"/.test(line)
          ? (JSON.parse(line) as { ports: Record<string, number> })
          : undefined;
        if (m) started(m.ports);
      },
    );
    const p = await ports;
    expect(p.mqtt).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${p.http}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', db: true, counts: { devices: 0 } });
    stop();
    const r = await run;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('"msg":"gateway stopped"');
    await expect(fetch(`http://127.0.0.1:${p.http}/health`)).rejects.toThrow();
  });
});

describe('palisade-gateway refvals', () => {
  it('imports, exports and refuses a bad document all or nothing', async () => {
    const dir = tempDir();
    const file = join(dir, 'refvals.json');
    writeFileSync(file, JSON.stringify(refvals));
    const imp = await cli(['refvals', 'import', file, '--data-dir', dir]);
    expect(imp).toMatchObject({ code: 0, stdout: 'imported 1 entries (1 stored)\n' });
    const exp = await cli(['refvals', 'export', '--data-dir', dir]);
    expect(JSON.parse(exp.stdout)).toEqual(refvals);
    const out = join(dir, 'out.json');
    expect((await cli(['refvals', 'export', '--out', out, '--data-dir', dir])).code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(refvals);

    const bad = structuredClone(refvals);
    bad.entries.push({ ...refvals.entries[0]!, firmwareVersion: '2.0.0' });
    bad.entries.push({
      boardFamily: 'stm32',
      firmwareVersion: '3.0.0',
      components: [{ name: 'app', alg: 'sha-256', digest: 'abc' }],
    });
    writeFileSync(file, JSON.stringify(bad));
    const r = await cli(['refvals', 'import', file, '--data-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('entries.2.components.0.digest');
    expect(JSON.parse((await cli(['refvals', 'export', '--data-dir', dir])).stdout).entries).toHaveLength(1);
    expect((await cli(['refvals', 'import', join(dir, 'missing.json'), '--data-dir', dir])).code).toBe(2);
  });
});

describe('palisade-gateway pki', () => {
  it('init creates a P-256 key (mode 0600) and a server certificate; show prints them; init twice is refused', async () => {
    const dir = tempDir();
    const init = await cli(['pki', 'init', '--data-dir', dir, '--json', '--dns', 'gw.local']);
    expect(init.code).toBe(0);
    const info = JSON.parse(init.stdout);
    expect(info.kid).toMatch(/^gw-[0-9a-f]{16}$/);
    expect(info.server.dnsNames).toEqual(['gw.local']);
    expect(statSync(join(dir, 'pki', 'server.key.pem')).mode & 0o777).toBe(0o600);
    const show = await cli(['pki', 'show', '--data-dir', dir, '--json']);
    expect(JSON.parse(show.stdout).kid).toBe(info.kid);
    const again = await cli(['pki', 'init', '--data-dir', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('conflict.gateway_identity_exists');
    expect((await cli(['pki', 'show', '--data-dir', tempDir()])).code).toBe(1);
  });

  it('verify-chain reads JSON on stdin: 2 for unusable input', async () => {
    const r = await cli(['pki', 'verify-chain'], {}, '{not json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ valid: false });
  });
});

describe('palisade-gateway attest verify', () => {
  it('exit 2 for unusable input', async () => {
    const r = await cli(['attest', 'verify', '--evidence', '/nonexistent', '--trust-anchor', '/nonexistent', '--json']);
    expect(r.code).toBe(2);
  });
});
