import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** Live values read at scrape time, so the metrics never drift from the queues they describe. */
export interface MetricSources {
  /** Depth of each internal queue (`appraisals`, `telemetry`, `outbox`, `challenges`). */
  queueDepths?: () => Readonly<Record<string, number>>;
}

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly appraisals: Counter<'status'>;
  readonly alerts: Counter<'type'>;
  readonly telemetryRows: Counter;
  readonly droppedMessages: Counter<'reason'>;
}

/**
 * The gateway's Prometheus metrics, in a registry of its own (never prom-client's global one, so several gateways
 * can run in one process, as the end-to-end tests do). The broker registers its own (`palisade_broker_*`:
 * connected devices, connections, authentication failures, denials) in the same registry.
 */
export function createMetrics(sources: MetricSources = {}): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'palisade_gateway_' });
  new Gauge({
    name: 'palisade_gateway_queue_depth',
    help: 'Items waiting in an internal queue',
    labelNames: ['queue'],
    registers: [registry],
    collect() {
      for (const [queue, depth] of Object.entries(sources.queueDepths?.() ?? {})) this.set({ queue }, depth);
    },
  });
  return {
    registry,
    appraisals: new Counter({
      name: 'palisade_gateway_appraisals_total',
      help: 'Attestation appraisals by result status',
      labelNames: ['status'],
      registers: [registry],
    }),
    alerts: new Counter({
      name: 'palisade_gateway_alerts_total',
      help: 'Alerts raised or repeated, by type',
      labelNames: ['type'],
      registers: [registry],
    }),
    telemetryRows: new Counter({
      name: 'palisade_gateway_telemetry_rows_total',
      help: 'Telemetry readings accepted for storage',
      registers: [registry],
    }),
    droppedMessages: new Counter({
      name: 'palisade_gateway_dropped_messages_total',
      help: 'Device messages refused or dropped, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
