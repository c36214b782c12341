#!/usr/bin/env node
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isPalisadeError, ValidationError } from '@palisade/shared';
import { BOARD_FAMILIES, type BoardFamily } from '../evidence/claims.js';
import { PKI_KEY_TYPES, type PkiKeyType } from '../pki/index.js';
import { createDeviceState, loadDeviceState } from './device-state.js';
import { referenceValuesDocument } from './firmware.js';
import { inspectEvidence, readTokenBytes } from './inspect.js';
import { initPki, loadPki, PKI_FILES, revokeSerials } from './pki-store.js';
import { type SimulatorStats, startSimulator } from './simulator.js';

/**
 * `palisade-sim`: the board simulator's command line. Exit codes: 0 success, 2 bad usage or input
 * (`validation.*`), 1 anything else. Every error is printed as `error <code>: <message>` on stderr.
 */

const USAGE = `usage:
  palisade-sim pki init --dir DIR
  palisade-sim pki issue --dir DIR --device-id ID --family stm32|nrf52|esp32 [--expired] [--key-type p256|ed25519]
                         [--firmware-version V]
  palisade-sim pki revoke --dir DIR (--device-id ID | --serial HEX)
  palisade-sim run --devices N --broker URL [--state-dir DIR] [--duration SECONDS] [--faults f:n,...]
                   [--families stm32,nrf52,esp32] [--telemetry-rate HZ] [--ca PEM-FILE] [--username U]
                   [--password P] [--key-type p256|ed25519] [--json]
  palisade-sim refvals [--out FILE]   (reference values of the simulated firmware, for refvals import)
  palisade-sim inspect FILE          (an evidence token or evidence message, binary or hex)
faults: tampered-firmware rollback replay wrong-key expired-cert revoked-cert clone wrong-nonce silent malformed flood`;

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Whether stderr is a terminal (progress redraws in place). */
  tty?: boolean;
  /** Resolves when the user asks to stop (SIGINT); runs without --duration wait for it. */
  interrupted?: Promise<void>;
}

function usage(message: string): never {
  throw new ValidationError('validation.usage', message);
}

function need(v: string | undefined, flag: string): string {
  if (v === undefined || v === '') usage(`${flag} is required`);
  return v;
}

function family(v: string | undefined): BoardFamily {
  const f = need(v, '--family');
  if (!(BOARD_FAMILIES as readonly string[]).includes(f)) usage(`--family must be one of ${BOARD_FAMILIES.join(', ')}`);
  return f as BoardFamily;
}

function number(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) usage(`${flag} must be a non-negative number`);
  return n;
}

async function pki(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      dir: { type: 'string' },
      'device-id': { type: 'string' },
      family: { type: 'string' },
      expired: { type: 'boolean' },
      'key-type': { type: 'string' },
      'firmware-version': { type: 'string' },
      serial: { type: 'string' },
    },
    strict: true,
  });
  const dir = need(values.dir, '--dir');
  if (sub === 'init') {
    const store = await initPki(dir);
    io.stdout(
      `${JSON.stringify({
        root: `${store.dir}/${PKI_FILES.root}`,
        intermediate: `${store.dir}/${PKI_FILES.intermediate}`,
        crl: `${store.dir}/${PKI_FILES.crl}`,
        rootSerial: store.root.certificate.serial,
      })}\n`,
    );
    return 0;
  }
  if (sub === 'issue') {
    const keyType = values['key-type'] ?? 'p256';
    if (!(PKI_KEY_TYPES as readonly string[]).includes(keyType)) usage('--key-type must be p256 or ed25519');
    const state = await createDeviceState({
      stateDir: dir,
      pki: loadPki(dir),
      deviceId: need(values['device-id'], '--device-id'),
      family: family(values.family),
      keyType: keyType as PkiKeyType,
      ...(values['firmware-version'] === undefined ? {} : { firmwareVersion: values['firmware-version'] }),
      ...(values.expired === true ? { expired: true } : {}),
    });
    io.stdout(
      `${JSON.stringify({
        deviceId: state.deviceId,
        family: state.family,
        serial: state.certificate.serial,
        notAfter: state.certificate.notAfter.toISOString(),
        dir: state.dir,
      })}\n`,
    );
    return 0;
  }
  if (sub === 'revoke') {
    const store = loadPki(dir);
    const serial =
      values.serial ?? loadDeviceState(dir, need(values['device-id'], '--device-id or --serial')).certificate.serial;
    const crl = await revokeSerials(store, [serial]);
    io.stdout(
      `${JSON.stringify({ revoked: serial, crlNumber: crl.crlNumber, crl: `${store.dir}/${PKI_FILES.crl}` })}\n`,
    );
    return 0;
  }
  return usage('pki needs init, issue or revoke');
}

