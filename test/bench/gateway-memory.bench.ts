/**
 * Gateway memory per connected device: N simulated devices (default 10,000) connected over MQTT/TLS with client
 * certificates and attested (affirmed), the fleet in one child process and the gateway in another, so that the
 * gateway's `process.memoryUsage()` (read after a full garbage collection) is its own. Reports the baseline (gateway
 * started, no device), the same at N, and (RSS_N − RSS_0) / N and (heapUsed_N − heapUsed_0) / N in bytes per device.
 * The reference in the same run is the baseline itself. The first run provisions the devices (key, certificate,
 * firmware image each) into the temp dir and later runs reuse them.
 *
 * Usage: `npx tsc -b && node test/dist/bench/gateway-memory.bench.js [--devices 10000] [--wave 200] [--fleets 2]
 * [--cpu-prof DIR]`
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  benchGatewayConfig,
  benchSim,
  emit,
  type GatewayChildStats,
  provisionDevices,
  round,
  simDeviceId,
  sleep,
  startGatewayChild,
  waitUntil,
} from '../src/bench-util.js';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    wave: { type: 'string', default: '200' },
    /** Load-generator processes the fleet is split over. */
    fleets: { type: 'string', default: '2' },
    /** Writes a V8 CPU profile of the gateway process into this directory. */
    'cpu-prof': { type: 'string' },
  },
});
const N = Number(values.devices);
const WAVE = Number(values.wave);
const FLEETS = Math.max(1, Number(values.fleets));

const sim = await benchSim();
const provisionStart = performance.now();
await provisionDevices(sim, N);
const provisionSeconds = (performance.now() - provisionStart) / 1000;
const ids = Array.from({ length: N }, (_, i) => simDeviceId(i));
const dataDir = mkdtempSync(join(tmpdir(), 'palisade-bench-memory-'));
// Removed however the run ends (a failed run must not leave a gateway database behind).
process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
const gw = await startGatewayChild(
  benchGatewayConfig(sim, dataDir, ids, { http: { enabled: true, host: '127.0.0.1', port: 0 } }),
  values['cpu-prof'] === undefined ? {} : { cpuProfileDir: values['cpu-prof'] },
);
// Settle: the first stats after start still carry start-up garbage and lazily loaded modules.
await gw.stats({ gc: true });
await sleep(1_000);
const baseline = await gw.stats({ gc: true });

const caFile = join(dataDir, 'bench-ca.pem');
writeFileSync(caFile, gw.caCertPem);
// The fleet is split over several processes: loading a device's state (certificate parsing) and its TLS handshakes
// cost the load generator far more than the gateway, and one process would leave the second core idle.
const fleets = Array.from({ length: FLEETS }, (_, k) => {
  const from = Math.floor((k * N) / FLEETS);
  const to = Math.floor(((k + 1) * N) / FLEETS);
  const child = fork(
    join(dirname(fileURLToPath(import.meta.url)), 'fleet-child.js'),
    [`mqtts://127.0.0.1:${gw.ports.mqtts}`, caFile, String(from), String(to), String(WAVE)],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const state = { loaded: false, affirmed: 0, connected: 0, seconds: 0, connectSeconds: Number.NaN };
  type FleetMessage = {
    loaded?: number;
    affirmed?: number;
    connected?: number;
    seconds?: number;
    connectSeconds?: number;
  };
  child.on('message', (m: FleetMessage) => {
    if (m.loaded !== undefined) state.loaded = true;
    if (m.connectSeconds !== undefined) state.connectSeconds = m.connectSeconds;
    if (m.affirmed !== undefined) {
      state.affirmed = m.affirmed;
      state.connected = m.connected ?? 0;
      state.seconds = m.seconds ?? 0;
    }
  });
  return { child, state, exited: new Promise<number | null>((r) => child.once('exit', r)) };
});
const sum = (f: (s: (typeof fleets)[number]['state']) => number) => fleets.reduce((a, x) => a + f(x.state), 0);
const fleetFailed = () => {
  for (const f of fleets) if (f.child.exitCode !== null) throw new Error(`fleet exited with ${f.child.exitCode}`);
};
// Loading the device states (certificate parsing in the simulator) is the load generator's cost, not timed here.
await waitUntil(
  'the fleet to load its device states',
  () => {
    fleetFailed();
    return fleets.every((f) => f.state.loaded);
  },
  N * 200,
);
let peakRss = baseline.memory.rss;
let nextProgress = Date.now() + 10_000;
let atN: GatewayChildStats | undefined;
await waitUntil(
  `${N} devices connected and affirmed`,
  async () => {
    // Polled twice a second: the counts are SQL queries in the gateway, which should not be kept busy by them.
    await sleep(480);
    fleetFailed();
    const s = await gw.stats();
    peakRss = Math.max(peakRss, s.memory.rss);
    if (Date.now() >= nextProgress) {
      nextProgress = Date.now() + 10_000;
      process.stderr.write(
        `gateway-memory: ${s.connected} connected, ${s.affirmed} affirmed, rss ${Math.round(s.memory.rss / 2 ** 20)} MB\n`,
      );
    }
    if (sum((x) => x.affirmed) < N || s.affirmed < N || s.connected < N) return false;
    atN = s;
    return true;
  },
  Math.max(120_000, N * 90),
);
const attestSeconds = Math.max(...fleets.map((f) => f.state.seconds));
const connectSeconds = Math.max(...fleets.map((f) => f.state.connectSeconds));
// Let the last results and writes settle, then read memory after a full collection.
await sleep(2_000);
const loaded = await gw.stats({ gc: true });
const perDevice = (k: keyof NodeJS.MemoryUsage) => (loaded.memory[k] - baseline.memory[k]) / N;
const mb = (x: number) => round(x / 2 ** 20, 1);

emit({
  bench: 'gateway-memory',
  transport: 'mqtts',
  devices: N,
  connected: atN?.connected,
  affirmed: loaded.affirmed,
  baseline_rss_mb: mb(baseline.memory.rss),
  baseline_heap_used_mb: mb(baseline.memory.heapUsed),
  rss_mb_at_n: mb(loaded.memory.rss),
  heap_used_mb_at_n: mb(loaded.memory.heapUsed),
  peak_rss_mb_during_connect: mb(peakRss),
  rss_bytes_per_device: Math.round(perDevice('rss')),
  heap_used_bytes_per_device: Math.round(perDevice('heapUsed')),
  external_bytes_per_device: Math.round(perDevice('external')),
  gateway_cpu_ms_per_device_connect_and_attest: round((loaded.cpuUs - baseline.cpuUs) / N / 1000, 2),
  load_generator_processes: FLEETS,
  connect_seconds: round(connectSeconds, 1),
  connect_and_attest_seconds: round(attestSeconds, 1),
  provision_seconds: round(provisionSeconds, 1),
  load_average_1m: round(loadavg()[0] ?? 0, 2),
});

for (const f of fleets) f.child.send({ stop: true });
await Promise.all(fleets.map((f) => f.exited));
await gw.stop();
