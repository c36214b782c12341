import { randomBytes } from 'node:crypto';
import { generateSigner, type Signer, signerFromPrivateKey } from '../crypto/index.js';
import { createPalisadeEvidence, createPsaEvidence } from '../evidence/evidence.js';
import { type EvidenceMessage, encodeEvidenceMessage } from '../messages/messages.js';
import type { DeviceState } from './device-state.js';
import type { FaultMode } from './faults.js';
import { firmwareImage, implementationIdOf, measurementsOf, tamperImage } from './firmware.js';

/** PSA security lifecycle "secured" (RFC 9783 §4.2.4): the only state appraised as affirming [FP-5.3-5]. */
export const PSA_LIFECYCLE_SECURED = 0x3000;
/** TF-M reports the caller's partition id; -1 is the first non-secure client. */
const PSA_CLIENT_ID = -1;
/** The firmware version a rolled-back STM32 claims to run (an older, vulnerable build). */
export const ROLLBACK_FIRMWARE_VERSION = '0.9.0';

/** What a device puts on its evidence topic: the payload, and the message it encodes (absent for garbage). */
export interface SimEvidence {
  payload: Uint8Array;
  message?: EvidenceMessage;
}

const signers = new WeakMap<DeviceState, Signer>();
const firstEvidence = new WeakMap<DeviceState, EvidenceMessage>();
let garbageCounter = 0;

function signerOf(device: DeviceState): Signer {
  let s = signers.get(device);
  if (s === undefined || !s.publicKey.equals(device.publicKey)) {
    s = signerFromPrivateKey(device.privateKey);
    signers.set(device, s);
  }
  return s;
}

/**
 * Undecodable or ill-typed CBOR, cycled: a map announcing 3 pairs that ends after one byte, a reserved initial byte,
 * a lone break code, and a well-formed text string where a map is required.
 */
const GARBAGE: readonly Uint8Array[] = [
  new Uint8Array([0xa3, 0x01]),
  new Uint8Array([0x1c, 0x00, 0x00]),
  new Uint8Array([0xff]),
  new Uint8Array([0x65, 0x68, 0x65, 0x6c, 0x6c, 0x6f]),
];

export function garbagePayload(): Uint8Array {
  const g = GARBAGE[garbageCounter++ % GARBAGE.length]!;
  return new Uint8Array(g);
}

/**
 * The evidence a device answers a challenge with, as PROTOCOL.md §4.3/§5 describe; `fault` bends it the way a faulty
 * or hostile board would (see `faults.ts`). STM32 devices send PSA tokens (psa-2, as TF-M), nRF52 and ESP32 Palisade
 * EAT with `x5chain` = [device certificate, intermediate].
 *
 * Faults that are about the device rather than its evidence (`silent`, `flood`, `expired-cert`, `revoked-cert`)
 * yield honest evidence: their tell is elsewhere (no answer, rate, certificate).
 */
export function evidenceFor(device: DeviceState, nonce: Uint8Array, fault?: FaultMode): SimEvidence {
  if (fault === 'malformed') return { payload: garbagePayload() };
  const first = firstEvidence.get(device);
  if (fault === 'replay' && first !== undefined) {
    // A replayed token, offered for the new challenge: its nonce is the old one [FP-4.3-1].
    const message: EvidenceMessage = { nonce: new Uint8Array(nonce), token: first.token, format: first.format };
    return { payload: encodeEvidenceMessage(message), message };
  }
  const tokenNonce = fault === 'wrong-nonce' ? new Uint8Array(randomBytes(nonce.length)) : nonce;
  const signer = fault === 'wrong-key' ? generateSigner(signerOf(device).alg) : signerOf(device);
  let bootCount = device.bootCount;
  let bootSeed = device.bootSeed;
  let version = device.firmwareVersion;
  let image = device.firmware;
  if (fault === 'rollback' || fault === 'clone') bootSeed = new Uint8Array(randomBytes(bootSeed.length));
  if (fault === 'rollback') {
    bootCount = Math.max(0, bootCount - 1);
    if (device.family === 'stm32') {
      version = ROLLBACK_FIRMWARE_VERSION;
      image = firmwareImage(device.family, version);
    }
  }
  if (fault === 'tampered-firmware') image = tamperImage(image);
  const measurements = measurementsOf(device.family, version, image);

  let message: EvidenceMessage;
  if (device.family === 'stm32') {
    const token = createPsaEvidence(
      {
        nonce: tokenNonce,
        instanceId: device.ueid,
        implementationId: implementationIdOf(device.family),
        bootSeed,
        lifecycle: PSA_LIFECYCLE_SECURED,
        clientId: PSA_CLIENT_ID,
        measurements,
        profile: 'psa-2',
      },
      signer,
      { kid: device.ueid.subarray(1) },
    );
    message = { nonce: new Uint8Array(nonce), token, format: 'psa' };
  } else {
    const token = createPalisadeEvidence(
      {
        nonce: tokenNonce,
        ueid: device.ueid,
        deviceId: device.deviceId,
        boardFamily: device.family,
        firmwareVersion: version,
        measurements,
        bootCount,
        bootSeed,
      },
      signer,
      { x5chain: device.chain },
    );
    message = { nonce: new Uint8Array(nonce), token, format: 'palisade-eat' };
  }
  // The first honest token is what a `replay` device offers again later.
  if (first === undefined && (fault === undefined || fault === 'replay')) firstEvidence.set(device, message);
  return { payload: encodeEvidenceMessage(message), message };
}
