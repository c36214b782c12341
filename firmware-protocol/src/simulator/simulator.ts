import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Clock, type Logger, ValidationError } from '@palisade/shared';
import { BOARD_FAMILIES, type BoardFamily } from '../evidence/claims.js';
import { isRevoked, type PkiKeyType } from '../pki/index.js';
import {
  bootDevice,
  cloneDeviceState,
  createDeviceState,
  type DeviceState,
  hasDeviceState,
  loadDeviceState,
} from './device-state.js';
import { FAULT_MODES, type FaultMode, parseFaultSpec } from './faults.js';
import { hasPki, initPki, loadPki, type PkiStore, revokeSerials } from './pki-store.js';
import { SimDevice, type SimDeviceEvent, type SimDeviceStats } from './sim-device.js';

/**
 * A fleet of simulated boards against one broker: provisions (or reloads) their state, applies the selected fault
 * modes, boots and connects them, and counts what happens. Used by `palisade-sim run` and in-process by tests.
 */

export interface SimulatorOptions {
  broker: string;
  devices: number;
  /** Families assigned round-robin. Default: stm32, nrf52, esp32. */
  families?: readonly BoardFamily[];
  /** `{ 'tampered-firmware': 2 }`, or the CLI form `tampered-firmware:2,rollback:1`. */
  faults?: Partial<Record<FaultMode, number>> | string;
  /** Persistent state (PKI and devices); a temporary directory removed on stop when absent. */
  stateDir?: string;
  /** Telemetry messages per second per device; 0 for none. Default 1. */
  telemetryRateHz?: number;
  /** Messages per second of `flood` devices. Default 500. */
  floodRateHz?: number;
  /** Trust anchors (PEM) for the broker's TLS certificate (mqtts://, wss://). */
  ca?: string;
  username?: string;
  password?: string;
  /** Device id prefix. Default `sim`. */
  idPrefix?: string;
  keyType?: PkiKeyType;
  reconnectPeriodMs?: number;
  clock?: Clock;
  logger?: Logger;
  onEvent?: (e: SimDeviceEvent) => void;
}

export interface SimDeviceInfo {
  deviceId: string;
  family: BoardFamily;
  fault?: FaultMode;
  /** Certificate serial (hex): what a gateway's CRL check and registry see. */
  serial: string;
  state: DeviceState;
}

export interface SimulatorStats {
  devices: number;
  connected: number;
  challenges: number;
  evidenceSent: number;
  /** Devices whose last result is affirming. */
  attested: number;
  /** Devices whose last result is anything else. */
  failed: number;
  results: SimDeviceStats['results'];
  telemetrySent: number;
  commandsApplied: number;
  badMessages: number;
}

export interface SimulatorHandle {
  stateDir: string;
  pki: PkiStore;
  devices: readonly SimDeviceInfo[];
  /** The running boards, in the order of `devices` (e.g. to `reboot()` one from a test). */
  instances: readonly SimDevice[];
  stats(): SimulatorStats;
  deviceStats(deviceId: string): SimDeviceStats[];
  /** Resolves when `predicate(stats())` holds; rejects after `timeoutMs`. */
  waitFor(predicate: (s: SimulatorStats) => boolean, timeoutMs: number): Promise<SimulatorStats>;
  /** A per-device summary, for reports. */
  summary(): SimulatorSummary;
  stop(): Promise<void>;
}

export interface SimulatorSummary extends SimulatorStats {
  perDevice: { deviceId: string; family: BoardFamily; fault?: FaultMode; lastStatus?: string; reasons?: string[] }[];
}

function faultCounts(spec: SimulatorOptions['faults']): Map<FaultMode, number> {
  if (spec === undefined) return new Map();
  if (typeof spec === 'string') return parseFaultSpec(spec);
  const out = new Map<FaultMode, number>();
  for (const [k, v] of Object.entries(spec)) {
    if (!(FAULT_MODES as readonly string[]).includes(k)) throw new ValidationError('validation.fault', 'unknown fault');
    if (v !== undefined && v > 0) out.set(k as FaultMode, v);
  }
  return out;
}

/** Fault of each device slot, in FAULT_MODES order over the first slots; the rest are healthy. */
function assignFaults(n: number, counts: Map<FaultMode, number>): (FaultMode | undefined)[] {
  const slots: (FaultMode | undefined)[] = [];
  for (const f of FAULT_MODES) for (let i = 0; i < (counts.get(f) ?? 0); i++) slots.push(f);
  if (slots.length > n) {
    throw new ValidationError('validation.fault', `${slots.length} faulty devices requested but only ${n} devices`);
  }
  while (slots.length < n) slots.push(undefined);
  return slots;
}

function deviceIdFor(prefix: string, family: BoardFamily, index: number, fault: FaultMode | undefined): string {
  const base = `${prefix}-${family}-${String(index + 1).padStart(4, '0')}`;
  // Fault devices carry their fault in the id: their provisioned state (an expired certificate, say) differs.
  return fault === undefined || fault === 'clone' ? base : `${base}-${fault}`;
}

