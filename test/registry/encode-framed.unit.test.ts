import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { encodeFramed } from '../../registry/index.ts';

// Regression: the scratch buffer grew by the bytes avsc said were missing, not to the
// size needed, so a record over ~192 KiB threw a bare RangeError.
describe('encodeFramed', () => {
  it('frames records larger than its scratch buffer, repeatedly', () => {
    const type = avro.Type.forSchema({ type: 'record', name: 'Big', fields: [{ name: 'text', type: 'string' }] });
    for (const size of [250_000, 600_000, 10]) {
      const value = { text: 'ñ'.repeat(size) };
      const framed = encodeFramed(42, type, value);
      expect(framed[0]).toBe(0);
      expect(framed.readInt32BE(1)).toBe(42);
      expect(type.fromBuffer(framed.subarray(5))).toEqual(value);
    }
  });
});
