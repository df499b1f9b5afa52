/**
 * The data catalogs the rules check codes against (departments and
 * municipalities, border posts, incident types, ...). They are YAML files in
 * `schemas/catalogs/`, each with `source` and `asOf`, read once and turned into
 * Sets and Maps so a rule costs one lookup.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ConfigError, type Violation } from '../core/errors.ts';

/** Where the catalog files live by default. */
export const DEFAULT_CATALOGS_DIR = fileURLToPath(new URL('../schemas/catalogs/', import.meta.url));

/** Provenance every catalog file carries. */
export interface CatalogMeta {
  /** Where the data came from (and what is unconfirmed). */
  readonly source: string;
  /** Date the data was last checked, YYYY-MM-DD. */
  readonly asOf: string;
}

export interface Municipality {
  readonly code: string;
  readonly name: string;
  readonly note?: string;
}

export interface Department {
  readonly code: string;
  readonly name: string;
  readonly municipalities: readonly Municipality[];
}

export interface BorderPost {
  readonly code: string;
  readonly name: string;
  readonly kind: 'air' | 'sea' | 'land';
  /** ISO 3166 alpha-3 of the neighbouring country; null for air and sea posts. */
  readonly neighbour: string | null;
  readonly departmentCode: string;
  /** False when the name was not found in the cited sources. */
  readonly confirmed: boolean;
}

export interface CodeEntry {
  readonly code: string;
  readonly name: string;
  readonly rule?: string;
}

export interface PlatePattern {
  readonly prefix: string;
  readonly regex: string;
  readonly description: string;
  readonly confirmed: boolean;
}

/** A catalog: its rows, its provenance and a Set of its codes. */
export interface CodeCatalog<T extends { code: string }> extends CatalogMeta {
  readonly entries: readonly T[];
  readonly codes: ReadonlySet<string>;
}

/** Every catalog, loaded and indexed. */
export interface Catalogs {
  readonly departments: CodeCatalog<Department> & {
    /** Department code ("09") → its municipality codes ("01".."24"). */
    readonly municipalitiesByDepartment: ReadonlyMap<string, ReadonlySet<string>>;
    /** Department number (9) → number of municipalities (24), for the CUI check. */
    readonly municipalityCountByDepartment: ReadonlyMap<number, number>;
  };
  readonly borderPosts: CodeCatalog<BorderPost>;
  readonly incidentTypes: CodeCatalog<CodeEntry>;
  readonly deactivationReasons: CodeCatalog<CodeEntry>;
  readonly crimeTypes: CodeCatalog<CodeEntry>;
  readonly documentTypes: CodeCatalog<CodeEntry>;
  readonly travelReasons: CodeCatalog<CodeEntry>;
  readonly countries: CatalogMeta & { readonly codes: ReadonlySet<string> };
  readonly platePatterns: CatalogMeta & { readonly entries: readonly PlatePattern[] };
}

function readCatalog(
  dir: string,
  file: string,
  listKey: string,
  violations: Violation[],
): { meta: CatalogMeta; rows: unknown[] } {
  const path = join(dir, file);
  let doc: Record<string, unknown>;
  try {
    doc = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new ConfigError(`catalog ${path} cannot be read: ${(cause as Error).message}`);
  }
  for (const key of ['source', 'asOf']) {
    if (typeof doc?.[key] !== 'string' || doc[key] === '') {
      violations.push({ path: `/${file}/${key}`, message: 'must be a non-empty string', rule: 'catalog.meta' });
    }
  }
  const rows = doc?.[listKey];
  if (!Array.isArray(rows) || rows.length === 0) {
    violations.push({ path: `/${file}/${listKey}`, message: 'must be a non-empty list', rule: 'catalog.rows' });
  }
  return { meta: { source: String(doc?.source), asOf: String(doc?.asOf) }, rows: Array.isArray(rows) ? rows : [] };
}