export async function startSimulator(opts: SimulatorOptions): Promise<SimulatorHandle> {
  if (!Number.isSafeInteger(opts.devices) || opts.devices < 1 || opts.devices > 100_000) {
    throw new ValidationError('validation.devices', 'devices must be an integer in 1..100000');
  }
  const families = opts.families ?? BOARD_FAMILIES;
  if (families.length === 0 || families.some((f) => !BOARD_FAMILIES.includes(f))) {
    throw new ValidationError('validation.board_family', `families must be among ${BOARD_FAMILIES.join(', ')}`);
  }
  const rate = opts.telemetryRateHz ?? 1;
  if (!(rate >= 0 && rate <= 1000)) throw new ValidationError('validation.telemetry_rate', 'rate must be 0..1000 Hz');
  const slots = assignFaults(opts.devices, faultCounts(opts.faults));
  const ownDir = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'palisade-sim-'));
  const pki = hasPki(stateDir) ? loadPki(stateDir) : await initPki(stateDir);
  const prefix = opts.idPrefix ?? 'sim';

  // Provision or load every non-clone device, and boot it (each run is a boot: counter + 1, fresh seed).
  const infos: SimDeviceInfo[] = [];
  const toRevoke: string[] = [];
  for (const [i, fault] of slots.entries()) {
    if (fault === 'clone') continue;
    const family = families[i % families.length]!;
    const deviceId = deviceIdFor(prefix, family, i, fault);
    const state = hasDeviceState(stateDir, deviceId)
      ? loadDeviceState(stateDir, deviceId)
      : await createDeviceState({
          stateDir,
          pki,
          deviceId,
          family,
          ...(opts.keyType === undefined ? {} : { keyType: opts.keyType }),
          ...(fault === 'expired-cert' ? { expired: true } : {}),
        });
    bootDevice(state);
    if (fault === 'revoked-cert' && !isRevoked(pki.crl, state.certificate.serial))
      toRevoke.push(state.certificate.serial);
    const info: SimDeviceInfo = { deviceId, family, serial: state.certificate.serial, state };
    if (fault !== undefined) info.fault = fault;
    infos.push(info);
  }
  if (toRevoke.length > 0) await revokeSerials(pki, toRevoke);

  // Clones: a copy of a healthy device's identity, made after the victim's boot.
  const victims = infos.filter((d) => d.fault === undefined);
  let cloneNo = 0;
  for (const fault of slots) {
    if (fault !== 'clone') continue;
    const victim = victims[cloneNo % Math.max(1, victims.length)];
    if (victim === undefined) throw new ValidationError('validation.fault', 'clone needs at least one healthy device');
    const dir = join(stateDir, 'clones', `${victim.deviceId}-${++cloneNo}`);
    rmSync(dir, { recursive: true, force: true });
    const state = cloneDeviceState(victim.state, dir);
    infos.push({ deviceId: state.deviceId, family: state.family, fault, serial: state.certificate.serial, state });
  }

  const devices = infos.map(
    (info) =>
      new SimDevice({
        state: info.state,
        broker: opts.broker,
        ...(info.fault === undefined ? {} : { fault: info.fault }),
        telemetryIntervalMs: rate > 0 ? Math.max(1, Math.round(1000 / rate)) : 0,
        ...(opts.floodRateHz === undefined ? {} : { floodRateHz: opts.floodRateHz }),
        ...(opts.ca === undefined ? {} : { ca: opts.ca }),
        ...(opts.username === undefined ? {} : { username: opts.username }),
        ...(opts.password === undefined ? {} : { password: opts.password }),
        ...(opts.reconnectPeriodMs === undefined ? {} : { reconnectPeriodMs: opts.reconnectPeriodMs }),
        ...(opts.clock === undefined ? {} : { clock: opts.clock }),
        ...(opts.logger === undefined ? {} : { logger: opts.logger }),
        ...(opts.onEvent === undefined ? {} : { onEvent: opts.onEvent }),
      }),
  );
  for (const d of devices) d.start();

  const stats = (): SimulatorStats => {
    const s: SimulatorStats = {
      devices: devices.length,
      connected: 0,
      challenges: 0,
      evidenceSent: 0,
      attested: 0,
      failed: 0,
      results: { affirming: 0, warning: 0, contraindicated: 0, none: 0 },
      telemetrySent: 0,
      commandsApplied: 0,
      badMessages: 0,
    };
    for (const d of devices) {
      const x = d.stats;
      if (x.connected) s.connected++;
      s.challenges += x.challenges;
      s.evidenceSent += x.evidenceSent;
      if (x.lastResult?.status === 'affirming') s.attested++;
      else if (x.lastResult !== undefined) s.failed++;
      for (const k of Object.keys(s.results) as (keyof SimulatorStats['results'])[]) s.results[k] += x.results[k];
      s.telemetrySent += x.telemetrySent;
      s.commandsApplied += x.commands.applied;
      s.badMessages += x.badMessages;
    }
    return s;
  };

  let stopped = false;
  return {
    stateDir,
    pki,
    devices: infos,
    instances: devices,
    stats,
    deviceStats: (deviceId) => devices.filter((d) => d.deviceId === deviceId).map((d) => d.stats),
    waitFor: (predicate, timeoutMs) =>
      new Promise((resolve, reject) => {
        const started = Date.now();
        const tick = () => {
          const s = stats();
          if (predicate(s)) return resolve(s);
          if (Date.now() - started > timeoutMs) {
            return reject(new Error(`simulator condition not met within ${timeoutMs} ms: ${JSON.stringify(s)}`));
          }
          setTimeout(tick, 20);
        };
        tick();
      }),
    summary: () => ({
      ...stats(),
      perDevice: devices.map((d, i) => {
        const info = infos[i]!;
        const row: SimulatorSummary['perDevice'][number] = { deviceId: d.deviceId, family: info.family };
        if (info.fault !== undefined) row.fault = info.fault;
        if (d.stats.lastResult !== undefined) {
          row.lastStatus = d.stats.lastResult.status;
          row.reasons = d.stats.lastResult.reasons;
        }
        return row;
      }),
    }),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await Promise.all(devices.map((d) => d.stop()));
      if (ownDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
