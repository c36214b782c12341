import { type DeviceTopicKind, parseDeviceTopic, TOPIC_SPECS } from '@palisade/firmware-protocol';
import { ValidationError } from '@palisade/shared';

/**
 * Topic authorisation for devices. Defaults follow PROTOCOL.md §3.1: a device publishes only to its own
 * device→gateway topics and subscribes only to its own gateway→device topics [FP-3.1-1], with the device id of the
 * topic equal to the connection's authenticated identity [FP-3.1-3]. Operators add rules on top:
 * a matching `deny` always wins, a matching `allow` widens the defaults, and with no match the defaults decide.
 * Rules are compiled once per connection (`{deviceId}` substituted), so the per-message path is a topic split and
 * a few string comparisons.
 */

export type AclAction = 'publish' | 'subscribe' | 'both';

export interface AclRule {
  effect: 'allow' | 'deny';
  /** Device ids the rule applies to, or '*'. With neither `devices` nor `groups` the rule applies to every device. */
  devices?: string[] | '*';
  groups?: string[];
  /** An MQTT topic filter (`+`, `#`); a level that is exactly `{deviceId}` stands for the device's own id. */
  topic: string;
  action: AclAction;
}

export type PublishKind = DeviceTopicKind | 'other';

/** The outcome of an ACL check: allowed with the topic kind, or refused with a reason code. */
export type AclDecision = { ok: true; kind: PublishKind } | { ok: false; reason: string };

interface CompiledRule {
  allow: boolean;
  publish: boolean;
  subscribe: boolean;
  levels: string[];
}

const DEVICE_TOKEN = '{deviceId}';

/** Validates operator rules at start-up, so a bad rule is an error naming the rule, not a silent hole. */
export function validateAclRules(rules: readonly AclRule[]): void {
  rules.forEach((r, i) => {
    const where = { details: { rule: i } };
    if (r.effect !== 'allow' && r.effect !== 'deny') {
      throw new ValidationError('validation.acl_effect', `acl[${i}].effect must be allow or deny`, where);
    }
    if (r.action !== 'publish' && r.action !== 'subscribe' && r.action !== 'both') {
      throw new ValidationError('validation.acl_action', `acl[${i}].action must be publish, subscribe or both`, where);
    }
    if (typeof r.topic !== 'string' || r.topic.length === 0 || r.topic.length > 256 || r.topic.includes('\0')) {
      throw new ValidationError('validation.acl_topic', `acl[${i}].topic must be a non-empty topic filter`, where);
    }
    const levels = r.topic.split('/');
    levels.forEach((l, j) => {
      const wild = l.includes('+') || l.includes('#');
      if (wild && l !== '+' && l !== '#') {
        throw new ValidationError('validation.acl_topic', `acl[${i}].topic: a wildcard must fill a whole level`, where);
      }
      if (l === '#' && j !== levels.length - 1) {
        throw new ValidationError('validation.acl_topic', `acl[${i}].topic: '#' must be the last level`, where);
      }
    });
    if (r.devices !== undefined && r.devices !== '*' && !Array.isArray(r.devices)) {
      throw new ValidationError('validation.acl_devices', `acl[${i}].devices must be '*' or a list`, where);
    }
    if (r.groups !== undefined && !Array.isArray(r.groups)) {
      throw new ValidationError('validation.acl_groups', `acl[${i}].groups must be a list`, where);
    }
  });
}

/** Rules that apply to one device, with `{deviceId}` substituted; computed once at connect. */
export function compileRulesFor(
  rules: readonly AclRule[],
  deviceId: string,
  groups: readonly string[],
): readonly CompiledRule[] {
  const out: CompiledRule[] = [];
  for (const r of rules) {
    const everyone = r.devices === undefined && r.groups === undefined;
    const byDevice = r.devices === '*' || (Array.isArray(r.devices) && r.devices.includes(deviceId));
    const byGroup = r.groups?.some((g) => groups.includes(g)) ?? false;
    if (!everyone && !byDevice && !byGroup) continue;
    out.push({
      allow: r.effect === 'allow',
      publish: r.action !== 'subscribe',
      subscribe: r.action !== 'publish',
      levels: r.topic.split('/').map((l) => (l === DEVICE_TOKEN ? deviceId : l)),
    });
  }
  // Deny rules first: a deny anywhere wins over any allow.
  return out.sort((a, b) => Number(a.allow) - Number(b.allow));
}