function progressLine(s: SimulatorStats, elapsedS: number): string {
  return (
    `[palisade-sim ${elapsedS.toFixed(0)}s] connected ${s.connected}/${s.devices} · attested ${s.attested} · ` +
    `failed ${s.failed} · evidence ${s.evidenceSent} · telemetry sent ${s.telemetrySent}`
  );
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      devices: { type: 'string' },
      broker: { type: 'string' },
      'state-dir': { type: 'string' },
      duration: { type: 'string' },
      faults: { type: 'string' },
      families: { type: 'string' },
      'telemetry-rate': { type: 'string' },
      ca: { type: 'string' },
      username: { type: 'string' },
      password: { type: 'string' },
      json: { type: 'boolean' },
      'key-type': { type: 'string' },
    },
    strict: true,
  });
  const keyType = values['key-type'];
  if (keyType !== undefined && !(PKI_KEY_TYPES as readonly string[]).includes(keyType)) {
    usage('--key-type must be p256 or ed25519');
  }
  const devices = number(need(values.devices, '--devices'), '--devices')!;
  const broker = need(values.broker, '--broker');
  if (!/^(mqtt|mqtts|ws|wss):\/\//.test(broker)) usage('--broker must be an mqtt://, mqtts://, ws:// or wss:// URL');
  const families = values.families?.split(',').map((f) => family(f.trim()));
  const duration = number(values.duration, '--duration');
  const rate = number(values['telemetry-rate'], '--telemetry-rate');
  const sim = await startSimulator({
    broker,
    devices,
    ...(families === undefined ? {} : { families }),
    ...(values.faults === undefined ? {} : { faults: values.faults }),
    ...(values['state-dir'] === undefined ? {} : { stateDir: values['state-dir'] }),
    ...(rate === undefined ? {} : { telemetryRateHz: rate }),
    ...(keyType === undefined ? {} : { keyType: keyType as PkiKeyType }),
    ...(values.ca === undefined ? {} : { ca: readFileSync(values.ca, 'utf8') }),
    ...(values.username === undefined ? {} : { username: values.username }),
    ...(values.password === undefined ? {} : { password: values.password }),
  });
  const started = Date.now();
  let lastNewline = 0;
  const timer = setInterval(() => {
    const elapsed = (Date.now() - started) / 1000;
    const line = progressLine(sim.stats(), elapsed);
    if (io.tty === true) io.stderr(`\r${line}`);
    else if (elapsed - lastNewline >= 5) {
      lastNewline = elapsed;
      io.stderr(`${line}\n`);
    }
  }, 1000);
  const waits: Promise<void>[] = [];
  if (duration !== undefined) waits.push(new Promise((r) => setTimeout(r, duration * 1000)));
  if (io.interrupted !== undefined) waits.push(io.interrupted);
  if (waits.length > 0) await Promise.race(waits);
  clearInterval(timer);
  const summary = sim.summary();
  await sim.stop();
  if (io.tty === true) io.stderr('\n');
  if (values.json === true) io.stdout(`${JSON.stringify(summary, null, 2)}\n`);
  else {
    io.stdout(`${progressLine(summary, (Date.now() - started) / 1000)}\n`);
    for (const d of summary.perDevice) {
      io.stdout(
        `  ${d.deviceId.padEnd(40)} ${d.family.padEnd(6)} ${(d.fault ?? '-').padEnd(18)} ${d.lastStatus ?? 'no result'}` +
          `${d.reasons !== undefined && d.reasons.length > 0 ? ` (${d.reasons.join(', ')})` : ''}\n`,
      );
    }
  }
  return 0;
}

function refvals(args: string[], io: CliIo): number {
  const { values } = parseArgs({ args, options: { out: { type: 'string' } }, allowPositionals: false });
  const text = `${JSON.stringify(referenceValuesDocument(), null, 2)}\n`;
  if (values.out === undefined) io.stdout(text);
  else writeFileSync(values.out, text);
  return 0;
}

function inspect(args: string[], io: CliIo): number {
  const file = need(args[0], 'FILE');
  const bytes = readTokenBytes(new Uint8Array(readFileSync(file)));
  io.stdout(`${JSON.stringify(inspectEvidence(bytes), null, 2)}\n`);
  return 0;
}

/** Runs one command line; returns the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === 'pki') return await pki(rest, io);
    if (cmd === 'run') return await run(rest, io);
    if (cmd === 'inspect') return inspect(rest, io);
    if (cmd === 'refvals') return refvals(rest, io);
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      io.stdout(`${USAGE}\n`);
      return cmd === undefined ? 2 : 0;
    }
    return usage(`unknown command "${cmd.slice(0, 40)}"`);
  } catch (e) {
    if (isPalisadeError(e)) {
      io.stderr(`error ${e.code}: ${e.message}\n`);
      if (e.code === 'validation.usage') io.stderr(`${USAGE}\n`);
      return e.code.startsWith('validation.') ? 2 : 1;
    }
    // node:util parseArgs reports unknown or ill-typed options with ERR_PARSE_ARGS_* codes.
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`error validation.usage: ${(e as Error).message}\n${USAGE}\n`);
      return 2;
    }
    io.stderr(`error: ${(e as Error).message ?? String(e)}\n`);
    return 1;
  }
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  const interrupted = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  const code = await runCli(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    tty: process.stderr.isTTY === true,
    interrupted,
  });
  process.exitCode = code;
}
