/**
 * Telemetry ingest, messages per second at QoS 0 and QoS 1: publish → authorised (device identity, own topic, not
 * quarantined) → decoded → stored in SQLite, counted as stored rows (3 values per message). Reference: a plain
 * Mosquitto broker (anonymous, no persistence) driven by the same load generator — the same mqtt.js clients
 * (client id = device id) publishing the same CBOR telemetry messages on the same topics — counted at a subscriber in
 * its own process, subscribed at QoS 0 so that in both cases the leg under test is publisher → broker at the given
 * QoS (the gateway's next hop is its database, which sends no acknowledgements either). The gateway runs in its own process too; devices are authenticated and attested (affirmed) before
 * the timed phase. Rounds alternate gateway and Mosquitto; the ratio is the median of per-round ratios (target ≥ 1.0).
 *
 * Transport: `mqtt` (default; plain TCP for both brokers, the gateway with per-device credentials, so both carry the
 * same bytes) or `mqtts` (the gateway with TLS client certificates, Mosquitto still plain TCP).
 * Usage: `npx tsc -b && node test/dist/bench/telemetry-ingest.bench.js [--devices 60] [--seconds 40]
 * [--rounds 4] [--window 64] [--transport mqtt|mqtts] [--cpu-prof DIR]`
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeTelemetry, TOPIC_ROOT, topics } from '@palisade/firmware-protocol';
import {
  benchDevices,
  benchGatewayConfig,
  benchSim,
  connectDevices,
  type DeviceClient,
  emit,
  median,
  processCpuUs,
  round,
  sleep,
  startGatewayChild,
  startMosquitto,
  waitUntil,
} from '../src/bench-util.js';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '60' },
    seconds: { type: 'string', default: '40' },
    rounds: { type: 'string', default: '4' },
    window: { type: 'string', default: '64' },
    transport: { type: 'string', default: 'mqtt' },
    /** Writes a V8 CPU profile of the gateway process into this directory. */
    'cpu-prof': { type: 'string' },
  },
});
const N = Number(values.devices);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const WINDOW = Number(values.window);
const TRANSPORT = values.transport === 'mqtts' ? 'mqtts' : 'mqtt';
/** Values per telemetry message: the gateway stores one row per value. */
const VALUES = 3;
const SECRET = 'bench-device-secret-0123456789';

const sim = await benchSim();
// With per-device credentials a device has no TLS certificate, and a PSA token (stm32) names no key of its own
// [FP-5.3-1]: such a device cannot be attested, so the plain-TCP run uses the EAT families only.
const states = (await benchDevices(sim, TRANSPORT === 'mqtt' ? Math.ceil((N * 3) / 2) + 3 : N))
  .filter((s) => TRANSPORT === 'mqtts' || s.family !== 'stm32')
  .slice(0, N);
const ids = states.map((s) => s.deviceId);
const dataDir = mkdtempSync(join(tmpdir(), 'palisade-bench-ingest-'));
// Removed however the run ends (a failed run must not leave a gateway database behind).
process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
const gw = await startGatewayChild(
  benchGatewayConfig(sim, dataDir, ids, {
    mqtt: { enabled: TRANSPORT === 'mqtt', host: '127.0.0.1', port: 0 },
    mqtts: { enabled: TRANSPORT === 'mqtts', host: '127.0.0.1', port: 0 },
    auth: {
      manufacturerRoots: [join(sim.stateDir, 'pki', 'root.pem')],
      intermediateFiles: [join(sim.stateDir, 'pki', 'intermediate.pem')],
      crlFiles: [join(sim.stateDir, 'pki', 'intermediate.crl.pem')],
      allowCredentials: TRANSPORT === 'mqtt',
    },
  }),
  values['cpu-prof'] === undefined ? {} : { cpuProfileDir: values['cpu-prof'] },
);
if (TRANSPORT === 'mqtt') await gw.setCredentials(ids, SECRET);
const gwClients = await connectDevices(
  states,
  TRANSPORT === 'mqtt'
    ? { broker: `mqtt://127.0.0.1:${gw.ports.mqtt}`, password: SECRET, attest: true }
    : { broker: `mqtts://127.0.0.1:${gw.ports.mqtts}`, ca: gw.caCertPem, attest: true },
);
await waitUntil('every device affirmed', () => gwClients.every((d) => d.lastStatus === 'affirming'), 120_000);

