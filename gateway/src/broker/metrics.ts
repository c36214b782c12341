import { Counter, Gauge, type Registry } from 'prom-client';

/** Prometheus counters of the broker, registered on the registry the host passes in. */
export interface BrokerMetrics {
  connections: Counter<'transport'>;
  authFailures: Counter<'reason'>;
  denied: Counter<'action' | 'reason'>;
  rateLimited: Counter<'kind'>;
  oversized: Counter;
  connected: Gauge;
  /** The per-kind message counter, bound once per kind so the publish path does no label lookup. */
  messages(kind: string): { inc(): void };
}

export function createBrokerMetrics(registry: Registry): BrokerMetrics {
  const registers = [registry];
  const messages = new Counter({
    name: 'palisade_broker_messages_total',
    help: 'Device publishes accepted, by topic kind',
    labelNames: ['kind'],
    registers,
  });
  const bound = new Map<string, { inc(): void }>();
  return {
    connections: new Counter({
      name: 'palisade_broker_connections_total',
      help: 'Connections accepted by a listener',
      labelNames: ['transport'],
      registers,
    }),
    authFailures: new Counter({
      name: 'palisade_broker_auth_failures_total',
      help: 'Refused MQTT connections, by reason',
      labelNames: ['reason'],
      registers,
    }),
    denied: new Counter({
      name: 'palisade_broker_denied_total',
      help: 'Publishes and subscriptions refused by authorisation, by reason',
      labelNames: ['action', 'reason'],
      registers,
    }),
    rateLimited: new Counter({
      name: 'palisade_broker_rate_limited_total',
      help: 'Connections and messages refused by rate limits',
      labelNames: ['kind'],
      registers,
    }),
    oversized: new Counter({
      name: 'palisade_broker_oversized_packets_total',
      help: 'Connections closed for an MQTT packet above maxPacketSize',
      registers,
    }),
    connected: new Gauge({
      name: 'palisade_broker_connected_devices',
      help: 'Devices currently connected',
      registers,
    }),
    messages(kind) {
      let c = bound.get(kind);
      if (c === undefined) {
        c = messages.labels(kind);
        bound.set(kind, c);
      }
      return c;
    },
  };
}
