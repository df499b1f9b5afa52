import { describe, expect, it } from 'vitest';
import { checkCui, checkNit, loadCatalogs, normalizePlate } from '../../contracts/index.ts';

const counts = loadCatalogs().departments.municipalityCountByDepartment;

describe('checkCui', () => {
  it('accepts the DOMAIN.md examples', () => {
    expect(checkCui('1587564440904', counts)).toBeNull();
    expect(checkCui('1580352240101', counts)).toBeNull();
  });

  it('rejects a wrong check digit', () => {
    expect(checkCui('1680352240101', counts)).toBe('cui.checksum');
  });

  it('rejects 2415751810000 (place digits 00/00: no such department or municipality)', () => {
    expect(checkCui('2415751810000', counts)).toBe('cui.department');
    // Same serial and check digit in a real department, municipality 00.
    expect(checkCui('2415751810100', counts)).toBe('cui.municipality');
  });

  it('rejects every check digit when the remainder is 10', () => {
    // 5×2 = 10: sum mod 11 = 10, which no single digit can match.
    for (let d = 0; d <= 9; d++) expect(checkCui(`50000000${d}0101`, counts)).toBe('cui.checksum');
  });

  it('accepts Sipacate (05/14) and Petatán (13/33), rejects one past the last municipality', () => {
    // 10000000: sum 2, check digit 2.
    expect(checkCui('1000000020514', counts)).toBeNull();
    expect(checkCui('1000000021333', counts)).toBeNull();
    expect(checkCui('1000000020515', counts)).toBe('cui.municipality');
    expect(checkCui('1000000021334', counts)).toBe('cui.municipality');
  });

  it('rejects unknown departments and malformed input', () => {
    expect(checkCui('1000000022301', counts)).toBe('cui.department');
    expect(checkCui('1000000020001', counts)).toBe('cui.department');
    expect(checkCui('158756444090', counts)).toBe('cui.format');
    expect(checkCui('1587 56444 0904', counts)).toBe('cui.format');
    expect(checkCui('15875644409O4', counts)).toBe('cui.format');
  });
});

describe('checkNit', () => {
  it('accepts the DOMAIN.md examples', () => {
    expect(checkNit('576937-K')).toBeNull();
    expect(checkNit('576937k')).toBeNull();
    expect(checkNit('7108-0')).toBeNull();
    expect(checkNit('71080')).toBeNull();
  });

  it('rejects a wrong check character', () => {
    expect(checkNit('8977112-0')).toBe('nit.checksum');
  });

  it('rejects malformed NITs', () => {
    expect(checkNit('K')).toBe('nit.format');
    expect(checkNit('-0')).toBe('nit.format');
    expect(checkNit('12A4-5')).toBe('nit.format');
    expect(checkNit('123456789012-3')).toBe('nit.format');
    expect(checkNit('1234-X')).toBe('nit.format');
  });
});

describe('normalizePlate', () => {
  it('upper-cases and strips spaces and hyphens', () => {
    expect(normalizePlate('p-123abc')).toBe('P123ABC');
    expect(normalizePlate(' P 123 - ABC ')).toBe('P123ABC');
    expect(normalizePlate('P123ABC')).toBe('P123ABC');
  });
});
