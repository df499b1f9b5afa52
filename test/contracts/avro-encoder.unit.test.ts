import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { compileEncoder } from '../../contracts/avro-encoder.ts';
import { loadContracts, sampleEvent } from '../../contracts/index.ts';
import { LOGICAL_TYPES } from '../../contracts/logical-types.ts';

/** What encoding `value` gives: its bytes, or the message of the error thrown. */
function outcome(encode: (v: unknown, buf: Buffer, pos: number) => number, value: unknown, size = 64 * 1024): string {
  const buf = Buffer.alloc(size);
  try {
    const end = encode(value, buf, 3);
    return end < 0 ? `short by ${-end}` : buf.subarray(3, end).toString('hex');
  } catch (err) {
    return `throws ${(err as Error).message}`;
  }
}

const STRINGS = ['', 'x', 'c'.repeat(3000), 'ñ'.repeat(3000), 'd'.repeat(50_000), 'ñandú', 'Árbol 🌳 del río', 'a'.repeat(63), 'a'.repeat(64), 'b'.repeat(200), 'ñ'.repeat(31), 'ñ'.repeat(33), 'ñ'.repeat(300), '\ud800x', 'x\udc00', '🚗'.repeat(20), '\u0000'];
const NUMBERS = [0, -1, 1, 63, 64, -64, -65, 8191, 8192, 1073741823, 1073741824, -1073741824, -1073741825, 2147483647, -2147483648, 2 ** 40, -(2 ** 40), 2 ** 53 - 1, -(2 ** 53 - 1), 1.5, Number.NaN, 1e300];

/** A random variant of `value`: strings and numbers swapped for awkward ones, fields dropped or nulled. */
function mutate(value: unknown, rnd: () => number): unknown {
  if (typeof value === 'string') return rnd() < 0.5 ? STRINGS[Math.floor(rnd() * STRINGS.length)] : value;
  if (typeof value === 'number') return rnd() < 0.3 ? NUMBERS[Math.floor(rnd() * NUMBERS.length)] : value;
  if (Array.isArray(value)) return value.map((v) => mutate(v, rnd));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = rnd();
      if (r < 0.08) continue;
      out[k] = r < 0.12 ? null : mutate(v, rnd);
    }
    return out;
  }
  return value;
}

describe('compileEncoder', () => {
  const contracts = loadContracts();

  it('writes the bytes avsc writes for every event type (samples)', () => {
    for (const t of contracts.eventTypes) {
      const { avroType } = contracts.get(t);
      const enc = compileEncoder(avroType);
      expect(enc).not.toBe(avroType);
      for (let i = 0; i < 20; i++) {
        const e = sampleEvent(t);
        expect(outcome(enc.encode.bind(enc), e), t).toBe(outcome(avroType.encode.bind(avroType), e));
      }
    }
  });

  it('matches avsc on random and mutated values: same bytes or the same error', () => {
    let seed = 12345;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    for (const t of contracts.eventTypes) {
      const { avroType } = contracts.get(t);
      const enc = compileEncoder(avroType);
      for (let i = 0; i < 400; i++) {
        const base = i % 2 ? avroType.random() : sampleEvent(t);
        const value = i % 4 < 2 ? base : mutate(base, rnd);
        expect(outcome(enc.encode.bind(enc), value), `${t} ${JSON.stringify(value)}`).toBe(outcome(avroType.encode.bind(avroType), value));
      }
    }
  });

  it('answers minus the missing bytes when the buffer is short, as avsc does', () => {
    const { avroType } = contracts.get('conred.incident.reported');
    const enc = compileEncoder(avroType);
    const e = sampleEvent('conred.incident.reported', { description: 'ñ'.repeat(100) });
    for (const size of [3, 10, 40, 100, 250, 400]) {
      expect(outcome(enc.encode.bind(enc), e, size)).toBe(outcome(avroType.encode.bind(avroType), e, size));
    }
  });

  it('covers the other Avro types it compiles (boolean, float, double, enum, array, null)', () => {
    const type = avro.Type.forSchema(
      {
        type: 'record',
        name: 'Misc',
        fields: [
          { name: 'b', type: 'boolean' },
          { name: 'f', type: 'float' },
          { name: 'd', type: 'double' },
          { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B', 'C'] } },
          { name: 'xs', type: { type: 'array', items: ['null', 'long'] } },
          { name: 'n', type: 'null' },
          { name: 'day', type: { type: 'int', logicalType: 'date' }, default: 0 },
          { name: 'opt', type: ['string', 'null'], default: 'dflt' },
        ],
      },
      { logicalTypes: LOGICAL_TYPES },
    );
    const enc = compileEncoder(type);
    const values: unknown[] = [
      { b: true, f: 1.25, d: -2.5e-300, e: 'C', xs: [1, null, -(2 ** 40)], n: null, day: '2024-02-29', opt: null },
      { b: false, f: Number.NaN, d: 0, e: 'A', xs: [], n: null },
      { b: 1, f: 1, d: 1, e: 'A', xs: [], n: null },
      { b: true, f: 1, d: 1, e: 'Z', xs: [], n: null },
      { b: true, f: 1, d: 1, e: 'A', xs: [1.5], n: null },
      { b: true, f: 1, d: 1, e: 'A', xs: [], n: undefined },
      { b: true, f: 1, d: 1, e: 'A', xs: [], n: null, day: '2023-02-29' },
      { b: true, f: 1, d: 1, e: 'A', xs: [], n: null, day: new Date('2020-01-02T00:00:00Z') },
    ];
    for (const v of values) expect(outcome(enc.encode.bind(enc), v)).toBe(outcome(type.encode.bind(type), v));
  });

  it('leaves types it does not compile to avsc', () => {
    const type = avro.Type.forSchema({ type: 'record', name: 'M', fields: [{ name: 'm', type: { type: 'map', values: 'int' } }] });
    expect(compileEncoder(type)).toBe(type);
  });
});
