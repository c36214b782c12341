/**
 * Shared pieces of the gateway benchmarks (test/bench): a persistent simulator PKI and reference values, a gateway
 * run as a child process (so its CPU and memory are its own), a minimal device client that attests the way the
 * simulator does, a Mosquitto reference broker, and small statistics helpers.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BOARD_FAMILIES, decodeChallenge, decodeResult, encodeStatus, topics } from '@palisade/firmware-protocol';
import {
  createDeviceState,
  type DeviceState,
  evidenceFor,
  hasDeviceState,
  implementationIdOf,
  initPki,
  loadDeviceState,
  loadPki,
  PKI_FILES,
  pkiDir,
  ROLLBACK_FIRMWARE_VERSION,
  referenceMeasurements,
} from '@palisade/firmware-protocol/simulator';
import type { GatewayConfigInput } from '@palisade/gateway';
import { ConflictError, toHex } from '@palisade/shared';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export const median = (xs: readonly number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One JSON line per measurement on stdout: what `run-all` collects and BENCHMARKS.md quotes. */
export function emit(line: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ...line, node: process.version })}\n`);
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Polls `f` every 20 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, f: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** A free TCP port on loopback (for Mosquitto, which cannot report the port it picked). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** The simulator's known-good builds (current and one older release) as a `refvals` document. */
function simReferenceValues(): string {
  return JSON.stringify({
    version: 1,
    entries: BOARD_FAMILIES.flatMap((family) =>
      ['1.0.0', ROLLBACK_FIRMWARE_VERSION].map((version) => ({
        boardFamily: family,
        firmwareVersion: version,
        ...(family === 'stm32' ? { implementationId: toHex(implementationIdOf(family)) } : {}),
        components: referenceMeasurements(family, version).map((m) => ({
          name: m.component,
          alg: m.alg,
          digest: toHex(m.digest),
          ...(m.signerId === undefined ? {} : { signerId: toHex(m.signerId) }),
          ...(m.version === undefined ? {} : { version: m.version }),
        })),
      })),
    ),
  });
}

export interface BenchSim {
  /** Simulator state directory (PKI and devices), kept between runs: provisioning 10,000 devices takes a while. */
  stateDir: string;
  refvalsFile: string;
}

/** The benchmarks' simulator state in the temp dir, created on first use and reused afterwards. */
export async function benchSim(): Promise<BenchSim> {
  const stateDir = join(tmpdir(), 'palisade-bench-sim');
  mkdirSync(stateDir, { recursive: true });
  if (!existsSync(join(pkiDir(stateDir), PKI_FILES.root))) await initPki(stateDir);
  const refvalsFile = join(stateDir, 'refvals.json');
  writeFileSync(refvalsFile, simReferenceValues());
  return { stateDir, refvalsFile };
}

/** The simulator's device id of slot `i` (families round-robin, as `startSimulator` names healthy devices). */
export function simDeviceId(i: number): string {
  return `sim-${BOARD_FAMILIES[i % BOARD_FAMILIES.length]}-${String(i + 1).padStart(4, '0')}`;
}

/** Provisions the first `n` simulator slots that do not exist yet (each a factory-fresh board), loading none. */
export async function provisionDevices(sim: BenchSim, n: number): Promise<void> {
  await forEachDevice(sim, n, () => undefined);
}

/** Device states of simulator slots `from` (default 0) to `n` − 1, provisioned on first use. */
export async function benchDevices(sim: BenchSim, n: number, from = 0): Promise<DeviceState[]> {
  const out: DeviceState[] = [];
  await forEachDevice(sim, n, (deviceId) => out.push(loadDeviceState(sim.stateDir, deviceId)), from);
  return out;
}

async function forEachDevice(sim: BenchSim, n: number, f: (deviceId: string) => void, from = 0): Promise<void> {
  const pki = loadPki(sim.stateDir);
  for (let i = from; i < n; i++) {
    const deviceId = simDeviceId(i);
    if (!hasDeviceState(sim.stateDir, deviceId)) {
      await createDeviceState({
        stateDir: sim.stateDir,
        pki,
        deviceId,
        family: BOARD_FAMILIES[i % BOARD_FAMILIES.length] ?? 'nrf52',
      }).catch((e: unknown) => {
        // Another benchmark run provisioning the same shared directory got there first: use its device.
        if (!(e instanceof ConflictError)) throw e;
      });
    }
    f(deviceId);
    // Loading is synchronous and slow (certificate parsing): let IPC and signals through now and then.
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
  }
}

/**
 * Gateway configuration for a benchmark: trust in the simulator PKI, the given devices allow-listed, ephemeral
 * ports, and the abuse limits lifted so that they do not cap the rate being measured (the limits are a defence
 * against a single misbehaving device, not a throughput budget; every device here is honest).
 */
export function benchGatewayConfig(
  sim: BenchSim,
  dataDir: string,
  allowList: string[],
  extra: GatewayConfigInput = {},
): GatewayConfigInput {
  const pki = pkiDir(sim.stateDir);
  return {
    dataDir,
    gatewayId: 'gw-bench',
    log: { level: 'silent' },
    mqtt: { enabled: false },
    mqtts: { enabled: true, host: '127.0.0.1', port: 0 },
    ws: { enabled: false },
    http: { enabled: false },
    auth: {
      manufacturerRoots: [join(pki, PKI_FILES.root)],
      intermediateFiles: [join(pki, PKI_FILES.intermediate)],
      crlFiles: [join(pki, PKI_FILES.crl)],
      allowCredentials: false,
    },
    enrollment: { allowList },
    attestation: { referenceValuesFile: sim.refvalsFile },
    limits: { connectionsPerAddressPerMinute: 10_000_000, messagesPerSecondPerDevice: 1_000_000 },
    detection: { rateFactor: 1_000_000 },
    ...extra,
  };
}

/** Requests to the gateway child (test/bench/gateway-child.ts) and their answers. */
export interface GatewayChildStats {
  memory: NodeJS.MemoryUsage;
  cpuUs: number;
  connected: number;
  affirmed: number;
  quarantined: number;
  results: number;
  telemetryRows: number;
}

export interface GatewayChild {
  ports: { mqtt?: number; mqtts?: number };
  caCertPem: string;
  pid: number;
  request(deviceIds: readonly string[]): void;
  setCredentials(deviceIds: readonly string[], secret: string): Promise<void>;
  stats(opts?: { gc?: boolean }): Promise<GatewayChildStats>;
  stop(): Promise<void>;
}

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'bench');

/** Starts a gateway in a child process (`--expose-gc` so that memory can be read after a full collection). */
export async function startGatewayChild(
  config: GatewayConfigInput,
  opts: { cpuProfileDir?: string } = {},
): Promise<GatewayChild> {
  const profile = opts.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`];
  const child = fork(join(benchDir, 'gateway-child.js'), [], {
    execArgv: ['--expose-gc', ...profile],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  child.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.ok) w?.resolve(m.value);
    else w?.reject(new Error(m.error));
  });
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`gateway child exited with ${code}`));
    waiting.clear();
  });
  const call = <T>(op: string, args: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, op, ...args });
    });
  const started = await call<{ ports: GatewayChild['ports']; caCertPem: string }>('start', { config });
  return {
    ...started,
    pid: child.pid ?? 0,
    // Fire and forget: the answer is the device's result on MQTT.
    request: (deviceIds) => {
      child.send({ id: -1, op: 'request', deviceIds });
    },
    setCredentials: (deviceIds, secret) => call('credentials', { deviceIds, secret }),
    stats: (opts = {}) => call('stats', { gc: opts.gc === true }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      await call('stop').catch(() => undefined);
      await exited;
    },
  };
}

