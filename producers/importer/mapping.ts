/**
 * Mapping files (YAML): which column fills which event field, with what type
 * and how dates are written. Operators write them, so their errors are in
 * Spanish and name the offending path.
 *
 * ```yaml
 * eventType: mingob.vehicle.reported-stolen
 * dateFormat: dd/mm/yyyy        # default; also dd-mm-yyyy, yyyy-mm-dd, mm/dd/yyyy
 * timeZone: "-06:00"            # offset given to naked local times
 * fields:
 *   plate: placa                # a column name
 *   vehicle.model: { column: modelo, type: integer }
 *   stolenAt: { column: fecha_robo, type: timestamp }   # "31/12/2025 22:10"
 *   location.departmentCode: { column: depto, pad: 2 }
 *   location.village: { constant: null }
 * ```
 * An empty cell leaves its field out (so optional fields take their default).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type Violation } from '../../core/index.ts';

export type FieldType = 'string' | 'integer' | 'number' | 'boolean' | 'date' | 'timestamp';
const FIELD_TYPES: readonly FieldType[] = ['string', 'integer', 'number', 'boolean', 'date', 'timestamp'];
const DATE_FORMATS = ['dd/mm/yyyy', 'dd-mm-yyyy', 'dd.mm.yyyy', 'yyyy-mm-dd', 'mm/dd/yyyy'] as const;
export type DateFormat = (typeof DATE_FORMATS)[number];

export interface FieldSpec {
  /** Dotted path in the event data. */
  readonly path: string;
  readonly column?: string;
  readonly constant?: unknown;
  readonly type: FieldType;
  readonly format: DateFormat;
  /** Left-pad with zeros to this width (department and municipality codes). */
  readonly pad?: number;
  readonly upper: boolean;
}

export interface Mapping {
  readonly eventType?: string;
  readonly delimiter?: string;
  readonly timeZone: string;
  readonly fields: readonly FieldSpec[];
}

const SPEC_KEYS = new Set(['column', 'constant', 'type', 'format', 'pad', 'upper']);

