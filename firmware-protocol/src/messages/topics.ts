import { isDeviceId } from '@palisade/shared';
import { ProtocolError } from '../errors.js';

/**
 * The MQTT topic tree of the device protocol. @see PROTOCOL.md §3
 * Every device topic is `palisade/v1/d/{deviceId}/{suffix}`; device ids can never contain `/`, `+` or `#`.
 */
export const TOPIC_ROOT = 'palisade/v1';

export type DeviceTopicKind = 'telemetry' | 'status' | 'challenge' | 'evidence' | 'result' | 'command' | 'command-ack';

export type Direction = 'device-to-gateway' | 'gateway-to-device';

export interface TopicSpec {
  readonly suffix: string;
  readonly direction: Direction;
  readonly qos: 0 | 1;
  readonly retain: boolean;
  /** May a quarantined device publish here? [FP-7.4-1] */
  readonly allowedInQuarantine: boolean;
}

/** The topic table of PROTOCOL.md §3.1, as data. */
export const TOPIC_SPECS: Readonly<Record<DeviceTopicKind, TopicSpec>> = {
  telemetry: { suffix: 'telemetry', direction: 'device-to-gateway', qos: 0, retain: false, allowedInQuarantine: false },
  status: { suffix: 'status', direction: 'device-to-gateway', qos: 1, retain: true, allowedInQuarantine: true },
  challenge: {
    suffix: 'attest/challenge',
    direction: 'gateway-to-device',
    qos: 1,
    retain: false,
    allowedInQuarantine: false,
  },
  evidence: {
    suffix: 'attest/evidence',
    direction: 'device-to-gateway',
    qos: 1,
    retain: false,
    allowedInQuarantine: true,
  },
  result: {
    suffix: 'attest/result',
    direction: 'gateway-to-device',
    qos: 1,
    retain: false,
    allowedInQuarantine: false,
  },
  command: { suffix: 'cmd', direction: 'gateway-to-device', qos: 1, retain: false, allowedInQuarantine: false },
  'command-ack': {
    suffix: 'cmd/ack',
    direction: 'device-to-gateway',
    qos: 1,
    retain: false,
    allowedInQuarantine: false,
  },
};

const KIND_BY_SUFFIX: ReadonlyMap<string, DeviceTopicKind> = new Map(
  (Object.entries(TOPIC_SPECS) as [DeviceTopicKind, TopicSpec][]).map(([k, s]) => [s.suffix, k]),
);

function deviceTopic(deviceId: string, kind: DeviceTopicKind): string {
  if (!isDeviceId(deviceId)) {
    throw new ProtocolError('message.topic', 'not a valid device id', { details: { kind } });
  }
  return `${TOPIC_ROOT}/d/${deviceId}/${TOPIC_SPECS[kind].suffix}`;
}

export const topics = {
  telemetry: (deviceId: string): string => deviceTopic(deviceId, 'telemetry'),
  status: (deviceId: string): string => deviceTopic(deviceId, 'status'),
  challenge: (deviceId: string): string => deviceTopic(deviceId, 'challenge'),
  evidence: (deviceId: string): string => deviceTopic(deviceId, 'evidence'),
  result: (deviceId: string): string => deviceTopic(deviceId, 'result'),
  command: (deviceId: string): string => deviceTopic(deviceId, 'command'),
  commandAck: (deviceId: string): string => deviceTopic(deviceId, 'command-ack'),
  /** The filter a gateway subscribes to for every device's publishes of one kind. */
  allDevices: (kind: DeviceTopicKind): string => `${TOPIC_ROOT}/d/+/${TOPIC_SPECS[kind].suffix}`,
} as const;

const PREFIX = `${TOPIC_ROOT}/d/`;

/**
 * Parses a concrete device topic. Returns null for anything that is not exactly one of the topics of §3.1 (other
 * roots, wildcards, empty levels, bad device ids, unknown suffixes). [FP-3.1-2]
 */
export function parseDeviceTopic(topic: string): { deviceId: string; kind: DeviceTopicKind } | null {
  if (typeof topic !== 'string' || !topic.startsWith(PREFIX) || topic.length > 256) return null;
  const rest = topic.slice(PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return null;
  const deviceId = rest.slice(0, slash);
  if (!isDeviceId(deviceId)) return null;
  const kind = KIND_BY_SUFFIX.get(rest.slice(slash + 1));
  return kind === undefined ? null : { deviceId, kind };
}
