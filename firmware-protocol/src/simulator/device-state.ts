import { createHash, type KeyObject, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConflictError, fromHex, isDeviceId, NotFoundError, toHex, ValidationError } from '@palisade/shared';
import { BOARD_FAMILIES, type BoardFamily, FIRMWARE_VERSION_PATTERN } from '../evidence/claims.js';
import {
  createDeviceIdentity,
  type IssuedCertificate,
  type PkiKeyType,
  parseCertificate,
  privateKeyFromPem,
  privateKeyToPem,
} from '../pki/index.js';
import { DEFAULT_FIRMWARE_VERSION, firmwareImage, measureImage } from './firmware.js';
import { type PkiStore, writeAtomic } from './pki-store.js';

/**
 * A simulated board's persistent state, one directory per device (`<stateDir>/devices/<id>/`):
 * `device.json` (family, firmware version, boot counter, boot seed), `key.pem` (attestation and TLS client key),
 * `cert.pem` (device certificate), `chain.pem` (device certificate then intermediate), `firmware.bin` (the
 * application image whose SHA-256 is the `app` measurement).
 */
export interface DeviceState {
  dir: string;
  deviceId: string;
  family: BoardFamily;
  keyType: PkiKeyType;
  firmwareVersion: string;
  /** Boots since manufacture [FP-5.2-3]. */
  bootCount: number;
  /** Fresh at every boot, constant within a boot [FP-5.2-3]. 32 bytes (the PSA-1 size, valid for every profile). */
  bootSeed: Uint8Array;
  privateKey: KeyObject;
  publicKey: KeyObject;
  certificate: IssuedCertificate;
  /** DER, leaf first: device certificate, intermediate (the x5chain of Palisade EAT evidence, RFC 9360). */
  chain: Uint8Array[];
  /** PEM of the same chain, what a TLS client presents. */
  chainPem: string;
  firmware: Uint8Array;
  /** SHA-256 of `firmware`. */
  measurement: Uint8Array;
  /** 0x01 ‖ SHA-256(raw public key): the EAT ueid and the PSA instance id [FP-5.3-3]. */
  ueid: Uint8Array;
}

const FILES = { meta: 'device.json', key: 'key.pem', cert: 'cert.pem', chain: 'chain.pem', firmware: 'firmware.bin' };
const BOOT_SEED_BYTES = 32;

interface DeviceMeta {
  version: 1;
  deviceId: string;
  family: BoardFamily;
  keyType: PkiKeyType;
  firmwareVersion: string;
  bootCount: number;
  bootSeed: string;
}

export function devicesDir(stateDir: string): string {
  return join(stateDir, 'devices');
}

export function deviceDir(stateDir: string, deviceId: string): string {
  if (!isDeviceId(deviceId)) throw new ValidationError('validation.device_id', 'not a valid device id');
  return join(devicesDir(stateDir), deviceId);
}

/** RFC 9783 §4.2.1 / TF-M: the instance id is 0x01 followed by the SHA-256 of the raw public key. */
export function ueidOf(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  const raw =
    jwk.kty === 'EC'
      ? Buffer.concat([
          Buffer.from([0x04]),
          Buffer.from(jwk.x ?? '', 'base64url'),
          Buffer.from(jwk.y ?? '', 'base64url'),
        ])
      : Buffer.from(jwk.x ?? '', 'base64url');
  const out = new Uint8Array(33);
  out[0] = 0x01;
  out.set(createHash('sha256').update(raw).digest(), 1);
  return out;
}

export interface CreateDeviceStateOptions {
  /** State directory; the device goes to `<stateDir>/devices/<deviceId>`. */
  stateDir: string;
  pki: PkiStore;
  deviceId: string;
  family: BoardFamily;
  keyType?: PkiKeyType;
  firmwareVersion?: string;
  /** Issue an already-expired certificate (fault `expired-cert`). */
  expired?: boolean;
  now?: Date;
}

/**
 * Provisions a device as a factory would: key pair, certificate from the intermediate, known-good firmware image,
 * boot counter 1 (the factory boot) and a boot seed. Persists it and refuses to overwrite an existing device.
 */
export async function createDeviceState(opts: CreateDeviceStateOptions): Promise<DeviceState> {
  if (!BOARD_FAMILIES.includes(opts.family)) {
    throw new ValidationError('validation.board_family', `board family must be one of ${BOARD_FAMILIES.join(', ')}`);
  }
  const firmwareVersion = opts.firmwareVersion ?? DEFAULT_FIRMWARE_VERSION;
  if (!FIRMWARE_VERSION_PATTERN.test(firmwareVersion)) {
    throw new ValidationError('validation.firmware_version', 'not a valid firmware version');
  }
  const dir = deviceDir(opts.stateDir, opts.deviceId);
  if (existsSync(join(dir, FILES.meta))) {
    throw new ConflictError('conflict.device_exists', `device ${opts.deviceId} already exists`, { details: { dir } });
  }
  const identity = await createDeviceIdentity(opts.pki.intermediate, {
    deviceId: opts.deviceId,
    keyType: opts.keyType ?? 'p256',
    ...(opts.expired === true ? { expired: true } : {}),
    ...(opts.now === undefined ? {} : { now: opts.now }),
  });
  mkdirSync(dir, { recursive: true });
  const firmware = firmwareImage(opts.family, firmwareVersion);
  const chainPem = identity.certificate.pem + opts.pki.intermediate.certificate.pem;
  writeAtomic(join(dir, FILES.key), privateKeyToPem(identity.privateKey), 0o600);
  writeAtomic(join(dir, FILES.cert), identity.certificate.pem);
  writeAtomic(join(dir, FILES.chain), chainPem);
  writeAtomic(join(dir, FILES.firmware), firmware);
  const state: DeviceState = {
    dir,
    deviceId: opts.deviceId,
    family: opts.family,
    keyType: identity.type,
    firmwareVersion,
    bootCount: 1,
    bootSeed: new Uint8Array(randomBytes(BOOT_SEED_BYTES)),
    privateKey: identity.privateKey,
    publicKey: identity.publicKey,
    certificate: identity.certificate,
    chain: [identity.certificate.der, opts.pki.intermediate.certificate.der],
    chainPem,
    firmware,
    measurement: measureImage(firmware),
    ueid: ueidOf(identity.publicKey),
  };
  saveDeviceState(state);
  return state;
}

