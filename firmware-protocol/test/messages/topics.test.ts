import { describe, expect, it } from 'vitest';
import { parseDeviceTopic, TOPIC_ROOT, TOPIC_SPECS, topics } from '../../src/messages/topics.js';

describe('topic tree [FP-3.1-1]', () => {
  it('builds every device topic under palisade/v1/d/{id}', () => {
    expect(TOPIC_ROOT).toBe('palisade/v1');
    expect(topics.telemetry('dev-1')).toBe('palisade/v1/d/dev-1/telemetry');
    expect(topics.status('dev-1')).toBe('palisade/v1/d/dev-1/status');
    expect(topics.challenge('dev-1')).toBe('palisade/v1/d/dev-1/attest/challenge');
    expect(topics.evidence('dev-1')).toBe('palisade/v1/d/dev-1/attest/evidence');
    expect(topics.result('dev-1')).toBe('palisade/v1/d/dev-1/attest/result');
    expect(topics.command('dev-1')).toBe('palisade/v1/d/dev-1/cmd');
    expect(topics.commandAck('dev-1')).toBe('palisade/v1/d/dev-1/cmd/ack');
    expect(topics.allDevices('evidence')).toBe('palisade/v1/d/+/attest/evidence');
  });

  it('refuses to build a topic from an id that could widen a filter', () => {
    for (const bad of ['', '+', '#', 'a/b', 'a+b', '-x', 'x'.repeat(65), 'a\u0000b']) {
      expect(() => topics.telemetry(bad)).toThrow(expect.objectContaining({ code: 'message.topic' }));
    }
  });

  it('round-trips every kind through parseDeviceTopic', () => {
    for (const kind of Object.keys(TOPIC_SPECS) as (keyof typeof TOPIC_SPECS)[]) {
      const topic = `palisade/v1/d/stm32-9.a_b/${TOPIC_SPECS[kind].suffix}`;
      expect(parseDeviceTopic(topic)).toEqual({ deviceId: 'stm32-9.a_b', kind });
    }
  });

  it('[FP-3.1-2] returns null for anything that is not exactly a device topic', () => {
    for (const t of [
      '',
      'palisade/v1/d/',
      'palisade/v1/d/dev-1',
      'palisade/v1/d/dev-1/',
      'palisade/v1/d//telemetry',
      'palisade/v1/d/+/telemetry',
      'palisade/v1/d/#',
      'palisade/v1/d/dev-1/telemetry/',
      'palisade/v1/d/dev-1/telemetry/x',
      'palisade/v1/d/dev-1/attest',
      'palisade/v2/d/dev-1/telemetry',
      '/palisade/v1/d/dev-1/telemetry',
      'palisade/v1/d/-dev/telemetry',
      'palisade/v1/d/dev-1/cmd/ack/x',
      'palisade/v1/gw/dev-1/telemetry',
    ]) {
      expect(parseDeviceTopic(t), t).toBeNull();
    }
  });

  it('[FP-7.4-1] a quarantined device may publish only evidence and status', () => {
    const allowed = Object.entries(TOPIC_SPECS)
      .filter(([, s]) => s.allowedInQuarantine)
      .map(([k]) => k);
    expect(allowed.sort()).toEqual(['evidence', 'status']);
  });

  it('[FP-3.1-4] status is the only retained topic', () => {
    expect(Object.entries(TOPIC_SPECS).filter(([, s]) => s.retain)).toEqual([['status', TOPIC_SPECS.status]]);
  });
});
