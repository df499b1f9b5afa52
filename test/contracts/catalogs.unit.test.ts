import { mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isBusError } from '../../core/errors.ts';
import { DEFAULT_CATALOGS_DIR, loadCatalogs } from '../../contracts/index.ts';

const catalogs = loadCatalogs();

// An array, not an object: keys like '10' would be ordered before '01'.
const EXPECTED_COUNTS: [string, string, number][] = [
  ['01', 'Guatemala', 17],
  ['02', 'El Progreso', 8],
  ['03', 'Sacatepéquez', 16],
  ['04', 'Chimaltenango', 16],
  ['05', 'Escuintla', 14],
  ['06', 'Santa Rosa', 14],
  ['07', 'Sololá', 19],
  ['08', 'Totonicapán', 8],
  ['09', 'Quetzaltenango', 24],
  ['10', 'Suchitepéquez', 21],
  ['11', 'Retalhuleu', 9],
  ['12', 'San Marcos', 30],
  ['13', 'Huehuetenango', 33],
  ['14', 'Quiché', 21],
  ['15', 'Baja Verapaz', 8],
  ['16', 'Alta Verapaz', 17],
  ['17', 'Petén', 14],
  ['18', 'Izabal', 5],
  ['19', 'Zacapa', 11],
  ['20', 'Chiquimula', 11],
  ['21', 'Jalapa', 7],
  ['22', 'Jutiapa', 17],
];

describe('departments catalog', () => {
  it('has the 22 departments with the DOMAIN.md municipality counts, 340 in all', () => {
    const { entries } = catalogs.departments;
    expect(entries.map((d) => [d.code, d.name, d.municipalities.length])).toEqual(EXPECTED_COUNTS);
    expect(entries.reduce((sum, d) => sum + d.municipalities.length, 0)).toBe(340);
  });

  it('includes Sipacate (05/14) and Petatán (13/33)', () => {
    const muni = (d: string, m: string) =>
      catalogs.departments.entries.find((x) => x.code === d)?.municipalities.find((x) => x.code === m)?.name;
    expect(muni('05', '14')).toBe('Sipacate');
    expect(muni('13', '33')).toBe('Petatán');
  });
});

describe('border posts catalog', () => {
  it('has 22 posts: 3 air, 4 sea, 15 land (7 MEX, 4 SLV, 3 HND, 1 BLZ), in existing departments', () => {
    const posts = catalogs.borderPosts.entries;
    expect(posts).toHaveLength(22);
    const count = (f: (p: (typeof posts)[number]) => boolean) => posts.filter(f).length;
    expect(count((p) => p.kind === 'air')).toBe(3);
    expect(count((p) => p.kind === 'sea')).toBe(4);
    expect(count((p) => p.kind === 'land')).toBe(15);
    expect(count((p) => p.neighbour === 'MEX')).toBe(7);
    expect(count((p) => p.neighbour === 'SLV')).toBe(4);
    expect(count((p) => p.neighbour === 'HND')).toBe(3);
    expect(count((p) => p.neighbour === 'BLZ')).toBe(1);
    for (const p of posts) expect(catalogs.departments.codes.has(p.departmentCode)).toBe(true);
    for (const name of [
      'La Aurora',
      'Valle Nuevo',
      'Pedro de Alvarado',
      'San Cristóbal',
      'Anguiatú',
      'Tecún Umán',
      'Agua Caliente',
      'El Cinchado',
    ]) {
      expect(posts.some((p) => p.name.includes(name) && p.confirmed)).toBe(true);
    }
  });
});

describe('every catalog', () => {
  it('says where it came from and when', () => {
    for (const c of Object.values(catalogs)) {
      expect(c.source.length).toBeGreaterThan(10);
      expect(c.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });

  it('has the codes other rules rely on', () => {
    expect(catalogs.countries.codes.has('GTM')).toBe(true);
    expect(catalogs.countries.codes.size).toBeGreaterThanOrEqual(249);
    expect(catalogs.documentTypes.entries.find((d) => d.code === 'DPI')?.rule).toBe('cui');
    expect(catalogs.platePatterns.entries.filter((p) => p.confirmed).map((p) => p.prefix)).toEqual(['P', 'A']);
  });

  it('fails with a ConfigError naming the path when a file lacks its metadata', () => {
    const dir = mkdtempSync(join(tmpdir(), 'catalogs-'));
    cpSync(DEFAULT_CATALOGS_DIR, dir, { recursive: true });
    const file = join(dir, 'incident-types.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^asOf:.*$/m, ''));
    let error: unknown;
    try {
      loadCatalogs(dir);
    } catch (e) {
      error = e;
    }
    expect(isBusError(error, 'BUS_ERR_CONFIG')).toBe(true);
    expect((error as Error).message).toContain('/incident-types.yaml/asOf');
  });
});