const mosquitto = await startMosquitto();
const subscriber: ChildProcess = fork(
  join(dirname(fileURLToPath(import.meta.url)), 'subscriber-child.js'),
  [`mqtt://127.0.0.1:${mosquitto.port}`, `${TOPIC_ROOT}/d/+/telemetry`, '0'],
  { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
);
await new Promise<void>((resolve, reject) =>
  subscriber.once('message', (m: { ready: boolean }) => (m.ready ? resolve() : reject(new Error('subscribe failed')))),
);
const received = (): Promise<number> =>
  new Promise((resolve) => {
    subscriber.once('message', (m: { received: number }) => resolve(m.received));
    subscriber.send({});
  });
const mqClients = await connectDevices(states, { broker: `mqtt://127.0.0.1:${mosquitto.port}`, attest: false });

/** The load generator: every client keeps `WINDOW` publishes outstanding (written for QoS 0, acknowledged for 1). */
async function drive(clients: DeviceClient[], qos: 0 | 1, ms: number): Promise<number> {
  let sent = 0;
  let stop = false;
  const done = clients.map(
    (d) =>
      new Promise<void>((resolve) => {
        const topic = topics.telemetry(d.state.deviceId);
        let seq = 0;
        let open = 0;
        const pump = () => {
          while (!stop && open < WINDOW) {
            const t = Date.now();
            const payload = encodeTelemetry({
              seq: seq++,
              ts: t,
              values: { temperature: 21 + (seq % 300) / 100, humidity: 45 + (seq % 500) / 100, vcc: 3.3 },
            });
            open++;
            d.client.publish(topic, Buffer.from(payload), { qos }, () => {
              open--;
              sent++;
              if (stop && open === 0) resolve();
              else if (!stop) pump();
            });
          }
        };
        pump();
        setTimeout(() => {
          stop = true;
          if (open === 0) resolve();
        }, ms);
      }),
  );
  await Promise.all(done);
  return sent;
}

interface Slice {
  rate: number;
  brokerCpuUsPerMsg: number;
  loadCpuUsPerMsg: number;
}

async function measure(kind: 'gateway' | 'mosquitto', qos: 0 | 1, ms: number): Promise<Slice> {
  const count = async () => (kind === 'gateway' ? (await gw.stats()).telemetryRows / VALUES : await received());
  const pid = kind === 'gateway' ? gw.pid : mosquitto.pid;
  const before = await count();
  const cpu = processCpuUs(pid);
  const own = process.cpuUsage();
  const start = performance.now();
  await drive(kind === 'gateway' ? gwClients : mqClients, qos, ms);
  // What is still on the wire or in the gateway's write buffer (≤ one flush) is not counted, for either broker.
  const n = (await count()) - before;
  const elapsed = performance.now() - start;
  const used = process.cpuUsage(own);
  const brokerCpu = processCpuUs(pid) - cpu;
  await sleep(500);
  return {
    rate: (n * 1000) / elapsed,
    brokerCpuUsPerMsg: brokerCpu / n,
    loadCpuUsPerMsg: (used.user + used.system) / n,
  };
}

await measure('gateway', 0, 500);
await measure('mosquitto', 0, 500);
for (const qos of [0, 1] as const) {
  const g: Slice[] = [];
  const m: Slice[] = [];
  const ratios: number[] = [];
  const slice = (SECONDS * 1000) / 2 / ROUNDS / 2;
  for (let r = 0; r < ROUNDS; r++) {
    const a = await measure('gateway', qos, slice);
    const b = await measure('mosquitto', qos, slice);
    g.push(a);
    m.push(b);
    ratios.push(a.rate / b.rate);
  }
  const stats = await gw.stats();
  emit({
    bench: 'telemetry-ingest',
    qos,
    transport_gateway: TRANSPORT,
    transport_mosquitto: 'mqtt',
    devices: N,
    window_per_device: WINDOW,
    gateway_msgs_per_s: Math.round(median(g.map((x) => x.rate))),
    mosquitto_msgs_per_s: Math.round(median(m.map((x) => x.rate))),
    ratio: round(median(ratios), 3),
    target_ratio: 1.0,
    gateway_cpu_us_per_msg: round(median(g.map((x) => x.brokerCpuUsPerMsg)), 2),
    mosquitto_cpu_us_per_msg: round(median(m.map((x) => x.brokerCpuUsPerMsg)), 2),
    load_generator_cpu_us_per_msg_gateway: round(median(g.map((x) => x.loadCpuUsPerMsg)), 2),
    load_generator_cpu_us_per_msg_mosquitto: round(median(m.map((x) => x.loadCpuUsPerMsg)), 2),
    devices_quarantined: stats.quarantined,
    gateway_rss_mb: round(stats.memory.rss / 2 ** 20, 1),
    load_average_1m: round(loadavg()[0] ?? 0, 2),
    rounds: ROUNDS,
    seconds: SECONDS / 2,
  });
}

await Promise.all([...gwClients, ...mqClients].map((d) => d.close()));
subscriber.send({ stop: true });
await new Promise((r) => subscriber.once('exit', r));
await gw.stop();
await mosquitto.stop();
