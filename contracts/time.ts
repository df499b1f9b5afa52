/**
 * Strict parsers for the wire formats of time: ISO-8601 timestamps that carry
 * `Z` or an offset (`2026-03-01T10:15:00-06:00`), and calendar dates
 * (`YYYY-MM-DD`). `Date.parse` alone is too lenient (it accepts 30 February
 * and reads a naked local time in the process's time zone).
 */

/** Returned by `parseTimestamp` for a well-formed time without offset or Z. */
export const NAKED_LOCAL_TIME = Number.NEGATIVE_INFINITY;

const ZERO = 48;

function digits(s: string, at: number, count: number): number {
  let n = 0;
  for (let i = at; i < at + count; i++) {
    const d = s.charCodeAt(i) - ZERO;
    if (!(d >= 0 && d <= 9)) return -1;
    n = n * 10 + d;
  }
  return n;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Parses `YYYY-MM-DD` (year ≥ 1900) to epoch days, or NaN. */
export function parseDate(s: string): number {
  if (s.length !== 10 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return Number.NaN;
  const y = digits(s, 0, 4);
  const m = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  if (y < 1900 || m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return Number.NaN;
  return Date.UTC(y, m - 1, d) / 86_400_000;
}

/**
 * Parses `YYYY-MM-DDTHH:MM[:SS[.fff…]](Z|±HH:MM)` (year ≥ 1900) to epoch
 * milliseconds. Returns NaN when malformed and `NAKED_LOCAL_TIME` when the
 * zone designator is missing.
 */
export function parseTimestamp(s: string): number {
  const len = s.length;
  if (
    len < 16 ||
    s.charCodeAt(4) !== 45 ||
    s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 ||
    s.charCodeAt(13) !== 58
  ) {
    return Number.NaN;
  }
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h < 0 || h > 23 || mi < 0 || mi > 59) {
    return Number.NaN;
  }
  let i = 16;
  let sec = 0;
  let ms = 0;
  if (s.charCodeAt(i) === 58) {
    sec = digits(s, i + 1, 2);
    if (sec < 0 || sec > 59) return Number.NaN;
    i += 3;
    if (s.charCodeAt(i) === 46) {
      i++;
      const start = i;
      while (i < len && s.charCodeAt(i) >= ZERO && s.charCodeAt(i) <= ZERO + 9) {
        if (i - start < 3) ms = ms * 10 + (s.charCodeAt(i) - ZERO);
        i++;
      }
      const count = i - start;
      if (count === 0 || count > 9) return Number.NaN;
      if (count === 1) ms *= 100;
      else if (count === 2) ms *= 10;
    }
  }
  if (i === len) return NAKED_LOCAL_TIME;
  let offsetMin = 0;
  const z = s.charCodeAt(i);
  if (z === 90 || z === 122) {
    if (i + 1 !== len) return Number.NaN;
  } else if (z === 43 || z === 45) {
    if (i + 6 !== len || s.charCodeAt(i + 3) !== 58) return Number.NaN;
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return Number.NaN;
    offsetMin = (z === 45 ? -1 : 1) * (oh * 60 + om);
  } else {
    return Number.NaN;
  }
  return Date.UTC(y, mo - 1, d, h, mi, sec, ms) - offsetMin * 60_000;
}

// The last two distinct timestamps parsed, most recent in B: validation and
// then Avro encoding parse the same strings of an event (often two fields),
// so each is parsed once instead of twice (the SDK's hot path).
let memoA = '';
let memoAms = Number.NaN;
let memoB = '';
let memoBms = Number.NaN;

/** `parseTimestamp` remembering its last two distinct inputs; the same results. */
export function parseTimestampMemo(s: string): number {
  if (s === memoB) return memoBms;
  if (s === memoA) {
    const ms = memoAms;
    memoA = memoB;
    memoAms = memoBms;
    memoB = s;
    memoBms = ms;
    return ms;
  }
  const ms = parseTimestamp(s);
  memoA = memoB;
  memoAms = memoBms;
  memoB = s;
  memoBms = ms;
  return ms;
}

/**
 * True when `s` is `YYYY-MM-DDTHH:MM:SS.sssZ`, what `toISOString()` returns
 * (`/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/` without a regular expression).
 */
export function isCanonicalUtc(s: string): boolean {
  if (s.length !== 24) return false;
  for (let i = 0; i < 23; i++) {
    const c = s.charCodeAt(i);
    const want = i === 4 || i === 7 ? 45 : i === 10 ? 84 : i === 13 || i === 16 ? 58 : i === 19 ? 46 : -1;
    if (want < 0 ? c < 48 || c > 57 : c !== want) return false;
  }
  return s.charCodeAt(23) === 90;
}

const MS_PER_DAY = 86_400_000;
/** Days from 1970-01-01 to 0000-01-01 and to 9999-12-31: the range `toISOString` prints with a 4-digit year. */
export const FIRST_ISO_DAY = -719_528;
export const LAST_ISO_DAY = 2_932_896;

/**
 * The civil date of an epoch day number as one integer `YYYYMMDD` (no
 * allocation; H. Hinnant's civil-from-days). Valid for FIRST_ISO_DAY..LAST_ISO_DAY.
 */
export function civilFromDays(days: number): number {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return (yoe + era * 400 + (m <= 2 ? 1 : 0)) * 10_000 + m * 100 + d;
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));

function isoDay(days: number): string {
  const ymd = civilFromDays(days);
  const y = Math.floor(ymd / 10_000);
  return `${y < 1000 ? String(y).padStart(4, '0') : y}-${TWO_DIGITS[Math.floor(ymd / 100) % 100]}-${TWO_DIGITS[ymd % 100]}`;
}

/**
 * `new Date(ms).toISOString()` without the Date (4–5× cheaper; decoding
 * formats every timestamp of every event). Out of the 4-digit-year range it
 * is `toISOString` itself, which then throws for what no Date can hold.
 */
export function isoFromMillis(ms: number): string {
  const days = Math.floor(ms / MS_PER_DAY);
  if (!Number.isInteger(ms) || days < FIRST_ISO_DAY || days > LAST_ISO_DAY) return new Date(ms).toISOString();
  let t = ms - days * MS_PER_DAY;
  const h = Math.floor(t / 3_600_000);
  t -= h * 3_600_000;
  const mi = Math.floor(t / 60_000);
  t -= mi * 60_000;
  const s = Math.floor(t / 1000);
  const milli = t - s * 1000;
  return `${isoDay(days)}T${TWO_DIGITS[h]}:${TWO_DIGITS[mi]}:${TWO_DIGITS[s]}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** `new Date(days * 86_400_000).toISOString().slice(0, 10)` without the Date. */
export function isoFromDays(days: number): string {
  if (!Number.isInteger(days) || days < FIRST_ISO_DAY || days > LAST_ISO_DAY) return new Date(days * MS_PER_DAY).toISOString().slice(0, 10);
  return isoDay(days);
}
