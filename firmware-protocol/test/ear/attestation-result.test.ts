import { generateKeyPairSync } from 'node:crypto';
import { earClaimsSchema, earReasons } from '@palisade/shared';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  type AttestationResultInput,
  buildAttestationResult,
  decodeAttestationResult,
  deriveEarStatus,
  signAttestationResult,
  TRUST,
  trustTier,
  verifyAttestationResult,
} from '../../src/ear/index.js';
import { isProtocolError } from '../../src/errors.js';
import type { NormalisedClaims } from '../../src/evidence/claims.js';

const gw = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const T0 = Date.UTC(2026, 0, 1);

const claims: NormalisedClaims = {
  profile: 'palisade-eat/1',
  nonce: new Uint8Array(32).fill(7),
  ueid: new Uint8Array([1, ...new Uint8Array(32).fill(9)]),
  deviceId: 'nrf-001',
  boardFamily: 'nrf52',
  firmwareVersion: '1.4.2',
  measurements: [],
  bootCount: 12,
};

function input(over: Partial<AttestationResultInput> = {}): AttestationResultInput {
  return {
    gatewayId: 'gw-site-1',
    deviceId: 'nrf-001',
    resultId: 'res_01',
    appraisedAt: T0,
    nonce: new Uint8Array(32).fill(7),
    vector: {
      'instance-identity': TRUST['instance-identity'].trustworthy,
      executables: TRUST.executables.approvedRuntime,
      hardware: TRUST.hardware.genuine,
    },
    reasons: [],
    claims,
    ...over,
  };
}

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isProtocolError(e), `expected a ProtocolError, got ${String(e)}`).toBe(true);
  expect((e as { code: string }).code).toBe(code);
}

describe('trust tiers [FP-8.2-1]', () => {
  it.each([
    [-1, 'none'],
    [0, 'none'],
    [1, 'none'],
    [2, 'affirming'],
    [31, 'affirming'],
    [-2, 'affirming'],
    [-32, 'affirming'],
    [32, 'warning'],
    [95, 'warning'],
    [-33, 'warning'],
    [-96, 'warning'],
    [96, 'contraindicated'],
    [127, 'contraindicated'],
    [-97, 'contraindicated'],
    [-128, 'contraindicated'],
  ])('value %i is %s', (v, tier) => {
    expect(trustTier(v)).toBe(tier);
  });

  it('[FP-8.2-2] status is the least favourable tier, ignoring no-claim values', () => {
    expect(deriveEarStatus({})).toBe('none');
    expect(deriveEarStatus({ configuration: 0, hardware: 2 })).toBe('affirming');
    expect(deriveEarStatus({ hardware: 2, executables: 33 })).toBe('warning');
    expect(deriveEarStatus({ hardware: 2, executables: 33, 'instance-identity': 99 })).toBe('contraindicated');
  });
});

describe('buildAttestationResult', () => {
  it('builds an affirming EAR that the shared contract accepts', () => {
    const ear = buildAttestationResult(input());
    expect(ear.ear_status).toBe('affirming');
    expect(ear.iat).toBe(T0 / 1000);
    expect(ear.sub).toBe('nrf-001');
    expect(ear.eat_nonce).toBe(Buffer.alloc(32, 7).toString('base64url'));
    expect(ear.submods.device.ear_attester_claims).toEqual({
      evidence_profile: 'palisade-eat/1',
      ueid: `01${'09'.repeat(32)}`,
      board_family: 'nrf52',
      firmware_version: '1.4.2',
      bootcount: 12,
    });
    expect(earClaimsSchema.parse(ear)).toEqual(ear);
  });

  it('derives contraindicated from the vector and carries the reasons', () => {
    const ear = buildAttestationResult(
      input({ vector: { 'instance-identity': 99, executables: 2 }, reasons: ['cose.bad_signature'] }),
    );
    expect(ear.ear_status).toBe('contraindicated');
    expect(earReasons(ear)).toEqual(['cose.bad_signature']);
  });

  it('[FP-8.2-3] refuses reasons on an affirming vector, and a failing vector without reasons', () => {
    expect(() => buildAttestationResult(input({ reasons: ['appraisal.x'] }))).toThrow(
      expect.objectContaining({ code: 'ear.malformed' }),
    );
    expect(() => buildAttestationResult(input({ vector: { executables: 33 } }))).toThrow(
      expect.objectContaining({ code: 'ear.malformed' }),
    );
  });

  it('refuses a bad device id or reason code format', () => {
    expect(() => buildAttestationResult(input({ deviceId: 'a/b' }))).toThrow(
      expect.objectContaining({ code: 'ear.malformed' }),
    );
    expect(() => buildAttestationResult(input({ vector: { executables: 33 }, reasons: ['Bad Reason'] }))).toThrow(
      expect.objectContaining({ code: 'ear.malformed' }),
    );
  });
});

