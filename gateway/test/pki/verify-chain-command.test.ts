import 'reflect-metadata';
import { beforeAll, describe, expect, it } from 'vitest';
import { runVerifyChain } from '../../src/pki/index.js';
import { crl, EKU, type Issued, issue, standardPki } from './test-pki.js';

let root: Issued;
let inter: Issued;
let leaf: Issued;

beforeAll(async () => {
  ({ root, inter, leaf } = await standardPki('dev-cli-1'));
});

function stdin(o: Record<string, unknown>): string {
  return JSON.stringify(o);
}

describe('pki verify-chain command (stdin JSON → stdout JSON, exit code)', () => {
  it('exit 0 with the chain for a valid path', async () => {
    const r = await runVerifyChain(
      stdin({
        leaf: leaf.pem,
        intermediates: [inter.pem],
        roots: [root.pem],
        time: new Date().toISOString(),
        crls: [await crl(inter, [])],
      }),
    );
    expect(r).toEqual({
      exitCode: 0,
      output: {
        valid: true,
        reason: 'ok',
        chain: [
          'CN=dev-cli-1, O=Palisade',
          'CN=Palisade Test Devices CA, O=Palisade',
          'CN=Palisade Test Root, O=Palisade',
        ],
      },
    });
  });

  it('exit 1 with a reason for an invalid path', async () => {
    const r = await runVerifyChain(
      stdin({ leaf: leaf.pem, intermediates: [inter.pem], roots: [root.pem], time: '2040-01-01T00:00:00Z', crls: [] }),
    );
    expect(r).toEqual({ exitCode: 1, output: { valid: false, reason: 'pki.expired', chain: [] } });
    const revoked = await runVerifyChain(
      stdin({
        leaf: leaf.pem,
        intermediates: [inter.pem],
        roots: [root.pem],
        crls: [await crl(inter, [leaf.cert.serialNumber])],
      }),
    );
    expect(revoked.exitCode).toBe(1);
    expect(revoked.output.reason).toBe('pki.revoked');
  });

  it('honours max_chain_depth and extended_key_usage', async () => {
    const base = { leaf: leaf.pem, intermediates: [inter.pem], roots: [root.pem] };
    expect((await runVerifyChain(stdin({ ...base, max_chain_depth: 0 }))).output.reason).toBe('pki.depth');
    expect((await runVerifyChain(stdin({ ...base, max_chain_depth: 1 }))).exitCode).toBe(0);
    const server = await issue({ subject: 'CN=dev-srv', issuer: inter, eku: [EKU.serverAuth] });
    const r = await runVerifyChain(stdin({ ...base, leaf: server.pem, extended_key_usage: [EKU.clientAuth] }));
    expect(r).toMatchObject({ exitCode: 1, output: { reason: 'pki.eku' } });
    expect((await runVerifyChain(stdin({ ...base, extended_key_usage: [EKU.clientAuth] }))).exitCode).toBe(0);
  });

  it('exit 2 for unusable input, never a crash', async () => {
    const good = { leaf: leaf.pem, intermediates: [inter.pem], roots: [root.pem] };
    const cases: [string, string][] = [
      ['', 'validation.json'],
      ['{', 'validation.json'],
      ['[]', 'validation.json'],
      ['null', 'validation.json'],
      ['"leaf"', 'validation.json'],
      [stdin({ roots: [root.pem] }), 'validation.field'],
      [stdin({ leaf: leaf.pem }), 'validation.field'],
      [stdin({ leaf: leaf.pem, roots: [] }), 'validation.field'],
      [stdin({ leaf: leaf.pem, roots: root.pem }), 'validation.field'],
      [stdin({ ...good, intermediates: [42] }), 'validation.field'],
      [stdin({ ...good, time: 'yesterday' }), 'validation.field'],
      [stdin({ ...good, time: '2026-13-45T99:99:99Z' }), 'validation.field'],
      [stdin({ ...good, max_chain_depth: -1 }), 'validation.field'],
      [stdin({ ...good, max_chain_depth: 1.5 }), 'validation.field'],
      [stdin({ ...good, extended_key_usage: ['clientAuth'] }), 'validation.field'],
      [stdin({ ...good, unexpected: true }), 'validation.field'],
      [stdin({ ...good, leaf: 'garbage' }), 'pki.malformed'],
      [stdin({ ...good, leaf: '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n' }), 'pki.malformed'],
      [stdin({ ...good, roots: ['-----BEGIN CERTIFICATE-----\n%%%%\n-----END CERTIFICATE-----\n'] }), 'pki.malformed'],
      [stdin({ ...good, crls: [root.pem] }), 'pki.malformed'],
      ['x'.repeat(5 * 1024 * 1024), 'validation.json'],
    ];
    for (const [input, reason] of cases) {
      const r = await runVerifyChain(input);
      expect(r, input.slice(0, 60)).toEqual({ exitCode: 2, output: { valid: false, reason, chain: [] } });
    }
  });
});
