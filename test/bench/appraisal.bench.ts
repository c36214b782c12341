/**
 * Attestation appraisal throughput of the gateway's engine: `Appraiser.appraise` on Palisade EAT evidence (ES256,
 * x5chain device → intermediate → root, remembered certificate path and cached key objects: the steady state), with
 * real nonce consumption, device boot state, reference values and a signed EAR per appraisal, beside raw
 * `node:crypto` verify of one evidence signature (same key type, same bytes) in the same run. Rounds alternate so
 * machine noise hits both alike; ratios are medians of per-round ratios.
 *
 * - `appraisals_per_s` / `ratio`: 16 devices answering at once (how a gateway runs: many challenges outstanding);
 *   the engine verifies and signs on libuv's thread pool, so it can use the second core.
 * - `sequential_*`: one device at a time, each appraisal awaited before the next.
 * - `cpu_*`: CPU time of the whole process per operation (all threads), a view that machine load disturbs less;
 *   `main_thread_*` / `other_threads_*` split an appraisal's CPU between the event loop and the thread pool (Linux).
 * The end-to-end MQTT version of this benchmark is separate.
 * Usage: `npx tsc -b && node test/dist/bench/appraisal.bench.js [--seconds N]` (default 20 s).
 */
import { createHash, type KeyObject, verify } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  createDeviceIdentity,
  createIntermediateCa,
  createPalisadeEvidence,
  createRootCa,
  decodeSign1,
  generateKeyPair,
  type Measurement,
  sign1ToBeSigned,
  signerFromPrivateKey,
} from '@palisade/firmware-protocol';
import { Appraiser, MemoryDeviceStateStore, MemoryNonceStore, psaInstanceId, ReferenceValues } from '@palisade/gateway';
import { toHex } from '@palisade/shared';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' } } });
const seconds = Number(values.seconds);
/** Devices answering at once: the challenge manager keeps many challenges outstanding, so appraisals overlap. */
const CONCURRENCY = 16;

const sha = (s: string): Uint8Array => new Uint8Array(createHash('sha256').update(s).digest());
const measurements: Measurement[] = [
  { component: 'bootloader', digest: sha('bootloader'), alg: 'sha-256', version: '2.1.0' },
  { component: 'app', digest: sha('app'), alg: 'sha-256', version: '1.4.2' },
];

const root = await createRootCa();
const intermediate = await createIntermediateCa(root);
const bootSeed = sha('boot').subarray(0, 16);

interface BenchDevice {
  deviceId: string;
  chain: Uint8Array[];
  signer: ReturnType<typeof signerFromPrivateKey>;
  ueid: Uint8Array;
  publicKey: KeyObject;
}
const devices: BenchDevice[] = [];
for (let i = 0; i < CONCURRENCY; i++) {
  const deviceId = `nrf52-bench-${i}`;
  const identity = await createDeviceIdentity(intermediate, { deviceId });
  devices.push({
    deviceId,
    chain: [identity.certificate.der, intermediate.certificate.der],
    signer: signerFromPrivateKey(identity.privateKey),
    ueid: psaInstanceId(identity.publicKey),
    publicKey: identity.publicKey,
  });
}

let clockNow = Date.now();
const clock = { now: () => clockNow };
const nonces = new MemoryNonceStore();
const gw = generateKeyPair('p256');
const appraiser = new Appraiser({
  gatewayId: 'gw-bench',
  resultKey: { privateKey: gw.privateKey, kid: 'gw-bench-1' },
  clock,
  trust: { roots: [root.certificate.pem] },
  referenceValues: ReferenceValues.parse({
    version: 1,
    entries: [
      {
        boardFamily: 'nrf52',
        firmwareVersion: '1.4.2',
        components: measurements.map((m) => ({ name: m.component, alg: m.alg, digest: toHex(m.digest) })),
      },
    ],
  }),
  nonces,
  devices: new MemoryDeviceStateStore(),
  // Results are counted, not kept: storage is the end-to-end benchmark's subject, and an ever-growing in-memory list
  // would bill its garbage collection to the engine.
  results: {
    record: () => {
      recorded++;
    },
  },
});
let recorded = 0;

let seq = 0;
/** Evidence answering fresh challenges: issued nonces, signed tokens (signing is the device's cost, done up front). */
function batch(d: BenchDevice, n: number): { token: Uint8Array; nonce: Uint8Array }[] {
  const out = [];
  for (let i = 0; i < n; i++) {
    const nonce = sha(`bench nonce ${seq++}`);
    nonces.issue(toHex(nonce), d.deviceId, clockNow, clockNow + 300_000);
    const token = createPalisadeEvidence(
      {
        nonce,
        ueid: d.ueid,
        deviceId: d.deviceId,
        boardFamily: 'nrf52',
        firmwareVersion: '1.4.2',
        measurements,
        bootCount: 7,
        bootSeed,
      },
      d.signer,
      { x5chain: d.chain },
    );
    out.push({ token, nonce });
  }
  return out;
}