/** Does filter `pattern` match concrete topic `topic`? (`#` also matches the parent level, MQTT 3.1.1 §4.7.1.2.) */
function matchesTopic(pattern: readonly string[], topic: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === '#') return true;
    if (i >= topic.length) return false;
    if (p !== '+' && p !== topic[i]) return false;
  }
  return pattern.length === topic.length;
}

/** Is every topic that `filter` matches also matched by `pattern`? */
function covers(pattern: readonly string[], filter: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === '#') return true;
    if (i >= filter.length) return false;
    const f = filter[i];
    if (f === '#') return false;
    if (p === '+') continue;
    if (f === '+' || p !== f) return false;
  }
  return pattern.length === filter.length;
}

/** Could some topic be matched by both filters? */
function intersects(a: readonly string[], b: readonly string[]): boolean {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i];
    const y = b[i];
    if (x === '#' || y === '#') return true;
    if (x === undefined || y === undefined) return false;
    if (x !== '+' && y !== '+' && x !== y) return false;
  }
  return true;
}

const DEVICE_PUBLISHES: ReadonlySet<DeviceTopicKind> = new Set(
  (Object.keys(TOPIC_SPECS) as DeviceTopicKind[]).filter((k) => TOPIC_SPECS[k].direction === 'device-to-gateway'),
);
const DEVICE_SUBSCRIBES: ReadonlySet<DeviceTopicKind> = new Set(
  (Object.keys(TOPIC_SPECS) as DeviceTopicKind[]).filter((k) => TOPIC_SPECS[k].direction === 'gateway-to-device'),
);

/** Authorises a device PUBLISH. Synchronous and allocation-light: it runs for every message. */
export function authorizeDevicePublish(deviceId: string, rules: readonly CompiledRule[], topic: string): AclDecision {
  // `$` topics belong to the broker ($SYS); never to a device, whatever the rules say.
  if (topic.charCodeAt(0) === 36) return { ok: false, reason: 'acl.reserved_topic' };
  const parsed = parseDeviceTopic(topic);
  if (rules.length > 0) {
    // [MQTT-4.7.3-2] no U+0000 in topic names; device topics cannot hold one, operator trees must not either.
    if (topic.includes('\u0000')) return { ok: false, reason: 'acl.invalid_topic' };
    const levels = topic.split('/');
    for (const r of rules) {
      if (r.publish && matchesTopic(r.levels, levels)) {
        return r.allow ? { ok: true, kind: parsed?.kind ?? 'other' } : { ok: false, reason: 'acl.denied_by_rule' };
      }
    }
  }
  if (parsed === null) return { ok: false, reason: 'acl.not_a_device_topic' };
  if (parsed.deviceId !== deviceId) return { ok: false, reason: 'acl.other_device' };
  if (!DEVICE_PUBLISHES.has(parsed.kind)) return { ok: false, reason: 'acl.wrong_direction' };
  return { ok: true, kind: parsed.kind };
}

/** Authorises a device SUBSCRIBE filter. */
export function authorizeDeviceSubscribe(
  deviceId: string,
  rules: readonly CompiledRule[],
  filter: string,
): { ok: true } | { ok: false; reason: string } {
  if (filter.charCodeAt(0) === 36) return { ok: false, reason: 'acl.reserved_topic' };
  if (rules.length > 0) {
    if (filter.includes('\u0000')) return { ok: false, reason: 'acl.invalid_topic' };
    const levels = filter.split('/');
    for (const r of rules) {
      if (!r.subscribe) continue;
      // A deny blocks any filter that could receive one of its topics; an allow must cover the whole filter.
      if (!r.allow && intersects(r.levels, levels)) return { ok: false, reason: 'acl.denied_by_rule' };
      if (r.allow && covers(r.levels, levels)) return { ok: true };
    }
  }
  const parsed = parseDeviceTopic(filter);
  if (parsed === null) return { ok: false, reason: 'acl.not_a_device_topic' };
  if (parsed.deviceId !== deviceId) return { ok: false, reason: 'acl.other_device' };
  if (!DEVICE_SUBSCRIBES.has(parsed.kind)) return { ok: false, reason: 'acl.wrong_direction' };
  return { ok: true };
}
