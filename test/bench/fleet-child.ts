/**
 * A fleet of simulated devices in its own process for the memory benchmark (not a benchmark: run-all runs
 * `*.bench.js` only): connects simulator devices `from`..`to` − 1 over MQTT/TLS in waves, answers every challenge, and
 * reports to the parent over IPC. Usage (forked with IPC): `fleet-child.js <mqtts url> <ca file> <from> <to> <wave>`;
 * any IPC message `{ stop: true }` disconnects the fleet and exits.
 */
import { readFileSync } from 'node:fs';
import { benchDevices, benchSim, connectDevices } from '../src/bench-util.js';

const [broker, caFile, from, to, wave] = process.argv.slice(2);
if (broker === undefined || caFile === undefined) {
  throw new Error('usage: fleet-child.js <url> <ca file> <from> <to> <wave>');
}
// Registered before anything is awaited: a parent that dies mid-connect must not leave the fleet behind.
process.on('disconnect', () => process.exit(0));
const states = await benchDevices(await benchSim(), Number(to), Number(from));
process.send?.({ loaded: states.length });
const started = performance.now();
const devices = await connectDevices(
  states,
  { broker, ca: readFileSync(caFile, 'utf8'), attest: true },
  Number(wave ?? '200'),
);
process.send?.({ connected: devices.length, connectSeconds: (performance.now() - started) / 1000 });

const report = setInterval(() => {
  let affirmed = 0;
  let connected = 0;
  for (const d of devices) {
    if (d.lastStatus === 'affirming') affirmed++;
    if (d.connected) connected++;
  }
  process.send?.({ affirmed, connected, seconds: (performance.now() - started) / 1000 });
}, 500);

process.on('message', (m: { stop?: boolean }) => {
  if (m.stop !== true) return;
  clearInterval(report);
  void Promise.all(devices.map((d) => d.close())).then(() => process.disconnect());
});