/** Appraisals per second with `parallel` devices answering at once (each device's appraisals run in order). */
async function appraisalRate(ms: number, parallel: number): Promise<number> {
  let n = 0;
  let elapsed = 0;
  let cpu = 0;
  let threadMain = 0;
  let threadOther = 0;
  let threadOps = 0;
  while (elapsed < ms) {
    nonces.purge(clockNow - 1);
    const work = devices.slice(0, parallel).map((d) => ({ d, items: batch(d, Math.ceil(200 / parallel)) }));
    clockNow = Date.now();
    const cpuStart = process.cpuUsage();
    const threadsStart = threadCpu();
    const start = performance.now();
    await Promise.all(
      work.map(async ({ d, items }) => {
        for (const { token, nonce } of items) {
          const r = await appraiser.appraise(token, {
            deviceId: d.deviceId,
            messageNonce: nonce,
            format: 'palisade-eat',
          });
          if (r.status !== 'affirming') throw new Error(`appraisal failed: ${r.reasons.join(', ')}`);
        }
      }),
    );
    elapsed += performance.now() - start;
    const used = process.cpuUsage(cpuStart);
    cpu += used.user + used.system;
    const done = work.reduce((a, w) => a + w.items.length, 0);
    n += done;
    const threadsEnd = threadCpu();
    if (parallel > 1 && threadsStart !== undefined && threadsEnd !== undefined) {
      const main = String(process.pid);
      let other = 0;
      for (const [tid, t] of threadsEnd) if (tid !== main) other += t - (threadsStart.get(tid) ?? 0);
      threadMain += (threadsEnd.get(main) ?? 0) - (threadsStart.get(main) ?? 0);
      threadOther += other;
      threadOps += done;
    }
  }
  if (threadOps > 0) {
    mainCpu.push(threadMain / threadOps);
    poolCpu.push(threadOther / threadOps);
  }
  if (parallel > 1) cpuPerAppraisal.push(cpu / n);
  return (n * 1000) / elapsed;
}

/** CPU time (µs, all threads of the process) per operation: a view of the cost that machine load disturbs less. */
const cpuPerAppraisal: number[] = [];
const cpuPerVerify: number[] = [];
/** Main-thread and other-thread (thread pool) CPU per appraisal, from /proc (Linux; empty elsewhere). */
const mainCpu: number[] = [];
const poolCpu: number[] = [];

/** CPU time (µs) per thread of this process, from /proc/self/task/<tid>/stat (utime + stime, in clock ticks). */
function threadCpu(): Map<string, number> | undefined {
  try {
    const out = new Map<string, number>();
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, (Number(fields[11]) + Number(fields[12])) * (1_000_000 / CLOCK_TICKS_PER_S));
    }
    return out;
  } catch {
    return undefined;
  }
}
const CLOCK_TICKS_PER_S = 100;

const first = devices[0] as BenchDevice;
const sample = decodeSign1(batch(first, 1)[0]?.token ?? new Uint8Array());
const tbs = sign1ToBeSigned(sample.protectedBytes, sample.payload);
function rawRate(ms: number): number {
  let n = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 20; i++) {
      if (!verify('sha256', tbs, { key: first.publicKey, dsaEncoding: 'ieee-p1363' }, sample.signature)) {
        throw new Error('raw verify failed');
      }
    }
    n += 20;
    now = performance.now();
  }
  const used = process.cpuUsage(cpuStart);
  cpuPerVerify.push((used.user + used.system) / n);
  return (n * 1000) / (now - start);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

rawRate(300);
// warm-up: the first appraisal of each device validates its certificate path, later ones reuse it
await appraisalRate(500, CONCURRENCY);
const rounds = 10;
const ratios: number[] = [];
const raws: number[] = [];
const parallelRates: number[] = [];
const sequentialRates: number[] = [];
for (let r = 0; r < rounds; r++) {
  const slice = (seconds * 1000) / rounds / 3;
  const a = rawRate(slice);
  const b = await appraisalRate(slice, CONCURRENCY);
  const c = await appraisalRate(slice, 1);
  raws.push(a);
  parallelRates.push(b);
  sequentialRates.push(c);
  ratios.push(b / a);
}
console.log(
  JSON.stringify({
    bench: 'appraisal',
    alg: 'ES256',
    devices_in_parallel: CONCURRENCY,
    appraisals_per_s: Math.round(median(parallelRates)),
    raw_verify_per_s: Math.round(median(raws)),
    ratio: Number(median(ratios).toFixed(3)),
    sequential_appraisals_per_s: Math.round(median(sequentialRates)),
    sequential_ratio: Number((median(sequentialRates) / median(raws)).toFixed(3)),
    cpu_us_per_appraisal: Number(median(cpuPerAppraisal).toFixed(1)),
    cpu_us_per_raw_verify: Number(median(cpuPerVerify).toFixed(1)),
    cpu_ratio: Number((median(cpuPerVerify) / median(cpuPerAppraisal)).toFixed(3)),
    main_thread_cpu_us_per_appraisal: mainCpu.length > 0 ? Number(median(mainCpu).toFixed(1)) : null,
    other_threads_cpu_us_per_appraisal: poolCpu.length > 0 ? Number(median(poolCpu).toFixed(1)) : null,
    load_average_1m: Number(loadavg()[0]?.toFixed(2)),
    results_recorded: recorded,
    rounds,
    seconds,
    node: process.version,
  }),
);
