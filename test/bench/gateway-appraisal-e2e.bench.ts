/**
 * Attestation appraisals per second end to end: on-demand challenge → evidence over MQTT (TLS, client certificates)
 * → appraisal → result stored and published back, with N simulated devices (the simulator's device state and
 * evidence) each asking to be challenged again as soon as its result arrives. The gateway runs in a child process
 * (its own event loop and thread pool); the devices and the reference run here. The reference is raw `node:crypto`
 * verify of the same evidence signatures (one per board family, single thread) in the same run; rounds alternate
 * between the two so machine noise hits both alike, and the ratio is the median of per-round ratios (target ≥ 0.5).
 *
 * Usage: `npx tsc -b && node test/dist/bench/gateway-appraisal-e2e.bench.js [--devices 200] [--seconds 30]
 * [--rounds 5] [--max-concurrent N] [--cpu-prof DIR]` (`--max-concurrent` sets `attestation.maxConcurrent`; default
 * the product's, 64)
 */
import { createPublicKey, type KeyObject, randomBytes, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeEvidenceMessage, decodeSign1, sign1ToBeSigned } from '@palisade/firmware-protocol';
import { evidenceFor } from '@palisade/firmware-protocol/simulator';
import {
  benchDevices,
  benchGatewayConfig,
  benchSim,
  connectDevices,
  emit,
  median,
  processCpuUs,
  round,
  sleep,
  startGatewayChild,
  waitUntil,
} from '../src/bench-util.js';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '5' },
    'max-concurrent': { type: 'string' },
    /** Writes a V8 CPU profile of the gateway process into this directory. */
    'cpu-prof': { type: 'string' },
  },
});
const N = Number(values.devices);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const MAX_CONCURRENT = values['max-concurrent'] === undefined ? undefined : Number(values['max-concurrent']);

const sim = await benchSim();
const states = await benchDevices(sim, N);
const dataDir = mkdtempSync(join(tmpdir(), 'palisade-bench-appraisal-'));
// Removed however the run ends (a failed run must not leave a gateway database behind).
process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
const gw = await startGatewayChild(
  benchGatewayConfig(
    sim,
    dataDir,
    states.map((s) => s.deviceId),
    {
      http: { enabled: true, host: '127.0.0.1', port: 0 },
      ...(MAX_CONCURRENT === undefined
        ? {}
        : { attestation: { referenceValuesFile: sim.refvalsFile, maxConcurrent: MAX_CONCURRENT } }),
    },
  ),
  values['cpu-prof'] === undefined ? {} : { cpuProfileDir: values['cpu-prof'] },
);

// Devices re-request a challenge when their result arrives (batched into one IPC message per event-loop turn).
let running = false;
let counted = 0;
const outstanding = new Set<string>();
const batch: string[] = [];
const ask = (id: string) => {
  outstanding.add(id);
  if (batch.length === 0) setImmediate(() => gw.request(batch.splice(0)));
  batch.push(id);
};
const notAffirming: string[] = [];
const devices = await connectDevices(states, {
  broker: `mqtts://127.0.0.1:${gw.ports.mqtts}`,
  ca: gw.caCertPem,
  attest: true,
  onResult: (id, status) => {
    if (status !== 'affirming') notAffirming.push(`${id}:${status}`);
    if (!outstanding.delete(id)) return;
    if (running) {
      counted++;
      ask(id);
    }
  },
});
await waitUntil('every device affirmed on connect', () => devices.every((d) => d.lastStatus === 'affirming'), 120_000);

// The reference: the same evidence signatures (one per family; PSA and Palisade EAT are both COSE_Sign1 ES256).
const samples: { tbs: Uint8Array; signature: Uint8Array; key: KeyObject }[] = states.slice(0, 3).map((s) => {
  const token = decodeEvidenceMessage(evidenceFor(s, new Uint8Array(randomBytes(32))).payload).token;
  const sign1 = decodeSign1(token);
  return {
    tbs: sign1ToBeSigned(sign1.protectedBytes, sign1.payload),
    signature: sign1.signature,
    key: createPublicKey(s.privateKey),
  };
});
function rawRate(ms: number): number {
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (const s of samples) {
      if (!verify('sha256', s.tbs, { key: s.key, dsaEncoding: 'ieee-p1363' }, s.signature)) {
        throw new Error('raw verify failed');
      }
    }
    n += samples.length;
    now = performance.now();
  }
  return (n * 1000) / (now - start);
}

async function e2eRate(ms: number): Promise<{ rate: number; gatewayCpuUs: number; loadCpuUs: number }> {
  counted = 0;
  running = true;
  const gwCpu = processCpuUs(gw.pid);
  const ownCpu = process.cpuUsage();
  const start = performance.now();
  for (const s of states) ask(s.deviceId);
  await sleep(ms);
  const n = counted;
  const elapsed = performance.now() - start;
  const own = process.cpuUsage(ownCpu);
  const gatewayCpuUs = processCpuUs(gw.pid) - gwCpu;
  running = false;
  // Let the last challenges finish so the reference runs on a quiet machine.
  await waitUntil('outstanding appraisals to finish', () => outstanding.size === 0, 60_000);
  return { rate: (n * 1000) / elapsed, gatewayCpuUs: gatewayCpuUs / n, loadCpuUs: (own.user + own.system) / n };
}

const before = await gw.stats();
rawRate(300);
await e2eRate(1_000);
const raws: number[] = [];
const rates: number[] = [];
const ratios: number[] = [];
const gwCpu: number[] = [];
const loadCpu: number[] = [];
const slice = (SECONDS * 1000) / ROUNDS / 2;
for (let r = 0; r < ROUNDS; r++) {
  const e = await e2eRate(slice);
  const raw = rawRate(slice);
  raws.push(raw);
  rates.push(e.rate);
  ratios.push(e.rate / raw);
  gwCpu.push(e.gatewayCpuUs);
  loadCpu.push(e.loadCpuUs);
}
const after = await gw.stats();
const stored = after.results - before.results;

emit({
  bench: 'gateway-appraisal-e2e',
  alg: 'ES256',
  transport: 'mqtts',
  devices: N,
  max_concurrent: MAX_CONCURRENT ?? 64,
  appraisals_per_s: Math.round(median(rates)),
  raw_verify_per_s: Math.round(median(raws)),
  ratio: round(median(ratios), 3),
  target_ratio: 0.5,
  gateway_cpu_us_per_appraisal: round(median(gwCpu), 1),
  load_generator_cpu_us_per_appraisal: round(median(loadCpu), 1),
  results_stored_in_run: stored,
  not_affirming: notAffirming.length,
  gateway_rss_mb: round(after.memory.rss / 2 ** 20, 1),
  load_average_1m: round(loadavg()[0] ?? 0, 2),
  rounds: ROUNDS,
  seconds: SECONDS,
});

await Promise.all(devices.map((d) => d.close()));
await gw.stop();
if (notAffirming.length > 0) {
  process.stderr.write(`gateway-appraisal-e2e: results not affirming: ${notAffirming.slice(0, 5).join(', ')}\n`);
  process.exitCode = 1;
}
