/**
 * The importer's UTF-8 check: the first byte that is not well-formed UTF-8,
 * as the WHATWG decoder (fatal) judges it, on random and edge-case bytes.
 */
import { describe, expect, it } from 'vitest';
import { firstInvalidUtf8 } from '../../../producers/importer/importer.ts';

const valid = (b: Buffer) => {
  try {
    new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b);
    return true;
  } catch {
    return false;
  }
};

describe('firstInvalidUtf8', () => {
  it('agrees with the fatal decoder on what is valid, and its offset starts a prefix the decoder accepts', () => {
    let seed = 11;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const pieces = ['a', 'é', '€', '😀', '\n', ';'].map((x) => Buffer.from(x));
    const odd = [0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x8f, 0x90];
    for (let round = 0; round < 20_000; round++) {
      const parts: Buffer[] = [];
      for (let k = next() % 8; k >= 0; k--) parts.push(next() % 4 === 0 ? Buffer.from([odd[next() % odd.length]!]) : pieces[next() % pieces.length]!);
      const b = Buffer.concat(parts);
      const at = firstInvalidUtf8(b);
      expect(at === -1, b.toString('hex')).toBe(valid(b));
      if (at >= 0) expect(valid(b.subarray(0, at)), b.toString('hex')).toBe(true);
    }
  });

  it('edge cases: overlong forms, surrogates, past U+10FFFF, truncated sequences', () => {
    for (const hex of ['c0af', 'e08080', 'eda080', 'f4908080', 'f5808080', 'e282', 'f09f98', 'ff']) expect(firstInvalidUtf8(Buffer.from(`41${hex}`, 'hex')), hex).toBe(1);
    for (const hex of ['c3a9', 'e282ac', 'f09f9880', 'ed9fbf', 'f48fbfbf', '']) expect(firstInvalidUtf8(Buffer.from(hex, 'hex')), hex).toBe(-1);
  });
});
