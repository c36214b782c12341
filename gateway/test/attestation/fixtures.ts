import { createECDH, createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import {
  type BoardFamily,
  type CertificateAuthority,
  type CertifiedKey,
  createDeviceIdentity,
  createIntermediateCa,
  createPalisadeEvidence,
  createPsaEvidence,
  createRootCa,
  generateKeyPair,
  type Measurement,
  type PalisadeEvidenceClaims,
  type PsaEvidenceClaims,
  signerFromPrivateKey,
} from '@palisade/firmware-protocol';
import { ManualClock, toHex } from '@palisade/shared';
import {
  Appraiser,
  type AppraiserOptions,
  MemoryDeviceStateStore,
  MemoryNonceStore,
  MemoryResultSink,
  psaInstanceId,
  ReferenceValues,
} from '../../src/attestation/index.js';

/** The evaluation time of the tests: every certificate is issued relative to it. */
export const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;

export interface TestPki {
  root: CertificateAuthority;
  intermediate: CertificateAuthority;
}

export async function createPki(name = 'Palisade Test'): Promise<TestPki> {
  const now = new Date(T0 - DAY);
  const root = await createRootCa({ commonName: `${name} Root`, now });
  const intermediate = await createIntermediateCa(root, { commonName: `${name} Issuing CA`, now });
  return { root, intermediate };
}

export interface TestDevice extends CertifiedKey {
  deviceId: string;
  family: BoardFamily;
  /** x5chain: device certificate then intermediate. */
  chain: Uint8Array[];
}

export async function createDevice(
  pki: TestPki,
  deviceId: string,
  opts: {
    family?: BoardFamily;
    keyType?: 'p256' | 'ed25519';
    privateKey?: KeyObject;
    notBefore?: number;
    notAfter?: number;
  } = {},
): Promise<TestDevice> {
  const keyPair =
    opts.privateKey === undefined
      ? generateKeyPair(opts.keyType ?? 'p256')
      : { type: 'p256' as const, privateKey: opts.privateKey, publicKey: createPublicKey(opts.privateKey) };
  const identity = await createDeviceIdentity(pki.intermediate, {
    deviceId,
    keyPair,
    notBefore: new Date(opts.notBefore ?? T0 - DAY),
    notAfter: new Date(opts.notAfter ?? T0 + 365 * DAY),
  });
  return {
    ...identity,
    deviceId,
    family: opts.family ?? 'nrf52',
    chain: [identity.certificate.der, pki.intermediate.certificate.der],
  };
}

/** A P-256 private key from a public seed label, the way the project's vector keys are made (deny-listed). */
export function vectorKey(label: string): KeyObject {
  const d = createHash('sha256').update(`palisade test vector: ${label}`).digest();
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(d);
  const pub = ecdh.getPublicKey();
  const b64 = (b: Buffer) => b.toString('base64url');
  return createPrivateKey({
    format: 'jwk',
    key: { kty: 'EC', crv: 'P-256', d: b64(d), x: b64(pub.subarray(1, 33)), y: b64(pub.subarray(33)) },
  });
}

export const digest = (label: string): Uint8Array => new Uint8Array(createHash('sha256').update(label).digest());

export const GOOD_MEASUREMENTS: Measurement[] = [
  { component: 'bootloader', digest: digest('bootloader 2.1.0'), alg: 'sha-256', version: '2.1.0' },
  { component: 'app', digest: digest('app 1.4.2'), alg: 'sha-256', version: '1.4.2' },
];
export const OLD_MEASUREMENTS: Measurement[] = [
  { component: 'bootloader', digest: digest('bootloader 2.1.0'), alg: 'sha-256', version: '2.1.0' },
  { component: 'app', digest: digest('app 1.3.0'), alg: 'sha-256', version: '1.3.0' },
];
export const IMPLEMENTATION_ID = digest('stm32u5 tf-m implementation');

const component = (m: Measurement) => ({ name: m.component, alg: m.alg, digest: toHex(m.digest) });

export function referenceValues(): ReferenceValues {
  const entries = [];
  for (const family of ['nrf52', 'esp32', 'stm32'] as const) {
    entries.push({ boardFamily: family, firmwareVersion: '1.4.2', components: GOOD_MEASUREMENTS.map(component) });
    entries.push({ boardFamily: family, firmwareVersion: '1.3.0', components: OLD_MEASUREMENTS.map(component) });
  }
  return ReferenceValues.parse({ version: 1, entries });
}

export function nonce(label: string): Uint8Array {
  return digest(`nonce ${label}`);
}

export function palisadeClaims(device: TestDevice, n: Uint8Array, over: Partial<PalisadeEvidenceClaims> = {}) {
  return {
    nonce: n,
    ueid: psaInstanceId(device.publicKey),
    deviceId: device.deviceId,
    boardFamily: device.family,
    firmwareVersion: '1.4.2',
    measurements: GOOD_MEASUREMENTS,
    bootCount: 7,
    bootSeed: digest(`${device.deviceId} boot 7`).subarray(0, 16),
    ...over,
  } satisfies PalisadeEvidenceClaims;
}

/** Palisade EAT signed by `signer` (default: the device), carrying `x5chain` (default: the device's). */
export function palisadeToken(
  device: TestDevice,
  n: Uint8Array,
  over: Partial<PalisadeEvidenceClaims> = {},
  opts: { signWith?: KeyObject; x5chain?: Uint8Array[] | null } = {},
): Uint8Array {
  const signer = signerFromPrivateKey(opts.signWith ?? device.privateKey);
  const x5chain = opts.x5chain === null ? undefined : (opts.x5chain ?? device.chain);
  return createPalisadeEvidence(palisadeClaims(device, n, over), signer, x5chain === undefined ? {} : { x5chain });
}

export function psaToken(key: KeyObject, n: Uint8Array, over: Partial<PsaEvidenceClaims> = {}): Uint8Array {
  const claims: PsaEvidenceClaims = {
    nonce: n,
    instanceId: psaInstanceId(createPublicKey(key)),
    implementationId: IMPLEMENTATION_ID,
    bootSeed: digest('psa boot seed'),
    lifecycle: 0x3000,
    clientId: -1,
    measurements: GOOD_MEASUREMENTS,
    profile: 'psa-2',
    ...over,
  };
  return createPsaEvidence(claims, signerFromPrivateKey(key));
}

export interface Harness {
  appraiser: Appraiser;
  clock: ManualClock;
  nonces: MemoryNonceStore;
  devices: MemoryDeviceStateStore;
  results: MemoryResultSink;
  gatewayKey: { privateKey: KeyObject; publicKey: KeyObject; kid: string };
  /** Issues a challenge nonce to `deviceId` (TTL 30 s) and returns it. */
  challenge(deviceId: string, label?: string): Uint8Array;
}

let counter = 0;

export function harness(pki: TestPki, over: Partial<AppraiserOptions> = {}): Harness {
  const clock = new ManualClock(T0);
  const nonces = new MemoryNonceStore();
  const devices = new MemoryDeviceStateStore();
  const results = new MemoryResultSink();
  const { privateKey, publicKey } = generateKeyPair('p256');
  const gatewayKey = { privateKey, publicKey, kid: 'gw-test-1' };
  const appraiser = new Appraiser({
    gatewayId: 'gw-test',
    resultKey: gatewayKey,
    clock,
    trust: { roots: [pki.root.certificate.pem] },
    referenceValues: referenceValues(),
    nonces,
    devices,
    results,
    ...over,
  });
  return {
    appraiser,
    clock,
    nonces,
    devices,
    results,
    gatewayKey,
    challenge(deviceId, label = `${deviceId}-${counter++}`) {
      const n = nonce(label);
      nonces.issue(toHex(n), deviceId, clock.now(), clock.now() + 30_000);
      return n;
    },
  };
}
