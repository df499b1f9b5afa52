import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { getContract, sampleEvent } from '../../contracts/index.ts';
import { encodeFramed, encodeWire } from '../../registry/index.ts';

// encodeFramed writes messages one after another into shared slabs: a buffer it
// returned must keep its bytes whatever is encoded after it.
describe('encodeFramed (slabs)', () => {
  it('keeps every returned message intact across slab boundaries and big records', () => {
    const type = avro.Type.forSchema({ type: 'record', name: 'T', fields: [{ name: 'n', type: 'int' }, { name: 'text', type: 'string' }] });
    const values = Array.from({ length: 5_000 }, (_, n) => ({ n, text: n % 997 === 0 ? 'ñ'.repeat(70_000 + n) : `v${n}-`.repeat(1 + (n % 50)) }));
    const framed = values.map((v, i) => encodeFramed(i, type, v));
    values.forEach((v, i) => {
      expect(framed[i]![0]).toBe(0);
      expect(framed[i]!.readInt32BE(1)).toBe(i);
      expect(type.fromBuffer(framed[i]!.subarray(5))).toEqual(v);
      expect(framed[i]!.equals(encodeWire(i, type.toBuffer(v)))).toBe(true);
    });
  });

  it('frames a contract event exactly as encodeWire(toBuffer) does', () => {
    const { avroType } = getContract('conred.incident.reported');
    for (let i = 0; i < 100; i++) {
      const e = sampleEvent('conred.incident.reported');
      expect(encodeFramed(7, avroType, e).equals(encodeWire(7, avroType.toBuffer(e)))).toBe(true);
    }
  });

  it('leaves nothing behind when encoding throws', () => {
    const type = avro.Type.forSchema({ type: 'record', name: 'U', fields: [{ name: 'n', type: 'int' }] });
    const before = encodeFramed(1, type, { n: 1 });
    expect(() => encodeFramed(1, type, { n: 'x' })).toThrow();
    const after = encodeFramed(1, type, { n: 2 });
    expect(type.fromBuffer(before.subarray(5))).toEqual({ n: 1 });
    expect(type.fromBuffer(after.subarray(5))).toEqual({ n: 2 });
  });
});
