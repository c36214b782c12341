/**
 * The counting subscriber of the ingest benchmark's Mosquitto reference (not a benchmark: run-all runs `*.bench.js`
 * only). It runs in its own process so that receiving does not take CPU from the load generator, as the gateway's
 * storing does not. Usage (forked with IPC): `subscriber-child.js <mqtt url> <topic filter> <qos>`; answers every
 * IPC message with the number of messages received so far.
 */
import mqtt from 'mqtt';

const [url, filter, qos] = process.argv.slice(2);
if (url === undefined || filter === undefined) throw new Error('usage: subscriber-child.js <url> <filter> <qos>');
let received = 0;
const client = mqtt.connect(url, { clientId: `bench-sub-${process.pid}`, clean: true, reconnectPeriod: 0 });
client.on('message', () => {
  received++;
});
client.on('connect', () => {
  client.subscribe(filter, { qos: qos === '1' ? 1 : 0 }, (err) => process.send?.({ ready: err == null }));
});
process.on('message', (m: { stop?: boolean }) => {
  if (m.stop === true) {
    client.end(true, {}, () => process.disconnect());
    return;
  }
  process.send?.({ received });
});
process.on('disconnect', () => process.exit(0));
