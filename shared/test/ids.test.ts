import { describe, expect, it } from 'vitest';
import { assertDeviceId, fromHex, isDeviceId, newId, toHex, ulid, ValidationError } from '../src/index.js';

describe('ulid', () => {
  it('encodes time first so ids sort by creation time', () => {
    const zero = new Uint8Array(10);
    const a = ulid(1_700_000_000_000, () => zero);
    const b = ulid(1_700_000_000_001, () => zero);
    expect(a).toHaveLength(26);
    expect(a < b).toBe(true);
    expect(a.endsWith('0000000000000000')).toBe(true);
  });
  it('rejects a time outside 48 bits', () => {
    expect(() => ulid(-1)).toThrow(ValidationError);
    expect(() => ulid(2 ** 48)).toThrow(ValidationError);
  });
  it('prefixes ids with their kind', () => {
    expect(newId('case')).toMatch(/^case_[0-9A-HJKMNP-TV-Z]{26}$/);
  });
});

describe('device ids', () => {
  it.each(['nrf52-0001', 'STM32.u5_7', 'a'])('accepts %s', (id) => expect(isDeviceId(id)).toBe(true));
  it.each(['', 'a/b', '+', '#', 'dev#1', '-lead', 'x'.repeat(65), 'nul\u0000'])('rejects %j', (id) => {
    expect(isDeviceId(id)).toBe(false);
    expect(() => assertDeviceId(id)).toThrow(expect.objectContaining({ code: 'validation.device_id' }));
  });
});

describe('hex', () => {
  it('round-trips', () => expect(toHex(fromHex('00ff10'))).toBe('00ff10'));
  it('rejects odd length and non-hex', () => {
    expect(() => fromHex('abc')).toThrow(ValidationError);
    expect(() => fromHex('zz')).toThrow(ValidationError);
  });
});
