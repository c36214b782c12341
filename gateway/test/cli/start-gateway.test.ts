import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@palisade/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { startGateway } from '../../src/main.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function config(overrides: Record<string, unknown>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'palisade-start-'));
  dirs.push(dataDir);
  return loadConfig({
    overrides: { dataDir, mqtt: { host: '127.0.0.1', port: 0 }, http: { port: 0 }, ...overrides },
  });
}

describe('startGateway', () => {
  it('refuses mqtts without manufacturer roots, naming the key', async () => {
    const c = config({ mqtts: { enabled: true, port: 0 } });
    await expect(startGateway(c, { logger: silentLogger })).rejects.toThrow(ConfigError);
    await expect(startGateway(c, { logger: silentLogger })).rejects.toThrow(/auth\.manufacturerRoots/);
  });

  it('a port already in use fails the start with unavailable.http_listen, and the data dir stays usable', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as AddressInfo).port;
    try {
      const c = config({ http: { host: '127.0.0.1', port } });
      await expect(startGateway(c, { logger: silentLogger })).rejects.toMatchObject({
        code: 'unavailable.http_listen',
      });
      // What it had opened is released: a second start on a free port with the same data dir works.
      const again = await startGateway({ ...c, http: { ...c.http, port: 0 } }, { logger: silentLogger });
      await again.stop();
    } finally {
      busy.close();
    }
  });

  it('stop() is idempotent', async () => {
    const gw = await startGateway(config({}), { logger: silentLogger });
    expect(gw.ports.mqtt).toBeGreaterThan(0);
    await Promise.all([gw.stop(), gw.stop()]);
    await gw.stop();
  });
});