function codeCatalog<T extends { code: string }>(
  dir: string,
  file: string,
  listKey: string,
  violations: Violation[],
): CodeCatalog<T> {
  const { meta, rows } = readCatalog(dir, file, listKey, violations);
  const codes = new Set<string>();
  rows.forEach((row, i) => {
    const code = (row as { code?: unknown }).code;
    if (typeof code !== 'string' || code === '') {
      violations.push({
        path: `/${file}/${listKey}/${i}/code`,
        message: 'must be a non-empty string',
        rule: 'catalog.code',
      });
    } else if (codes.has(code)) {
      violations.push({
        path: `/${file}/${listKey}/${i}/code`,
        message: `duplicate code ${code}`,
        rule: 'catalog.code',
      });
    } else {
      codes.add(code);
    }
  });
  return Object.freeze({ ...meta, entries: Object.freeze(rows as T[]), codes });
}

/**
 * Reads and indexes every catalog of `dir` (default `schemas/catalogs/`).
 * Throws `ConfigError` listing every problem when a file is malformed.
 */
export function loadCatalogs(dir: string = DEFAULT_CATALOGS_DIR): Catalogs {
  const violations: Violation[] = [];
  const departments = codeCatalog<Department>(dir, 'departments.yaml', 'departments', violations);
  const municipalitiesByDepartment = new Map<string, ReadonlySet<string>>();
  const municipalityCountByDepartment = new Map<number, number>();
  departments.entries.forEach((dept, i) => {
    const codes = new Set<string>();
    (dept.municipalities ?? []).forEach((m, j) => {
      const expected = String(j + 1).padStart(2, '0');
      if (m.code !== expected) {
        violations.push({
          path: `/departments.yaml/departments/${i}/municipalities/${j}/code`,
          message: `must be ${expected}: municipality codes run 01..N without gaps`,
          rule: 'catalog.code',
        });
      }
      codes.add(m.code);
    });
    municipalitiesByDepartment.set(dept.code, codes);
    municipalityCountByDepartment.set(Number(dept.code), codes.size);
  });

  const plates = readCatalog(dir, 'plate-patterns.yaml', 'platePatterns', violations);
  plates.rows.forEach((row, i) => {
    try {
      new RegExp((row as PlatePattern).regex);
    } catch {
      violations.push({
        path: `/plate-patterns.yaml/platePatterns/${i}/regex`,
        message: 'is not a valid regular expression',
        rule: 'catalog.regex',
      });
    }
  });
  const countries = readCatalog(dir, 'countries.yaml', 'countries', violations);

  const catalogs: Catalogs = {
    departments: Object.freeze({ ...departments, municipalitiesByDepartment, municipalityCountByDepartment }),
    borderPosts: codeCatalog<BorderPost>(dir, 'border-posts.yaml', 'borderPosts', violations),
    incidentTypes: codeCatalog<CodeEntry>(dir, 'incident-types.yaml', 'incidentTypes', violations),
    deactivationReasons: codeCatalog<CodeEntry>(dir, 'deactivation-reasons.yaml', 'deactivationReasons', violations),
    crimeTypes: codeCatalog<CodeEntry>(dir, 'crime-types.yaml', 'crimeTypes', violations),
    documentTypes: codeCatalog<CodeEntry>(dir, 'document-types.yaml', 'documentTypes', violations),
    travelReasons: codeCatalog<CodeEntry>(dir, 'travel-reasons.yaml', 'travelReasons', violations),
    countries: Object.freeze({ ...countries.meta, codes: new Set(countries.rows.map(String)) }),
    platePatterns: Object.freeze({ ...plates.meta, entries: Object.freeze(plates.rows as PlatePattern[]) }),
  };
  if (violations.length > 0) {
    throw new ConfigError(
      `catalogs in ${dir}: ${violations.length} violation(s): ` +
        violations.map((v) => `${v.path}: ${v.message}`).join('; '),
      violations,
    );
  }
  return Object.freeze(catalogs);
}