/** Persists the mutable part of the state (boot counter, boot seed, firmware version). */
export function saveDeviceState(state: DeviceState): void {
  const meta: DeviceMeta = {
    version: 1,
    deviceId: state.deviceId,
    family: state.family,
    keyType: state.keyType,
    firmwareVersion: state.firmwareVersion,
    bootCount: state.bootCount,
    bootSeed: toHex(state.bootSeed),
  };
  writeAtomic(join(state.dir, FILES.meta), `${JSON.stringify(meta, null, 2)}\n`);
}

function readMeta(dir: string): DeviceMeta {
  let meta: DeviceMeta;
  try {
    meta = JSON.parse(readFileSync(join(dir, FILES.meta), 'utf8')) as DeviceMeta;
  } catch (cause) {
    throw new ValidationError('validation.device_state', `unreadable device state in ${dir}`, { cause });
  }
  if (
    meta.version !== 1 ||
    !isDeviceId(meta.deviceId) ||
    !BOARD_FAMILIES.includes(meta.family) ||
    !Number.isSafeInteger(meta.bootCount) ||
    meta.bootCount < 0 ||
    typeof meta.bootSeed !== 'string' ||
    !FIRMWARE_VERSION_PATTERN.test(meta.firmwareVersion)
  ) {
    throw new ValidationError('validation.device_state', `invalid device state in ${dir}`);
  }
  return meta;
}

/** Loads a device from its directory (`dir` as given, e.g. a clone's copy). */
export function loadDeviceStateFrom(dir: string): DeviceState {
  if (!existsSync(join(dir, FILES.meta))) {
    throw new NotFoundError('not_found.device', `no device state in ${dir}`, { details: { dir } });
  }
  const meta = readMeta(dir);
  const keys = privateKeyFromPem(readFileSync(join(dir, FILES.key), 'utf8'));
  const cert = parseCertificate(readFileSync(join(dir, FILES.cert), 'utf8'));
  const chainPem = readFileSync(join(dir, FILES.chain), 'utf8');
  const chain = chainPem
    .split(/(?=-----BEGIN CERTIFICATE-----)/)
    .filter((p) => p.includes('BEGIN CERTIFICATE'))
    .map((p) => parseCertificate(p).der);
  const firmware = new Uint8Array(readFileSync(join(dir, FILES.firmware)));
  const { pem, der, serial, subject, issuer, notBefore, notAfter } = cert;
  return {
    dir,
    deviceId: meta.deviceId,
    family: meta.family,
    keyType: keys.type,
    firmwareVersion: meta.firmwareVersion,
    bootCount: meta.bootCount,
    bootSeed: fromHex(meta.bootSeed),
    privateKey: keys.privateKey,
    publicKey: keys.publicKey,
    certificate: { pem, der, serial, subject, issuer, notBefore, notAfter },
    chain,
    chainPem,
    firmware,
    measurement: measureImage(firmware),
    ueid: ueidOf(keys.publicKey),
  };
}

export function loadDeviceState(stateDir: string, deviceId: string): DeviceState {
  return loadDeviceStateFrom(deviceDir(stateDir, deviceId));
}

export function hasDeviceState(stateDir: string, deviceId: string): boolean {
  return existsSync(join(deviceDir(stateDir, deviceId), FILES.meta));
}

/** A boot: the counter goes up by one and a fresh seed is drawn; persisted before the device speaks [FP-5.2-3]. */
export function bootDevice(state: DeviceState, random: (n: number) => Uint8Array = randomBytes): void {
  state.bootCount += 1;
  state.bootSeed = new Uint8Array(random(BOOT_SEED_BYTES));
  saveDeviceState(state);
}

/**
 * A reflash that rewinds the boot counter, then a boot (fault `rollback`): the device comes up reporting a count one
 * *below* the last one it reported, with a new seed, as a board whose counter storage was rewritten by an attacker.
 */
export function rollBackDevice(state: DeviceState, random: (n: number) => Uint8Array = randomBytes): void {
  state.bootCount = Math.max(0, state.bootCount - 1);
  state.bootSeed = new Uint8Array(random(BOOT_SEED_BYTES));
  saveDeviceState(state);
}

/**
 * Copies a device's identity (key and certificate, as dumped from its flash) into `dir`: fault `clone`. The copy has
 * its own boot seed but the victim's current counter, so the two report the same count with different seeds.
 */
export function cloneDeviceState(victim: DeviceState, dir: string): DeviceState {
  cpSync(victim.dir, dir, { recursive: true });
  const clone = loadDeviceStateFrom(dir);
  clone.bootSeed = new Uint8Array(randomBytes(BOOT_SEED_BYTES));
  saveDeviceState(clone);
  return clone;
}
