import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';

describe('palisade-cloud CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-cloud-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('migrates, starts on a data directory printing a one-time admin password, and creates enrollment tokens', async () => {
    const lines: string[] = [];
    const io = { env: {}, out: (l: string) => lines.push(l), err: (l: string) => lines.push(`ERR ${l}`) };
    expect((await runCli(['migrate', '--data-dir', dir], io)).code).toBe(0);
    const apiKey = `pk_BOOTSTRAPKEY01_${'k'.repeat(43)}`;
    const started = await runCli(['start', '--port', '0', '--data-dir', dir], {
      ...io,
      env: { PALISADE_ADMIN_API_KEY: apiKey, PALISADE_LOG_LEVEL: 'silent' },
    });
    const running = started.running;
    expect(running).toBeDefined();
    try {
      const printed = lines.find((l) => l.includes('password:'));
      const password = /password: (\S+)/.exec(printed ?? '')?.[1];
      expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
      const login = await fetch(`${running?.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'admin@palisade.local', password }),
      });
      expect(login.status).toBe(200);
      lines.length = 0;
      const res = await runCli(
        ['enroll-token', '--site', 'plant-7', '--url', running?.url ?? '', '--api-key', apiKey],
        io,
      );
      expect(res.code).toBe(0);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^pet_[A-Za-z0-9_-]{43}$/);
      const bad = await runCli(
        ['enroll-token', '--site', 'x', '--url', running?.url ?? '', '--api-key', `pk_NOPE00000000_${'k'.repeat(43)}`],
        io,
      );
      expect(bad.code).toBe(1);
      expect((await runCli(['enroll-token', '--site', 'x'], io)).code).toBe(2);
      expect((await runCli(['bogus'], io)).code).toBe(2);
    } finally {
      await running?.stop();
    }
  }, 120_000); // creating a PGlite data directory (initdb on disk) alone takes seconds, much more on a busy machine
});
