import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isCanonicalUtc, parseTimestamp, parseTimestampMemo } from '../../contracts/time.ts';
import { isUuid } from '../../contracts/validator.ts';
import { sampleEvent, validateEvent } from '../../contracts/index.ts';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

describe('hot-path equivalents', () => {
  it('isUuid accepts exactly what the UUID regular expression accepts', () => {
    const cases = ['', 'x', randomUUID(), randomUUID().toUpperCase(), `${randomUUID()}0`, randomUUID().slice(1), 'g'.repeat(36)];
    const alphabet = '0123456789abcdefABCDEFgG-@`[{/:ñ ';
    for (let i = 0; i < 20_000; i++) {
      const base = randomUUID().split('');
      const at = i % 36;
      base[at] = alphabet[(i * 7) % alphabet.length]!;
      if (i % 5 === 0) base[(at + 11) % 36] = alphabet[(i * 13) % alphabet.length]!;
      cases.push(base.join(''));
    }
    for (const s of cases) expect(isUuid(s), s).toBe(UUID_RE.test(s));
  });

  it('parseTimestampMemo returns what parseTimestamp does, in any order of calls', () => {
    const stamps = [
      '2026-03-01T10:15:00-06:00',
      '2026-03-01T16:15:00Z',
      '2026-03-01T16:15:00.123Z',
      '2026-03-01T16:15:00.1234567Z',
      '2026-02-30T10:15:00Z',
      '2026-03-01T10:15:00',
      'nope',
      '2024-02-29T23:59:59.999+14:00',
      '1899-12-31T23:59:59Z',
    ];
    let seed = 7;
    for (let i = 0; i < 5_000; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      // Equal strings built separately too, not only the same string object.
      const s = i % 3 === 0 ? stamps[seed % stamps.length]!.split('').join('') : stamps[seed % stamps.length]!;
      expect(Object.is(parseTimestampMemo(s), parseTimestamp(s)), s).toBe(true);
    }
  });

  it('isCanonicalUtc accepts exactly what /^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$/ accepts', () => {
    const re = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
    const base = new Date().toISOString();
    const alphabet = '0123456789-T:.Zz+/ x٣';
    const cases = [base, `${base}Z`, base.slice(1), '2026-03-01T10:15:00-06:00', '2026-03-01T16:15:00Z'];
    for (let i = 0; i < 24 * alphabet.length; i++) {
      const chars = base.split('');
      chars[i % 24] = alphabet[Math.floor(i / 24)]!;
      cases.push(chars.join(''));
    }
    for (const s of cases) expect(isCanonicalUtc(s), s).toBe(re.test(s));
  });

  it('reports unknown own fields, and never inherited enumerable ones (the allocation-free key count)', () => {
    const e = sampleEvent('conred.incident.reported');
    expect(validateEvent('conred.incident.reported', e)).toEqual([]);
    const withExtra = { ...e, extra: 1, gone: undefined, location: { ...e.location, zone: 'x' } };
    expect(validateEvent('conred.incident.reported', withExtra)).toEqual([
      { path: '/location/zone', message: 'is not a field of Location', rule: 'unknown-field' },
      { path: '/extra', message: 'is not a field of IncidentReported', rule: 'unknown-field' },
    ]);
    // Like avsc's decoded records: enumerable methods on the prototype are not fields.
    const proto = { clone() {}, extraInherited: 1 };
    const inherited = Object.assign(Object.create(proto) as Record<string, unknown>, e);
    expect(validateEvent('conred.incident.reported', inherited)).toEqual([]);
    inherited.other = 'x';
    expect(validateEvent('conred.incident.reported', inherited).map((v) => v.path)).toEqual(['/other']);
    // A field given only by the prototype counts as present, as before.
    const protoField = Object.assign(Object.create({ description: 'desde el prototipo' }) as Record<string, unknown>, { ...e, description: undefined });
    delete protoField.description;
    expect(validateEvent('conred.incident.reported', protoField)).toEqual([]);
  });
});
