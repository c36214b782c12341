import { describe, expect, it } from 'vitest';
import { ReferenceValues } from '../../src/attestation/index.js';
import { digest, GOOD_MEASUREMENTS, IMPLEMENTATION_ID, OLD_MEASUREMENTS, referenceValues } from './fixtures.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const entry = (over: Record<string, unknown> = {}) => ({
  boardFamily: 'nrf52',
  firmwareVersion: '1.4.2',
  components: [{ name: 'app', alg: 'sha-256', digest: hex(digest('app')) }],
  ...over,
});

function parseError(input: unknown): { code: string; message: string } {
  try {
    ReferenceValues.parse(input);
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('expected a parse error');
}

describe('reference values import/export', () => {
  it('round-trips through its JSON export, sorted by family and version', () => {
    const refs = referenceValues();
    const json = refs.export();
    const again = ReferenceValues.parse(json);
    expect(again.export()).toBe(json);
    const versions = JSON.parse(json).entries.map(
      (e: { boardFamily: string; firmwareVersion: string }) => `${e.boardFamily}/${e.firmwareVersion}`,
    );
    expect(versions).toEqual([
      'esp32/1.3.0',
      'esp32/1.4.2',
      'nrf52/1.3.0',
      'nrf52/1.4.2',
      'stm32/1.3.0',
      'stm32/1.4.2',
    ]);
  });

  it('sorts versions numerically (1.10.0 after 1.9.0)', () => {
    const refs = ReferenceValues.parse({
      version: 1,
      entries: [entry({ firmwareVersion: '1.10.0' }), entry({ firmwareVersion: '1.9.0' })],
    });
    expect(JSON.parse(refs.export()).entries.map((e: { firmwareVersion: string }) => e.firmwareVersion)).toEqual([
      '1.9.0',
      '1.10.0',
    ]);
  });

  it.each([
    ['not JSON', '{oops', /not valid JSON/],
    ['wrong version', { version: 2, entries: [] }, /version/],
    ['unknown family', { version: 1, entries: [entry({ boardFamily: 'avr' })] }, /entries\.0\.boardFamily/],
    [
      'upper-case hex',
      { version: 1, entries: [entry({ components: [{ name: 'app', alg: 'sha-256', digest: 'AB'.repeat(32) }] })] },
      /entries\.0\.components\.0\.digest: digest must be lower-case hex/,
    ],
    [
      'digest length vs alg',
      { version: 1, entries: [entry({ components: [{ name: 'app', alg: 'sha-384', digest: 'ab'.repeat(32) }] })] },
      /entries\.0\.components\.0\.digest: digest length does not match alg/,
    ],
    ['unknown key', { version: 1, entries: [entry({ colour: 'red' })] }, /entries\.0/],
    [
      'duplicate component',
      {
        version: 1,
        entries: [
          entry({
            components: [
              { name: 'app', alg: 'sha-256', digest: 'ab'.repeat(32) },
              { name: 'app', alg: 'sha-256', digest: 'cd'.repeat(32) },
            ],
          }),
        ],
      },
      /component names must be unique/,
    ],
    ['no components', { version: 1, entries: [entry({ components: [] })] }, /entries\.0\.components/],
    [
      'bad version string',
      { version: 1, entries: [entry({ firmwareVersion: '1 4' })] },
      /firmwareVersion is not a valid version/,
    ],
  ])('refuses %s with a message naming the field', (_name, input, message) => {
    const e = parseError(input);
    expect(e.code).toBe('attestation.reference_values_invalid');
    expect(e.message).toMatch(message);
  });
});

describe('reference values matching', () => {
  const refs = referenceValues();
  it('matches exactly the measurements of the family and version', () => {
    expect(refs.appraise({ boardFamily: 'nrf52', firmwareVersion: '1.4.2' }, GOOD_MEASUREMENTS).verdict).toBe('match');
  });

  it('a different digest, an extra component or a missing one is a mismatch naming it', () => {
    const [boot, app] = GOOD_MEASUREMENTS as [(typeof GOOD_MEASUREMENTS)[0], (typeof GOOD_MEASUREMENTS)[0]];
    const id = { boardFamily: 'nrf52', firmwareVersion: '1.4.2' };
    expect(refs.appraise(id, [boot, { ...app, digest: digest('x') }])).toEqual({
      verdict: 'mismatch',
      components: ['app'],
    });
    expect(refs.appraise(id, [boot])).toEqual({ verdict: 'mismatch', components: ['app'] });
    expect(refs.appraise(id, [boot, app, { ...app, component: 'debug-shell' }])).toEqual({
      verdict: 'mismatch',
      components: ['debug-shell'],
    });
    expect(refs.appraise(id, [boot, { ...app, alg: 'sha-512', digest: new Uint8Array(64) }]).verdict).toBe('mismatch');
  });

  it('an unknown family/version is unknown, not a match', () => {
    expect(refs.appraise({ boardFamily: 'nrf52', firmwareVersion: '2.0.0' }, GOOD_MEASUREMENTS).verdict).toBe(
      'unknown',
    );
    expect(refs.appraise({}, GOOD_MEASUREMENTS).verdict).toBe('unknown');
  });

  it('a signer id in the reference must be present and equal', () => {
    const signer = digest('signer');
    const r = ReferenceValues.parse({
      version: 1,
      entries: [
        entry({ components: [{ name: 'app', alg: 'sha-256', digest: hex(digest('app')), signerId: hex(signer) }] }),
      ],
    });
    const id = { boardFamily: 'nrf52', firmwareVersion: '1.4.2' };
    const m = { component: 'app', alg: 'sha-256' as const, digest: digest('app') };
    expect(r.appraise(id, [{ ...m, signerId: signer }]).verdict).toBe('match');
    expect(r.appraise(id, [m]).verdict).toBe('mismatch');
    expect(r.appraise(id, [{ ...m, signerId: digest('other signer') }]).verdict).toBe('mismatch');
  });

  it('PSA entries are found by implementation id when family and version are unknown', () => {
    const r = ReferenceValues.parse({
      version: 1,
      entries: [
        entry({
          boardFamily: 'stm32',
          implementationId: hex(IMPLEMENTATION_ID),
          components: OLD_MEASUREMENTS.map((m) => ({ name: m.component, alg: m.alg, digest: hex(m.digest) })),
        }),
      ],
    });
    expect(r.appraise({ implementationId: IMPLEMENTATION_ID }, OLD_MEASUREMENTS).verdict).toBe('match');
    expect(r.appraise({ implementationId: digest('other implementation') }, OLD_MEASUREMENTS).verdict).toBe('unknown');
    // pinned to an implementation: does not apply to another one of the same family and version
    expect(
      r.appraise({ boardFamily: 'stm32', firmwareVersion: '1.4.2', implementationId: digest('x') }, OLD_MEASUREMENTS)
        .verdict,
    ).toBe('unknown');
  });
});
