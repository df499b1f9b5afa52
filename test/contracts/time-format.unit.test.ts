/** The Date-free ISO formatters give exactly what Date#toISOString gives. */
import { describe, expect, it } from 'vitest';
import { FIRST_ISO_DAY, LAST_ISO_DAY, isoFromDays, isoFromMillis } from '../../contracts/time.ts';

const DAY = 86_400_000;
const edges = [
  0, -1, 1, 999, 1000, DAY - 1, DAY, -DAY, -DAY - 1,
  Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2000, 1, 29), Date.UTC(1900, 1, 28), Date.UTC(2100, 2, 1),
  Date.UTC(1969, 11, 31, 23, 59, 59, 999), FIRST_ISO_DAY * DAY, LAST_ISO_DAY * DAY + DAY - 1, Date.UTC(999, 11, 31, 12),
];

describe('isoFromMillis', () => {
  it('equals toISOString on edges and 100,000 random instants between years 0 and 9999', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647);
    const span = (LAST_ISO_DAY - FIRST_ISO_DAY + 1) * DAY;
    // Mismatches collected and asserted once: an expect() per sample made these tests take seconds, past vitest's 5 s on a loaded 2-core machine.
    const samples = [...edges, ...Array.from({ length: 100_000 }, () => Math.floor(FIRST_ISO_DAY * DAY + random() * span))];
    const mismatches = samples.filter((ms) => isoFromMillis(ms) !== new Date(ms).toISOString()).map((ms) => `${ms}: ${isoFromMillis(ms)} ≠ ${new Date(ms).toISOString()}`);
    expect(mismatches).toEqual([]);
  });

  it('outside the 4-digit years it is toISOString itself (6-digit years; a RangeError past what a Date holds)', () => {
    const far = (LAST_ISO_DAY + 1) * DAY;
    expect(isoFromMillis(far)).toBe(new Date(far).toISOString());
    expect(isoFromMillis(FIRST_ISO_DAY * DAY - 1)).toBe(new Date(FIRST_ISO_DAY * DAY - 1).toISOString());
    expect(() => isoFromMillis(9e15)).toThrow(RangeError);
  });
});

describe('isoFromDays', () => {
  it('equals toISOString().slice(0, 10) over the whole 4-digit range and just outside it', () => {
    // Mismatches collected and asserted once (as above): an expect() per day made this test take seconds on a loaded 2-core machine.
    const mismatches: string[] = [];
    for (let d = FIRST_ISO_DAY - 3; d <= LAST_ISO_DAY + 3; d += 17) {
      const want = new Date(d * DAY).toISOString().slice(0, 10);
      if (isoFromDays(d) !== want) mismatches.push(`${d}: ${isoFromDays(d)} ≠ ${want}`);
    }
    expect(mismatches).toEqual([]);
    for (const d of [FIRST_ISO_DAY, LAST_ISO_DAY, 0, -1, 19_782]) expect(isoFromDays(d)).toBe(new Date(d * DAY).toISOString().slice(0, 10));
  });
});
