/**
 * Broker ingest rate: QoS 0 publishes from one mqtt.js device over loopback TCP until the gateway's onMessage hook
 * has seen them all, beside a plain aedes (default hooks) driven by the same load in the same run.
 *
 *   npx tsc -b gateway && node gateway/dist/test/broker/ingest.bench.js [messages]
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { createBroker, hashPassword } from '../../src/broker/index.js';

const N = Number(process.argv[2] ?? 50_000);
const PAYLOAD = Buffer.alloc(64, 1);

async function drive(url: string, opts: mqtt.IClientOptions, topic: string, seen: () => number): Promise<number> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...opts });
  const start = performance.now();
  for (let i = 0; i < N; i++) client.publish(topic, PAYLOAD, { qos: 0 });
  while (seen() < N) await new Promise((r) => setImmediate(r));
  const rate = N / ((performance.now() - start) / 1000);
  await client.endAsync();
  return rate;
}

async function ours(): Promise<number> {
  let count = 0;
  const hash = await hashPassword('bench-password');
  const broker = await createBroker({
    listeners: { mqtt: { port: 0 } },
    credentials: (u) => (u === 'dev-bench' ? { deviceId: u, passwordHash: hash } : undefined),
    limits: { messagesPerSecondPerDevice: 10_000_000 },
    hooks: {
      onMessage: () => {
        count++;
      },
      isPublishAllowed: () => true,
    },
  });
  try {
    return await drive(
      `mqtt://127.0.0.1:${broker.ports.mqtt}`,
      { clientId: 'dev-bench', username: 'dev-bench', password: 'bench-password' },
      'palisade/v1/d/dev-bench/telemetry',
      () => count,
    );
  } finally {
    await broker.close();
  }
}

async function plainAedes(): Promise<number> {
  let count = 0;
  const aedes = await Aedes.createBroker();
  aedes.on('publish', (_p, client) => {
    if (client !== null) count++;
  });
  const server = createServer((s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  try {
    return await drive(
      `mqtt://127.0.0.1:${port}`,
      { clientId: 'dev-bench' },
      'palisade/v1/d/dev-bench/telemetry',
      () => count,
    );
  } finally {
    server.close();
    await new Promise<void>((r) => aedes.close(() => r()));
  }
}

// Warm-up, then measure each twice, alternating, and keep the best of each.
await ours();
await plainAedes();
const a = Math.max(await ours(), await ours());
const b = Math.max(await plainAedes(), await plainAedes());
console.log(
  JSON.stringify({
    bench: 'broker-ingest-qos0',
    messages: N,
    palisade_msgs_per_s: Math.round(a),
    plain_aedes_msgs_per_s: Math.round(b),
    ratio: Number((a / b).toFixed(3)),
  }),
);
process.exit(0);