describe('sign and verify [FP-8.3-1] [FP-8.3-2]', () => {
  it('round-trips through an ES256 JWT with the kid in the header', async () => {
    const ear = buildAttestationResult(input({ ttlSeconds: 3600 }));
    const jwt = await signAttestationResult(ear, { privateKey: gw.privateKey, kid: 'gw-key-1' });
    const header = JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString());
    expect(header).toEqual({ alg: 'ES256', typ: 'JWT', kid: 'gw-key-1' });
    expect(await verifyAttestationResult(jwt, gw.publicKey, { now: T0 })).toEqual(ear);
    expect(decodeAttestationResult(jwt)).toEqual({ kid: 'gw-key-1', claims: ear });
  });

  it('rejects a result checked with another key', async () => {
    const jwt = await signAttestationResult(buildAttestationResult(input()), { privateKey: gw.privateKey, kid: 'k' });
    await rejects(verifyAttestationResult(jwt, other.publicKey, { now: T0 }), 'ear.bad_signature');
  });

  it('rejects a tampered payload (status flipped to affirming)', async () => {
    const ear = buildAttestationResult(input({ vector: { executables: 96 }, reasons: ['appraisal.measurement'] }));
    const jwt = await signAttestationResult(ear, { privateKey: gw.privateKey, kid: 'k' });
    const [h, p, s] = jwt.split('.') as [string, string, string];
    const body = JSON.parse(Buffer.from(p, 'base64url').toString());
    body.ear_status = 'affirming';
    const forged = `${h}.${Buffer.from(JSON.stringify(body)).toString('base64url')}.${s}`;
    await rejects(verifyAttestationResult(forged, gw.publicKey, { now: T0 }), 'ear.bad_signature');
  });

  it('rejects alg none and HS256 results', async () => {
    const ear = buildAttestationResult(input());
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(ear)).toString('base64url')}.`;
    await rejects(verifyAttestationResult(none, gw.publicKey, { now: T0 }), 'ear.unsupported_alg');
    const hs = await new SignJWT(ear as never).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32));
    await rejects(verifyAttestationResult(hs, gw.publicKey, { now: T0 }), 'ear.unsupported_alg');
  });

  it('rejects an expired result, within the clock tolerance it still passes', async () => {
    const ear = buildAttestationResult(input({ ttlSeconds: 60 }));
    const jwt = await signAttestationResult(ear, { privateKey: gw.privateKey, kid: 'k' });
    await expect(verifyAttestationResult(jwt, gw.publicKey, { now: T0 + 110_000 })).resolves.toBeDefined();
    await rejects(verifyAttestationResult(jwt, gw.publicKey, { now: T0 + 130_000 }), 'ear.expired');
  });

  it('rejects a correctly signed JWT that is not an EAR', async () => {
    const jwt = await new SignJWT({ hello: 'world' }).setProtectedHeader({ alg: 'ES256' }).sign(gw.privateKey);
    await rejects(verifyAttestationResult(jwt, gw.publicKey, { now: T0 }), 'ear.malformed');
  });

  it('rejects a signed EAR whose status disagrees with its vector', async () => {
    const ear = buildAttestationResult(input());
    const lying = {
      ...ear,
      submods: { device: { ...ear.submods.device, ear_trustworthiness_vector: { hardware: 97 } } },
    };
    const jwt = await new SignJWT(lying as never).setProtectedHeader({ alg: 'ES256' }).sign(gw.privateKey);
    await rejects(verifyAttestationResult(jwt, gw.publicKey, { now: T0 }), 'ear.malformed');
  });

  it.each(['', 'abc', 'a.b.c', '....', 'x'.repeat(20_000)])('rejects garbage %#', async (s) => {
    await rejects(verifyAttestationResult(s, gw.publicKey, { now: T0 }), 'ear.malformed');
    expect(() => decodeAttestationResult(s)).toThrow(expect.objectContaining({ code: 'ear.malformed' }));
  });
});
