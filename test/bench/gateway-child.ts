/**
 * A gateway in its own process for the benchmarks (not a benchmark itself: run-all runs `*.bench.js` only). The
 * parent drives it over the IPC channel (see `startGatewayChild` in test/src/bench-util.ts), so the gateway's CPU
 * and memory are measured apart from the load generator's.
 */
import { type GatewayConfigInput, type GatewayHandle, loadConfig, startGateway } from '@palisade/gateway';
import { describeError, silentLogger } from '@palisade/shared';

interface Request {
  id: number;
  op: 'start' | 'request' | 'credentials' | 'stats' | 'stop';
  config?: GatewayConfigInput;
  deviceIds?: string[];
  secret?: string;
  gc?: boolean;
}

let gw: GatewayHandle | undefined;

function need(): GatewayHandle {
  if (gw === undefined) throw new Error('gateway not started');
  return gw;
}

async function handle(m: Request): Promise<unknown> {
  switch (m.op) {
    case 'start': {
      // The parent picks every option; nothing from this process's environment leaks in.
      gw = await startGateway(loadConfig({ overrides: (m.config ?? {}) as Record<string, unknown> }), {
        logger: silentLogger,
      });
      return { ports: gw.ports, caCertPem: gw.identity.caCertPem };
    }
    case 'request':
      for (const id of m.deviceIds ?? []) need().requestAttestation(id);
      return undefined;
    case 'credentials':
      for (const id of m.deviceIds ?? []) await need().credentials.set(id, m.secret ?? '', 'operator:bench');
      return undefined;
    case 'stats': {
      const g = need();
      if (m.gc === true && typeof globalThis.gc === 'function') {
        // Two passes: the first may only schedule finalisers.
        globalThis.gc();
        await new Promise((r) => setImmediate(r));
        globalThis.gc();
      }
      const count = (sql: string) => (g.store.sqlite.prepare(sql).get() as { n: number }).n;
      let connected = -1;
      if (g.ports.http !== undefined) {
        // The health endpoint is the only place that counts live connections; -1 when it does not answer.
        const health = (await fetch(`http://127.0.0.1:${g.ports.http}/health`)
          .then((r) => r.json())
          .catch(() => ({}))) as { counts?: { connected?: number } };
        connected = health.counts?.connected ?? -1;
      }
      const cpu = process.cpuUsage();
      return {
        memory: process.memoryUsage(),
        cpuUs: cpu.user + cpu.system,
        connected,
        affirmed: count(`SELECT COUNT(*) AS n FROM devices WHERE last_status = 'affirming' AND quarantined = 0`),
        quarantined: count('SELECT COUNT(*) AS n FROM devices WHERE quarantined = 1'),
        results: count('SELECT COUNT(*) AS n FROM attestation_results'),
        telemetryRows: count('SELECT COUNT(*) AS n FROM telemetry_raw'),
      };
    }
    case 'stop':
      await gw?.stop();
      return undefined;
  }
}

process.on('message', (m: Request) => {
  handle(m).then(
    (value) => {
      if (m.id >= 0) process.send?.({ id: m.id, ok: true, value });
      if (m.op === 'stop') process.disconnect();
    },
    (e: unknown) => {
      if (m.id >= 0) process.send?.({ id: m.id, ok: false, error: JSON.stringify(describeError(e)) });
    },
  );
});
// The parent going away ends the benchmark: stop rather than linger as an orphan.
process.on('disconnect', () => {
  void (gw?.stop() ?? Promise.resolve()).then(() => process.exit(0));
});
