/**
 * `npm start`: the whole product on embedded defaults — a cloud on PGlite, a gateway on SQLite enrolled to it, and
 * simulated STM32, nRF52 and ESP32 devices, three of them faulty (tampered firmware, boot-counter rollback, wrong
 * signing key). State lives in `.data/` (or `--dir`); a second start reuses it. Ctrl-C stops everything.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger } from '@palisade/shared';
import { startStack } from './stack.js';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    devices: { type: 'string', default: '9' },
    faults: { type: 'string', default: 'tampered-firmware:1,rollback:1,wrong-key:1' },
    'cloud-port': { type: 'string', default: '7700' },
    'panel-port': { type: 'string', default: '7701' },
    'mqtts-port': { type: 'string', default: '7883' },
    'log-level': { type: 'string', default: 'warn' },
  },
});

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const dir = resolve(values.dir ?? join(repoRoot, '.data'));
const level = values['log-level'] as 'warn';
const logger = createLogger({ service: 'demo', level, destination: process.stderr });

const port = (v: string | undefined) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`not a port: ${v}`);
  return n;
};

process.stdout.write(`Palisade demo — state in ${dir}\nstarting cloud, gateway and simulated devices…\n`);
const stack = await startStack({
  dir,
  cloudPort: port(values['cloud-port']),
  panelPort: port(values['panel-port']),
  mqttsPort: port(values['mqtts-port']),
  devices: Number(values.devices),
  faults: values.faults,
  logger,
}).catch((e: unknown) => {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`demo failed to start: ${msg}\n`);
  if (/EADDRINUSE/.test(msg)) process.stderr.write('a port is taken: pass --cloud-port/--panel-port/--mqtts-port 0\n');
  process.exit(1);
});

const c = stack.credentials;
process.stdout.write(
  [
    '',
    `SOC dashboard   ${stack.urls.dashboard}   login ${c.adminEmail} / ${c.adminPassword}`,
    `cloud API docs  ${stack.urls.apiDocs}   Authorization: Bearer ${c.adminApiKey}`,
    `gateway panel   ${stack.urls.panel}   login ${c.operatorName} / ${c.operatorPassword}`,
    `device broker   ${stack.urls.mqtts}   (TLS with device certificates from ${join(dir, 'sim', 'pki')})`,
    // Faulty boards carry their fault as a fourth part of the id (`sim-nrf52-0002-rollback`).
    `devices         ${stack.deviceIds.length} simulated; faulty: ${stack.deviceIds.filter((d) => d.split('-').length > 3).join(', ') || 'none'}`,
    '',
    'Ctrl-C stops everything; the next `npm start` reuses the data.',
    '',
  ].join('\n'),
);

const timer = setInterval(() => {
  const s = stack.sim.stats();
  process.stdout.write(
    `\rdevices connected ${s.connected}/${s.devices} · evidence sent ${s.evidenceSent} · affirmed ${s.attested} · failed ${s.failed}   `,
  );
}, 2_000);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    process.stdout.write('\nstopping…\n');
    stack.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`stop failed: ${String(e)}\n`);
        process.exit(1);
      },
    );
  });
}