/** Parses and validates a mapping; throws BUS_ERR_CONFIG listing every problem (in Spanish). */
export function parseMapping(text: string, source = 'mapeo'): Mapping {
  const violations: Violation[] = [];
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${source}: no es YAML válido: ${(err as Error).message}`);
  }
  const root = (doc ?? {}) as Record<string, unknown>;
  if (typeof root !== 'object' || Array.isArray(root)) throw new ConfigError(`${source}: debe ser un objeto YAML`);
  const dateFormat = (root.dateFormat ?? 'dd/mm/yyyy') as DateFormat;
  if (!DATE_FORMATS.includes(dateFormat)) violations.push({ path: '/dateFormat', message: `debe ser uno de ${DATE_FORMATS.join(', ')}` });
  const timeZone = String(root.timeZone ?? '-06:00');
  if (!/^(Z|[+-]\d{2}:\d{2})$/.test(timeZone)) violations.push({ path: '/timeZone', message: 'debe ser un desfase como "-06:00" o "Z"' });
  if (root.delimiter !== undefined && (typeof root.delimiter !== 'string' || [...root.delimiter].length !== 1)) {
    violations.push({ path: '/delimiter', message: 'debe ser un solo carácter, p. ej. ";"' });
  }
  if (root.eventType !== undefined && typeof root.eventType !== 'string') violations.push({ path: '/eventType', message: 'debe ser texto' });
  const fields: FieldSpec[] = [];
  const rawFields = root.fields;
  if (!rawFields || typeof rawFields !== 'object' || Array.isArray(rawFields)) {
    violations.push({ path: '/fields', message: 'debe ser un objeto campo → columna' });
  } else {
    for (const [path, raw] of Object.entries(rawFields as Record<string, unknown>)) {
      const at = `/fields/${path}`;
      if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(path)) violations.push({ path: at, message: 'no es una ruta de campo (p. ej. location.departmentCode)' });
      if (path === 'eventId') {
        violations.push({ path: at, message: 'eventId lo deriva el importador del archivo y la fila; no se mapea' });
        continue;
      }
      const spec = typeof raw === 'string' ? { column: raw } : (raw as Record<string, unknown>);
      if (!spec || typeof spec !== 'object' || Array.isArray(spec)) {
        violations.push({ path: at, message: 'debe ser un nombre de columna o un objeto { column, type, … }' });
        continue;
      }
      for (const k of Object.keys(spec)) if (!SPEC_KEYS.has(k)) violations.push({ path: `${at}/${k}`, message: `clave desconocida; use ${[...SPEC_KEYS].join(', ')}` });
      const hasColumn = typeof spec.column === 'string' && spec.column.length > 0;
      const hasConstant = 'constant' in spec;
      if (hasColumn === hasConstant) violations.push({ path: at, message: 'indique column o constant (solo uno)' });
      const type = (spec.type ?? 'string') as FieldType;
      if (!FIELD_TYPES.includes(type)) violations.push({ path: `${at}/type`, message: `debe ser uno de ${FIELD_TYPES.join(', ')}` });
      const format = (spec.format ?? dateFormat) as DateFormat;
      if (!DATE_FORMATS.includes(format)) violations.push({ path: `${at}/format`, message: `debe ser uno de ${DATE_FORMATS.join(', ')}` });
      if (spec.pad !== undefined && (!Number.isInteger(spec.pad) || (spec.pad as number) < 1)) violations.push({ path: `${at}/pad`, message: 'debe ser un entero ≥ 1' });
      fields.push({
        path,
        column: hasColumn ? (spec.column as string) : undefined,
        constant: spec.constant,
        type,
        format,
        pad: spec.pad as number | undefined,
        upper: spec.upper === true,
      });
    }
  }
  if (violations.length) {
    throw new ConfigError(`${source}: ${violations.length} error(es): ${violations.map((v) => `${v.path}: ${v.message}`).join('; ')}`, violations);
  }
  return Object.freeze({
    eventType: root.eventType as string | undefined,
    delimiter: root.delimiter as string | undefined,
    timeZone,
    fields: Object.freeze(fields),
  });
}

/** Reads and validates a mapping file. */
export function loadMapping(file: string): Mapping {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`no se puede leer el archivo de mapeo ${file}`);
  }
  return parseMapping(text, file);
}

/** One cell that could not be converted, in Spanish. */
export interface CellProblem {
  readonly path: string;
  readonly column: string;
  readonly reason: string;
}

const DATE_PARTS: Record<DateFormat, { re: RegExp; order: [number, number, number] }> = {
  'dd/mm/yyyy': { re: /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/, order: [3, 2, 1] },
  'dd-mm-yyyy': { re: /^(\d{1,2})-(\d{1,2})-(\d{4})$/, order: [3, 2, 1] },
  'dd.mm.yyyy': { re: /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/, order: [3, 2, 1] },
  'yyyy-mm-dd': { re: /^(\d{4})-(\d{1,2})-(\d{1,2})$/, order: [1, 2, 3] },
  'mm/dd/yyyy': { re: /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/, order: [3, 1, 2] },
};

/** `YYYY-MM-DD` of a cell in `format`, or undefined when it is not a calendar date. */
function parseDateCell(cell: string, format: DateFormat): string | undefined {
  const m = DATE_PARTS[format].re.exec(cell);
  if (!m) return undefined;
  const [yi, mi, di] = DATE_PARTS[format].order;
  const y = Number(m[yi]);
  const mo = Number(m[mi]);
  const d = Number(m[di]);
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return undefined;
  return `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

function convert(cell: string, spec: FieldSpec, timeZone: string): { value: unknown } | { reason: string } {
  switch (spec.type) {
    case 'string': {
      let v = spec.pad && /^\d+$/.test(cell) ? cell.padStart(spec.pad, '0') : cell;
      if (spec.upper) v = v.toUpperCase();
      return { value: v };
    }
    case 'integer':
      return /^[+-]?\d+$/.test(cell) && Number.isSafeInteger(Number(cell)) ? { value: Number(cell) } : { reason: `«${cell}» no es un número entero` };
    case 'number': {
      const normalised = cell.includes('.') ? cell : cell.replace(',', '.');
      const n = Number(normalised);
      return /^[+-]?\d+(\.\d+)?$/.test(normalised) && Number.isFinite(n) ? { value: n } : { reason: `«${cell}» no es un número` };
    }
    case 'boolean': {
      const v = cell.toLowerCase();
      if (['si', 'sí', 's', 'true', '1', 'x'].includes(v)) return { value: true };
      if (['no', 'n', 'false', '0'].includes(v)) return { value: false };
      return { reason: `«${cell}» no es sí/no` };
    }
    case 'date': {
      const d = parseDateCell(cell, spec.format);
      return d ? { value: d } : { reason: `«${cell}» no es una fecha válida con formato ${spec.format}` };
    }
    case 'timestamp': {
      // ISO-8601 with an explicit offset passes through unchanged.
      if (/^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:\d{2})$/.test(cell)) return { value: cell };
      const [datePart = '', timePart, ...rest] = cell.split(/\s+/);
      const d = parseDateCell(datePart, spec.format);
      const t = timePart === undefined ? [0, 0, 0] : /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(timePart)?.slice(1).map((x) => Number(x ?? 0));
      if (!d || !t || rest.length > 0 || t[0]! > 23 || t[1]! > 59 || t[2]! > 59) {
        return { reason: `«${cell}» no es una fecha y hora válida con formato ${spec.format} [HH:mm[:ss]]` };
      }
      const hh = t.map((n) => String(n).padStart(2, '0')).join(':');
      return { value: `${d}T${hh}${timeZone === 'Z' ? 'Z' : timeZone}` };
    }
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let obj = target;
  for (const p of parts.slice(0, -1)) {
    const next = obj[p];
    if (next === undefined || next === null || typeof next !== 'object') obj[p] = {};
    obj = obj[p] as Record<string, unknown>;
  }
  obj[parts.at(-1)!] = value;
}

/**
 * Builds the event data of one row (without eventId). Cells that cannot be
 * converted are reported, all of them, not just the first.
 */
export function applyMapping(mapping: Mapping, columnIndex: ReadonlyMap<string, number>, row: readonly string[]): { data: Record<string, unknown>; problems: CellProblem[] } {
  const data: Record<string, unknown> = {};
  const problems: CellProblem[] = [];
  for (const spec of mapping.fields) {
    if (spec.column === undefined) {
      setPath(data, spec.path, spec.constant);
      continue;
    }
    const cell = (row[columnIndex.get(spec.column)!] ?? '').trim();
    if (cell === '') continue;
    const r = convert(cell, spec, mapping.timeZone);
    if ('reason' in r) problems.push({ path: spec.path, column: spec.column, reason: r.reason });
    else setPath(data, spec.path, r.value);
  }
  return { data, problems };
}

/** Columns the mapping reads that the header lacks. */
export function missingColumns(mapping: Mapping, header: readonly string[]): string[] {
  const have = new Set(header);
  return [...new Set(mapping.fields.flatMap((f) => (f.column !== undefined && !have.has(f.column) ? [f.column] : [])))];
}
