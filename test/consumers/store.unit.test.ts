/** COPY's text format as the store writes it (the round trip through PostgreSQL is in projection.int.test.ts). */
import { describe, expect, it } from 'vitest';
import { copyValue } from '../../consumers/store.ts';

describe('copyValue', () => {
  it('writes null and undefined as \\N, and a literal "\\N" text escaped so it stays text', () => {
    expect(copyValue(null)).toBe('\\N');
    expect(copyValue(undefined)).toBe('\\N');
    expect(copyValue('\\N')).toBe('\\\\N');
  });

  it('escapes backslash, tab, line feed and carriage return, and nothing else', () => {
    expect(copyValue('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
    expect(copyValue('Ñandú "x" \'y\' 🌋 , ;')).toBe('Ñandú "x" \'y\' 🌋 , ;');
  });

  it('writes numbers, booleans and objects (jsonb) in forms PostgreSQL reads', () => {
    expect(copyValue(14.25)).toBe('14.25');
    expect(copyValue(-91)).toBe('-91');
    expect(copyValue(true)).toBe('t');
    expect(copyValue(false)).toBe('f');
    expect(copyValue({ affected: 3, note: 'a\tb' })).toBe('{"affected":3,"note":"a\\\\tb"}');
  });
});
