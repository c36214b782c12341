import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AclRule,
  authorizeDevicePublish,
  authorizeDeviceSubscribe,
  compileRulesFor,
  hashPassword,
  validateAclRules,
  verifyPassword,
} from '../../src/broker/index.js';

describe('ACL rules', () => {
  const rules: AclRule[] = [
    { effect: 'allow', groups: ['ops'], topic: 'site/{deviceId}/+/raw', action: 'publish' },
    { effect: 'deny', devices: '*', topic: 'site/+/debug/#', action: 'both' },
    { effect: 'allow', topic: 'site/+/debug/#', action: 'both' },
  ];

  it('substitutes {deviceId}, selects by group, and lets deny win regardless of order', () => {
    const ops = compileRulesFor(rules, 'dev-1', ['ops']);
    expect(authorizeDevicePublish('dev-1', ops, 'site/dev-1/pump/raw')).toEqual({ ok: true, kind: 'other' });
    expect(authorizeDevicePublish('dev-1', ops, 'site/dev-2/pump/raw')).toMatchObject({ ok: false });
    expect(authorizeDevicePublish('dev-1', ops, 'site/dev-1/debug/x')).toEqual({
      ok: false,
      reason: 'acl.denied_by_rule',
    });
    const plain = compileRulesFor(rules, 'dev-1', []);
    expect(authorizeDevicePublish('dev-1', plain, 'site/dev-1/pump/raw')).toMatchObject({ ok: false });
  });

  it('"#" matches the parent level too (MQTT 3.1.1 §4.7.1.2)', () => {
    const r = compileRulesFor([{ effect: 'allow', topic: 'a/b/#', action: 'publish' }], 'd', []);
    expect(authorizeDevicePublish('d', r, 'a/b')).toMatchObject({ ok: true });
    expect(authorizeDevicePublish('d', r, 'a/b/c/d')).toMatchObject({ ok: true });
    expect(authorizeDevicePublish('d', r, 'a/bc')).toMatchObject({ ok: false });
  });

  it('a subscription is allowed only when an allow rule covers the whole filter', () => {
    const r = compileRulesFor([{ effect: 'allow', topic: 'x/+/y', action: 'subscribe' }], 'd', []);
    expect(authorizeDeviceSubscribe('d', r, 'x/1/y')).toEqual({ ok: true });
    expect(authorizeDeviceSubscribe('d', r, 'x/+/y')).toEqual({ ok: true });
    expect(authorizeDeviceSubscribe('d', r, 'x/#')).toMatchObject({ ok: false });
    expect(authorizeDeviceSubscribe('d', r, 'x/+/+')).toMatchObject({ ok: false });
  });

  it('device topics are still checked against the connection identity with rules present', () => {
    const r = compileRulesFor(rules, 'dev-1', ['ops']);
    expect(authorizeDevicePublish('dev-1', r, 'palisade/v1/d/dev-1/telemetry')).toEqual({
      ok: true,
      kind: 'telemetry',
    });
    expect(authorizeDevicePublish('dev-1', r, 'palisade/v1/d/dev-2/telemetry')).toMatchObject({ ok: false });
    expect(authorizeDevicePublish('dev-1', r, '$SYS/x')).toEqual({ ok: false, reason: 'acl.reserved_topic' });
  });

  it('refuses topic names and filters holding U+0000 even inside an allowed tree [MQTT-4.7.3-2]', () => {
    const r = compileRulesFor([{ effect: 'allow', topic: 'plant/#', action: 'both' }], 'd', []);
    expect(authorizeDevicePublish('d', r, 'plant/a')).toMatchObject({ ok: true });
    expect(authorizeDevicePublish('d', r, 'plant/a\u0000b')).toEqual({ ok: false, reason: 'acl.invalid_topic' });
    expect(authorizeDeviceSubscribe('d', r, 'plant/\u0000/#')).toEqual({ ok: false, reason: 'acl.invalid_topic' });
    expect(authorizeDevicePublish('d', [], 'palisade/v1/d/d/telemetry\u0000')).toMatchObject({ ok: false });
  });

  it('never authorises another device topic by default, for any topic string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (suffix) => {
        const topic = `palisade/v1/d/dev-2/${suffix}`;
        return !authorizeDevicePublish('dev-1', [], topic).ok && !authorizeDeviceSubscribe('dev-1', [], topic).ok;
      }),
    );
  });

  it('rejects malformed rules at start-up with the rule index', () => {
    expect(() => validateAclRules([{ effect: 'allow', topic: 'a/b#', action: 'publish' }])).toThrow(/acl\[0\]/);
    expect(() => validateAclRules([{ effect: 'allow', topic: 'a/#/b', action: 'publish' }])).toThrow(/last level/);
    expect(() => validateAclRules([{ effect: 'maybe', topic: 'a', action: 'publish' } as unknown as AclRule])).toThrow(
      /effect/,
    );
    expect(() => validateAclRules([{ effect: 'deny', topic: '', action: 'both' }])).toThrow(/topic/);
  });
});

describe('device passwords (scrypt)', () => {
  it('hashes with a random salt, never storing the password, and verifies', async () => {
    const a = await hashPassword('s3cret-pass');
    const b = await hashPassword('s3cret-pass');
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifyPassword('s3cret-pass', a)).toBe(true);
    expect(await verifyPassword(Buffer.from('s3cret-pass'), a)).toBe(true);
    expect(await verifyPassword('s3cret-pasS', a)).toBe(false);
  });

  it('returns false, never throws, for malformed or abusive stored hashes', async () => {
    const good = await hashPassword('pw');
    const parts = good.split('$');
    for (const bad of [
      '',
      'plain',
      'bcrypt$1$2$3$4$5',
      `scrypt$${2 ** 24}$8$1$${parts[4]}$${parts[5]}`, // N too large: would cost gigabytes
      `scrypt$1000$8$1$${parts[4]}$${parts[5]}`, // N not a power of two
      `scrypt$16384$8$1$${parts[4]}$AAAA`,
    ]) {
      expect(await verifyPassword('pw', bad)).toBe(false);
    }
    expect(await verifyPassword('', good)).toBe(false);
    expect(await verifyPassword('x'.repeat(2000), good)).toBe(false);
  });

  it('refuses to hash an empty password', async () => {
    await expect(hashPassword('')).rejects.toMatchObject({ code: 'validation.password' });
  });
});