export interface DeviceClientOptions {
  broker: string;
  ca?: string;
  /** Per-device credentials (username = device id) on a plain listener. */
  password?: string;
  /** Answer challenges with the device's evidence, as the simulator does (PROTOCOL.md §7). */
  attest: boolean;
  onResult?: (deviceId: string, status: string) => void;
}

/**
 * A device on the wire for load generation: an mqtt.js client with the device's identity that announces itself,
 * answers every challenge with fresh evidence (`evidenceFor`, the simulator's evidence) and records the result.
 * Telemetry is published by the caller on `client`.
 */
export class DeviceClient {
  readonly client: MqttClient;
  lastStatus: string | undefined;
  constructor(
    readonly state: DeviceState,
    opts: DeviceClientOptions,
  ) {
    const id = state.deviceId;
    const options: IClientOptions = {
      clientId: id,
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      reconnectPeriod: 0,
      connectTimeout: 30_000,
    };
    if (opts.password !== undefined) {
      options.username = id;
      options.password = opts.password;
    }
    if (/^(mqtts|wss):/.test(opts.broker)) {
      options.key = state.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      options.cert = state.chainPem;
      if (opts.ca !== undefined) options.ca = opts.ca;
      options.rejectUnauthorized = true;
    }
    this.client = mqtt.connect(opts.broker, options);
    if (!opts.attest) return;
    this.client.on('connect', () => {
      this.client.subscribe([topics.challenge(id), topics.result(id), topics.command(id)], { qos: 1 }, (err) => {
        if (err) return;
        const status = encodeStatus({
          state: 'online',
          firmwareVersion: state.firmwareVersion,
          boardFamily: state.family,
          bootCount: state.bootCount,
        });
        this.client.publish(topics.status(id), Buffer.from(status), { qos: 1, retain: true });
      });
    });
    this.client.on('message', (topic, payload) => {
      if (topic === topics.challenge(id)) {
        const ev = evidenceFor(state, decodeChallenge(new Uint8Array(payload)).nonce);
        this.client.publish(topics.evidence(id), Buffer.from(ev.payload), { qos: 1 });
      } else if (topic === topics.result(id)) {
        const r = decodeResult(new Uint8Array(payload));
        this.lastStatus = r.status;
        opts.onResult?.(id, r.status);
      }
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  close(): Promise<void> {
    return this.client.endAsync(true).catch(() => undefined);
  }
}

/** Connects devices in waves of `wave` so that the TLS handshakes of a large fleet do not all time out at once. */
export async function connectDevices(
  states: readonly DeviceState[],
  opts: DeviceClientOptions,
  wave = 100,
): Promise<DeviceClient[]> {
  const out: DeviceClient[] = [];
  for (let i = 0; i < states.length; i += wave) {
    const group = states.slice(i, i + wave).map((s) => new DeviceClient(s, opts));
    out.push(...group);
    await waitUntil('devices to connect', () => group.every((d) => d.connected), 60_000);
  }
  return out;
}

export interface Mosquitto {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** A plain Mosquitto broker on a loopback port: the reference broker of the ingest benchmark. */
export async function startMosquitto(): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-bench-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 100000\n`,
  );
  const proc: ChildProcess = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Not a Node child with an IPC channel: if the benchmark dies, nothing else would stop it.
  const killOnExit = () => proc.kill('SIGTERM');
  process.once('exit', killOnExit);
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await waitUntil(
    'mosquitto to listen',
    async () => {
      if (proc.exitCode !== null) throw new Error(`mosquitto exited: ${stderr}`);
      const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 1_000 });
      const ok = await new Promise<boolean>((r) => {
        c.once('connect', () => r(true));
        c.once('error', () => r(false));
        c.once('close', () => r(false));
      });
      await c.endAsync(true).catch(() => undefined);
      return ok;
    },
    10_000,
  );
  return {
    port,
    pid: proc.pid ?? 0,
    stop: async () => {
      process.off('exit', killOnExit);
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** CPU time (µs, user + system) a process has used, from /proc (Linux); NaN elsewhere. */
export function processCpuUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}
