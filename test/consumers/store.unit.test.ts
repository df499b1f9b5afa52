/** COPY's text format as the store writes it (the round trip through PostgreSQL is in projection.int.test.ts), and how store errors are classified. */
import { describe, expect, it } from 'vitest';
import { copyValue, encodeCopyText, isTransientStoreError } from '../../consumers/store.ts';

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

describe('encodeCopyText', () => {
  /** The rows as copyValue writes them, tab-separated, one line each: the format encodeCopyText must produce byte for byte. */
  const oracle = (columns: string[], rows: Record<string, unknown>[]) =>
    rows.map((r) => `${columns.map((c) => copyValue(r[c] as never)).join('\t')}\n`).join('');

  it('writes every kind of value exactly as copyValue does, ASCII or not, escapes anywhere in the text', () => {
    const columns = ['a', 'b', 'c', 'd'];
    const rows = [
      { a: '8f1c2d3e-0000-4000-8000-000000000001', b: 14.25, c: true, d: null },
      { a: 'a\\b\tc\nd\re', b: -91, c: false, d: { affected: 3, note: 'a\tb' } },
      { a: 'Ñandú\tsur', b: 'José\\Núñez', c: 'tab\tthen ñ then\nline', d: '🌋\r' },
      { a: '', b: '\\N', c: undefined, d: 'x'.repeat(5000) + 'é' },
    ];
    expect(encodeCopyText(columns, rows as never).toString('utf8')).toBe(oracle(columns, rows));
  });

  it('matches copyValue on random text of ASCII, escapes, accents and astral characters, growing its buffer', () => {
    const alphabet = ['a', 'Z', '0', ' ', '\\', '\t', '\n', '\r', '"', 'ñ', 'É', '€', '🌋', '\u0001'];
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const columns = ['x', 'y'];
    const rows = Array.from({ length: 2000 }, () => ({
      x: Array.from({ length: rand(60) }, () => alphabet[rand(alphabet.length)]).join(''),
      y: rand(5) === 0 ? null : Array.from({ length: rand(8) }, () => alphabet[rand(alphabet.length)]).join(''),
    }));
    expect(encodeCopyText(columns, rows).toString('utf8')).toBe(oracle(columns, rows));
  });
});

describe('isTransientStoreError', () => {
  // Regression: a kafkajs protocol error (the dead-letter producer's, e.g. MESSAGE_TOO_LARGE) has a numeric code,
  // and `code.startsWith` threw a TypeError that crashed the consumer for good.
  it('tells store outages from refusals, and takes errors with a numeric code without throwing', () => {
    expect(isTransientStoreError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransientStoreError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
    expect(isTransientStoreError(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }))).toBe(false);
    expect(isTransientStoreError(Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { code: 10, type: 'MESSAGE_TOO_LARGE' }))).toBe(false);
  });
});
