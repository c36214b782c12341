import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCrl, createIntermediateCa, createRootCa } from '@palisade/firmware-protocol';
import { ManualClock } from '@palisade/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCloudCrls, RevocationStore } from '../../src/registry/index.js';
import { openStore, type Store } from '../../src/store/index.js';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

function setup(): { dir: string; store: Store; revocations: RevocationStore } {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-crl-'));
  const store = openStore({ path: join(dir, 'gateway.sqlite') });
  cleanup.push(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, store, revocations: new RevocationStore(dir, store.db, new ManualClock(Date.UTC(2026, 10, 1))) };
}

describe('revocation updates from the cloud', () => {
  it('keeps CRLs signed by a configured CA, audited; refuses one from another CA and keeps the previous set', async () => {
    const root = await createRootCa({ commonName: 'Maker Root' });
    const intermediate = await createIntermediateCa(root, { commonName: 'Maker Issuing CA' });
    const rogue = await createRootCa({ commonName: 'Maker Issuing CA' }); // same name, different key
    const good = await createCrl(intermediate, { revoked: [{ serial: '0a0b' }] });
    const forged = await createCrl(rogue, { revoked: [{ serial: '0c0d' }] });
    const { dir, store, revocations } = setup();
    const cas = [root.certificate.pem, intermediate.certificate.pem];

    await revocations.replace([good.pem], cas, 'cloud:ana');
    expect(loadCloudCrls(dir)).toEqual([good.pem]);
    const audit = store.sqlite.prepare("SELECT actor FROM audit WHERE action = 'revocations.update'").all();
    expect(audit).toEqual([{ actor: 'cloud:ana' }]);

    await expect(revocations.replace([good.pem, forged.pem], cas, 'cloud:ana')).rejects.toMatchObject({
      code: 'validation.crl_issuer',
    });
    expect(loadCloudCrls(dir)).toEqual([good.pem]);
    await expect(revocations.replace(['not a crl'], cas, 'cloud:ana')).rejects.toMatchObject({
      code: 'pki.malformed',
    });
    expect(loadCloudCrls(dir)).toEqual([good.pem]);
  });
});
