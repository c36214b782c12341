import { createHash } from 'node:crypto';
import type { BoardFamily, Measurement } from '../evidence/claims.js';

/**
 * The simulated boards' firmware: deterministic images per board family and version, so that a gateway can be
 * given the reference values of a known-good build ({@link referenceMeasurements}) without sharing state with the
 * simulator. A tampered device runs a different image and therefore reports a different `app` digest.
 */

/** Default firmware version of freshly provisioned devices. */
export const DEFAULT_FIRMWARE_VERSION = '1.0.0';
const IMAGE_BYTES = 4096;

function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

/** Deterministic pseudo-random bytes (SHA-256 in counter mode over a label). */
function expand(label: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0, block = 0; i < length; block++) {
    const chunk = sha256(`${label}#${block}`);
    out.set(chunk.subarray(0, Math.min(32, length - i)), i);
    i += chunk.length;
  }
  return out;
}

/** The known-good application image of a family at a version. */
export function firmwareImage(family: BoardFamily, version: string): Uint8Array {
  return expand(`palisade-sim firmware ${family} ${version}`, IMAGE_BYTES);
}

/** The same image with one byte changed: what a tampered device runs. */
export function tamperImage(image: Uint8Array): Uint8Array {
  const out = new Uint8Array(image);
  const i = Math.floor(out.length / 2);
  out[i] = (out[i]! ^ 0xa5) & 0xff;
  return out;
}

/** SHA-256 of an image (the measurement a device's boot ROM would take). */
export function measureImage(image: Uint8Array): Uint8Array {
  return sha256(image);
}

/** Hash of the (simulated) firmware signing key of a family: the `signer id` of measured components. */
function signerId(family: BoardFamily): Uint8Array {
  return sha256(`palisade-sim firmware signer ${family}`);
}

/**
 * The measured components a device of `family` reports when running `image` as its application. nRF52/ESP32 (Palisade
 * EAT) report `bootloader` and `app`; STM32 (TF-M, PSA) reports `BL`, `PRoT`, `ARoT` and `App` as TF-M does.
 */
export function measurementsOf(family: BoardFamily, version: string, image: Uint8Array): Measurement[] {
  const fixed = (name: string): Measurement => ({
    component: name,
    digest: sha256(`palisade-sim ${family} ${name} ${version}`),
    alg: 'sha-256',
    version,
    signerId: signerId(family),
  });
  const app: Measurement = {
    component: family === 'stm32' ? 'App' : 'app',
    digest: measureImage(image),
    alg: 'sha-256',
    version,
    signerId: signerId(family),
  };
  return family === 'stm32' ? [fixed('BL'), fixed('PRoT'), fixed('ARoT'), app] : [fixed('bootloader'), app];
}

/** Reference values of the known-good build: what a gateway should accept for this family and version. */
export function referenceMeasurements(family: BoardFamily, version = DEFAULT_FIRMWARE_VERSION): Measurement[] {
  return measurementsOf(family, version, firmwareImage(family, version));
}

/** PSA implementation id of the simulated STM32 TF-M build (RFC 9783 §4.2.2: identifies the RoT implementation). */
export function implementationIdOf(family: BoardFamily): Uint8Array {
  return sha256(`palisade-sim implementation ${family}`);
}

/**
 * The gateway's reference-values document (`palisade-gateway refvals import` format) for every simulated family at
 * the current and the previous release, so a gateway can appraise simulated boards out of the box.
 */
export function referenceValuesDocument(versions: readonly string[] = [DEFAULT_FIRMWARE_VERSION, '0.9.0']): {
  version: 1;
  entries: Record<string, unknown>[];
} {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  return {
    version: 1,
    entries: (['stm32', 'nrf52', 'esp32'] as const).flatMap((family) =>
      versions.map((version) => ({
        boardFamily: family,
        firmwareVersion: version,
        ...(family === 'stm32' ? { implementationId: hex(implementationIdOf(family)) } : {}),
        components: referenceMeasurements(family, version).map((m) => ({
          name: m.component,
          alg: m.alg,
          digest: hex(m.digest),
          ...(m.signerId === undefined ? {} : { signerId: hex(m.signerId) }),
          ...(m.version === undefined ? {} : { version: m.version }),
        })),
      })),
    ),
  };
}
