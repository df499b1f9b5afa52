/**
 * Guatemalan identifier checks (CUI/DPI, NIT) and plate normalisation. Pure
 * functions without allocation on the hot path; they return the name of the
 * failed rule (or null) so callers build messages without echoing the value.
 */

/** Why a CUI fails, or null when it is valid. */
export type CuiFailure = 'cui.format' | 'cui.checksum' | 'cui.department' | 'cui.municipality';

const ZERO = 48;

/**
 * Checks a CUI (13 digits: 8 serial, 1 check digit, 2 department, 2
 * municipality). The check digit is `sum(d[i] * (i + 2)) mod 11` over the
 * first 8 digits; a remainder of 10 can never match, so such CUIs are invalid.
 * `municipalityCountByDepartment` comes from the 340-municipality catalog.
 */
export function checkCui(cui: string, municipalityCountByDepartment: ReadonlyMap<number, number>): CuiFailure | null {
  if (cui.length !== 13) return 'cui.format';
  let sum = 0;
  for (let i = 0; i < 13; i++) {
    const d = cui.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return 'cui.format';
    if (i < 8) sum += d * (i + 2);
  }
  // Place before checksum, as stdnum-js does: 2415751810000 reports municipality 00.
  const dept = (cui.charCodeAt(9) - ZERO) * 10 + (cui.charCodeAt(10) - ZERO);
  const count = municipalityCountByDepartment.get(dept);
  if (count === undefined) return 'cui.department';
  const muni = (cui.charCodeAt(11) - ZERO) * 10 + (cui.charCodeAt(12) - ZERO);
  if (muni < 1 || muni > count) return 'cui.municipality';
  if (sum % 11 !== cui.charCodeAt(8) - ZERO) return 'cui.checksum';
  return null;
}

/** Why a NIT fails, or null when it is valid. */
export type NitFailure = 'nit.format' | 'nit.checksum';

/**
 * Checks a NIT: 2–12 characters (digits, then a check character 0–9 or K,
 * optionally after a hyphen). Weights run from the right starting at 2 over
 * the body; `r = (11 - sum mod 11) mod 11`, and r = 10 is written K.
 */
export function checkNit(nit: string): NitFailure | null {
  const end = nit.length - 1;
  if (end < 1) return 'nit.format';
  const checkCode = nit.charCodeAt(end);
  let bodyEnd = end - 1;
  if (nit.charCodeAt(bodyEnd) === 45 /* - */) bodyEnd--;
  const bodyLength = bodyEnd + 1;
  if (bodyLength < 1 || bodyLength > 11) return 'nit.format';
  let sum = 0;
  for (let i = bodyEnd, weight = 2; i >= 0; i--, weight++) {
    const d = nit.charCodeAt(i) - ZERO;
    if (d < 0 || d > 9) return 'nit.format';
    sum += d * weight;
  }
  let check: number;
  if (checkCode === 75 /* K */ || checkCode === 107 /* k */) check = 10;
  else {
    check = checkCode - ZERO;
    if (check < 0 || check > 9) return 'nit.format';
  }
  return (11 - (sum % 11)) % 11 === check ? null : 'nit.checksum';
}

const PLATE_SEPARATORS = /[\s-]+/g;

/** Normalises a SAT plate: upper case, spaces and hyphens removed (`p-123 abc` → `P123ABC`). */
export function normalizePlate(plate: string): string {
  return plate.replace(PLATE_SEPARATORS, '').toUpperCase();
}
