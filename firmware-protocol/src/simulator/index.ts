/**
 * The board simulator: STM32 (TF-M, PSA tokens), nRF52 and ESP32 (Palisade EAT) devices with persistent state,
 * fault modes, and an MQTT runtime speaking PROTOCOL.md. `palisade-sim` is its command line (`cli.ts`).
 */
export {
  bootDevice,
  type CreateDeviceStateOptions,
  cloneDeviceState,
  createDeviceState,
  type DeviceState,
  deviceDir,
  hasDeviceState,
  loadDeviceState,
  loadDeviceStateFrom,
  rollBackDevice,
  saveDeviceState,
  ueidOf,
} from './device-state.js';
export {
  evidenceFor,
  garbagePayload,
  PSA_LIFECYCLE_SECURED,
  ROLLBACK_FIRMWARE_VERSION,
  type SimEvidence,
} from './evidence.js';
export { FAULT_MODES, type FaultMode, isFaultMode, parseFaultSpec } from './faults.js';
export {
  DEFAULT_FIRMWARE_VERSION,
  firmwareImage,
  implementationIdOf,
  measureImage,
  measurementsOf,
  referenceMeasurements,
  referenceValuesDocument,
  tamperImage,
} from './firmware.js';
export { inspectEvidence, readTokenBytes } from './inspect.js';
export { hasPki, initPki, loadPki, PKI_FILES, type PkiStore, pkiDir, revokeSerials } from './pki-store.js';
export { SimDevice, type SimDeviceEvent, type SimDeviceOptions, type SimDeviceStats } from './sim-device.js';
export {
  type SimDeviceInfo,
  type SimulatorHandle,
  type SimulatorOptions,
  type SimulatorStats,
  type SimulatorSummary,
  startSimulator,
} from './simulator.js';
