/**
 * Compiles an event schema into one validation function, once, at load.
 *
 * The rules are declared on the schema, not coded per event: a field carries
 * `sns.rule` (cui, nit, plate, department, borderPost, …), `sns.maxLength`,
 * `sns.min` / `sns.max`, `sns.required` (optional sub-fields required here) or
 * `sns.plateEquals`; a record carries `sns.rule` (`location`, `person`) for
 * checks that span its fields. Paths are computed at compile time, so a valid
 * event costs type checks and Set lookups, and no string building.
 *
 * Messages never contain the offending value: it may be personal data.
 */
import type { Violation } from '../core/errors.ts';
import { ConfigError } from '../core/errors.ts';
import type { Catalogs } from './catalogs.ts';
import { checkCui, checkNit, normalizePlate, type CuiFailure } from './identifiers.ts';
import { NAKED_LOCAL_TIME, parseDate, parseTimestampMemo } from './time.ts';

/** Per-call state of one validation. */
export interface ValidationContext {
  readonly violations: Violation[];
  /** Now, epoch ms. */
  readonly nowMs: number;
  /** Timestamps after `nowMs + maxFutureSkewMs` are rejected. */
  readonly maxFutureSkewMs: number;
  /** The event being validated (for cross-field rules). */
  readonly root: Record<string, unknown>;
}

type Check = (value: unknown, ctx: ValidationContext, prefix: string) => void;
type Obj = Record<string, unknown>;

/** What the compiler needs besides the schema. */
export interface CompileOptions {
  readonly catalogs: Catalogs;
  /** Regular expressions a normalised plate must match one of. */
  readonly platePatterns: readonly RegExp[];
}

/** The compiled validator of one event type, plus where its plates are. */
export interface CompiledValidator {
  /** Validates `data`, pushing violations into `ctx.violations`. */
  readonly check: (data: unknown, ctx: ValidationContext) => void;
  /** Key paths of the fields holding plates (normalised by `normalizeEvent`). */
  readonly platePaths: readonly (readonly string[])[];
}

/** Bounding box of Guatemala (union of the EPSG extents), DOMAIN.md. */
export const GUATEMALA_BBOX = {
  minLatitude: 13.69,
  maxLatitude: 17.83,
  minLongitude: -92.29,
  maxLongitude: -88.19,
} as const;

/** Length bound of a string without its own `sns.maxLength`. */
export const DEFAULT_MAX_TEXT_LENGTH = 1000;

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;
const PHONE_RE = /^\+?[0-9][0-9 ()-]{5,24}$/;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

const CUI_MESSAGES: Record<CuiFailure, string> = {
  'cui.format': 'must be 13 digits',
  'cui.checksum': 'check digit does not match',
  'cui.department': 'department digits (10-11) are not a department code',
  'cui.municipality': 'municipality digits (12-13) are not a municipality of its department',
};

function push(ctx: ValidationContext, path: string, message: string, rule: string): void {
  ctx.violations.push({ path, message, rule });
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13 && c !== 0xa0) return false;
  }
  return true;
}

const isWellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: () => boolean }).isWellFormed === 'function'
    ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (s) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

/** `/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i` without a regular expression (hot path). */
export function isUuid(s: string): boolean {
  if (s.length !== 36) return false;
  for (let i = 0; i < 36; i++) {
    const c = s.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
    } else if (!((c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 102))) return false;
  }
  return true;
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** Compiles the self-contained `schema` of one event type. */
export function compileValidator(schema: Obj, options: CompileOptions): CompiledValidator {
  const { catalogs, platePatterns } = options;
  const named = new Map<string, Obj>();
  const platePaths: string[][] = [];

  const codeSet = (rule: string): { codes: ReadonlySet<string>; file: string } | undefined => {
    switch (rule) {
      case 'department':
        return { codes: catalogs.departments.codes, file: 'departments.yaml' };
      case 'borderPost':
        return { codes: catalogs.borderPosts.codes, file: 'border-posts.yaml' };
      case 'incidentType':
        return { codes: catalogs.incidentTypes.codes, file: 'incident-types.yaml' };
      case 'deactivationReason':
        return { codes: catalogs.deactivationReasons.codes, file: 'deactivation-reasons.yaml' };
      case 'crimeType':
        return { codes: catalogs.crimeTypes.codes, file: 'crime-types.yaml' };
      case 'documentType':
        return { codes: catalogs.documentTypes.codes, file: 'document-types.yaml' };
      case 'travelReason':
        return { codes: catalogs.travelReasons.codes, file: 'travel-reasons.yaml' };
      case 'country':
        return { codes: catalogs.countries.codes, file: 'countries.yaml' };
      default:
        return undefined;
    }
  };

  const compileStringRule = (
    rule: string | undefined,
    path: string,
    keys: string[],
  ): ((s: string, ctx: ValidationContext, prefix: string) => void) | undefined => {
    if (rule === undefined) return undefined;
    const catalog = codeSet(rule);
    if (catalog) {
      const ruleName = rule === 'department' ? 'department.unknown' : `catalog.${rule}`;
      const message = `is not a code of ${catalog.file}`;
      return (s, ctx, prefix) => {
        if (!catalog.codes.has(s)) push(ctx, prefix + path, message, ruleName);
      };
    }
    switch (rule) {
      case 'cui': {
        const counts = catalogs.departments.municipalityCountByDepartment;
        return (s, ctx, prefix) => {
          const failure = checkCui(s, counts);
          if (failure !== null) push(ctx, prefix + path, CUI_MESSAGES[failure], failure);
        };
      }
      case 'nit':
        return (s, ctx, prefix) => {
          const failure = checkNit(s);
          if (failure === 'nit.format')
            push(
              ctx,
              prefix + path,
              'must be 1-11 digits and a check character 0-9 or K, optionally after a hyphen',
              failure,
            );
          else if (failure === 'nit.checksum') push(ctx, prefix + path, 'check character does not match', failure);
        };
      case 'plate': {
        platePaths.push(keys);
        const message =
          'does not match any pattern of plate-patterns.yaml after normalisation (upper case, no spaces or hyphens)';
        return (s, ctx, prefix) => {
          const plate = normalizePlate(s);
          for (const re of platePatterns) if (re.test(plate)) return;
          push(ctx, prefix + path, message, 'plate.pattern');
        };
      }
      case 'id':
        return (s, ctx, prefix) => {
          if (!ID_RE.test(s))
            push(
              ctx,
              prefix + path,
              'must be 1-64 characters: letters, digits and . _ : / - (starting with a letter or digit)',
              'id.format',
            );
        };
      case 'url':
        return (s, ctx, prefix) => {
          let ok = false;
          if (s.startsWith('https://')) {
            try {
              new URL(s);
              ok = true;
            } catch {
              ok = false;
            }
          }
          if (!ok) push(ctx, prefix + path, 'must be an absolute https URL', 'url.format');
        };
      case 'phone':
        return (s, ctx, prefix) => {
          if (!PHONE_RE.test(s))
            push(
              ctx,
              prefix + path,
              'must be a phone number: digits, spaces, ( ) - and an optional leading +',
              'phone.format',
            );
        };
      default:
        throw new ConfigError(`schema field ${path}: unknown sns.rule "${rule}"`);
    }
  };

  const compileValue = (type: unknown, path: string, field: Obj, keys: string[]): Check => {
    if (typeof type === 'string') {
      switch (type) {
        case 'string': {
          const maxLength =
            typeof field['sns.maxLength'] === 'number' ? (field['sns.maxLength'] as number) : DEFAULT_MAX_TEXT_LENGTH;
          const rule = compileStringRule(field['sns.rule'] as string | undefined, path, keys);
          const tooLong = `must be at most ${maxLength} characters`;
          return (v, ctx, prefix) => {
            if (typeof v !== 'string') return push(ctx, prefix + path, `must be a string, not ${typeName(v)}`, 'type');
            if (v.length === 0 || isBlank(v)) return push(ctx, prefix + path, 'must not be empty', 'text.empty');
            if (v.length > maxLength) return push(ctx, prefix + path, tooLong, 'text.too-long');
            if (!isWellFormed(v))
              return push(ctx, prefix + path, 'must be well-formed Unicode (lone surrogate)', 'text.encoding');
            // PostgreSQL text cannot hold NUL, and no institution means one: reject it at the edge.
            if (v.includes('\u0000')) return push(ctx, prefix + path, 'must not contain NUL characters', 'text.nul');
            if (rule) rule(v, ctx, prefix);
          };
        }
        case 'boolean':
          return (v, ctx, prefix) => {
            if (typeof v !== 'boolean') push(ctx, prefix + path, `must be a boolean, not ${typeName(v)}`, 'type');
          };
        case 'int':
        case 'long': {
          const lo = Math.max(
            type === 'int' ? INT32_MIN : Number.MIN_SAFE_INTEGER,
            (field['sns.min'] as number | undefined) ?? -Infinity,
          );
          const hi = Math.min(
            type === 'int' ? INT32_MAX : Number.MAX_SAFE_INTEGER,
            (field['sns.max'] as number | undefined) ?? Infinity,
          );
          const range = `must be between ${lo} and ${hi}`;
          return (v, ctx, prefix) => {
            if (typeof v !== 'number' || !Number.isInteger(v))
              return push(ctx, prefix + path, `must be an integer, not ${typeName(v)}`, 'type');
            if (v < lo || v > hi) push(ctx, prefix + path, range, 'number.range');
          };
        }
        case 'float':
        case 'double': {
          const rule = field['sns.rule'] as string | undefined;
          let lo = (field['sns.min'] as number | undefined) ?? -Infinity;
          let hi = (field['sns.max'] as number | undefined) ?? Infinity;
          let ruleName = 'number.range';
          let message = `must be between ${lo} and ${hi}`;
          if (rule === 'latitude' || rule === 'longitude') {
            lo = rule === 'latitude' ? GUATEMALA_BBOX.minLatitude : GUATEMALA_BBOX.minLongitude;
            hi = rule === 'latitude' ? GUATEMALA_BBOX.maxLatitude : GUATEMALA_BBOX.maxLongitude;
            ruleName = 'coordinates.bbox';
            message = `must lie inside Guatemala's bounding box (${rule} ${lo} to ${hi})`;
          } else if (rule !== undefined) {
            throw new ConfigError(`schema field ${path}: unknown sns.rule "${rule}" for a number`);
          }
          return (v, ctx, prefix) => {
            if (typeof v !== 'number' || !Number.isFinite(v))
              return push(ctx, prefix + path, `must be a finite number, not ${typeName(v)}`, 'type');
            if (v < lo || v > hi) push(ctx, prefix + path, message, ruleName);
          };
        }
        case 'null':
          return (v, ctx, prefix) => {
            if (v !== null) push(ctx, prefix + path, 'must be null', 'type');
          };
        default: {
          const def = named.get(type);
          if (!def) throw new ConfigError(`schema field ${path}: unsupported or undefined type ${type}`);
          return compileValue(def, path, field, keys);
        }
      }
    }
    if (Array.isArray(type)) throw new ConfigError(`schema field ${path}: only ["null", T] unions are supported`);
    const t = type as Obj;
    if (t.type === 'record') return compileRecord(t, path, keys);
    if (t.type === 'enum') {
      named.set(fullName(t), t);
      const symbols = new Set(t.symbols as string[]);
      const message = `must be one of ${(t.symbols as string[]).join(', ')}`;
      return (v, ctx, prefix) => {
        if (typeof v !== 'string' || !symbols.has(v)) push(ctx, prefix + path, message, 'enum');
      };
    }
    if (t.type === 'array') {
      const item = compileValue(t.items, '', field, []);
      return (v, ctx, prefix) => {
        if (!Array.isArray(v)) return push(ctx, prefix + path, `must be an array, not ${typeName(v)}`, 'type');
        for (let i = 0; i < v.length; i++) item(v[i], ctx, `${prefix}${path}/${i}`);
      };
    }
    switch (t.logicalType) {
      case 'uuid':
        return (v, ctx, prefix) => {
          if (typeof v !== 'string' || !isUuid(v))
            push(ctx, prefix + path, 'must be a UUID string', 'uuid.format');
        };
      case 'timestamp-millis': {
        const allowFuture = field['sns.future'] === 'allowed';
        return (v, ctx, prefix) => {
          let ms: number;
          if (typeof v === 'string') ms = parseTimestampMemo(v);
          else if (v instanceof Date) ms = v.getTime();
          else return push(ctx, prefix + path, `must be an ISO-8601 timestamp string, not ${typeName(v)}`, 'type');
          if (ms === NAKED_LOCAL_TIME) {
            return push(
              ctx,
              prefix + path,
              'has no UTC offset: end it with Z or an offset such as -06:00 (a naked local time is ambiguous)',
              'timestamp.offset',
            );
          }
          if (Number.isNaN(ms))
            return push(
              ctx,
              prefix + path,
              'must be an ISO-8601 timestamp YYYY-MM-DDTHH:MM[:SS[.fff]] with Z or ±HH:MM',
              'timestamp.format',
            );
          if (!allowFuture && ms > ctx.nowMs + ctx.maxFutureSkewMs)
            push(ctx, prefix + path, 'is in the future beyond the allowed clock skew', 'timestamp.future');
        };
      }
      case 'date':
        return (v, ctx, prefix) => {
          if (typeof v !== 'string')
            return push(ctx, prefix + path, `must be a date string YYYY-MM-DD, not ${typeName(v)}`, 'type');
          const days = parseDate(v);
          if (Number.isNaN(days))
            return push(ctx, prefix + path, 'must be a calendar date YYYY-MM-DD from 1900 on', 'date.format');
          if (days * 86_400_000 > ctx.nowMs + ctx.maxFutureSkewMs)
            push(ctx, prefix + path, 'is in the future', 'date.future');
        };
      default:
        if (t.logicalType !== undefined)
          throw new ConfigError(`schema field ${path}: unsupported logicalType ${String(t.logicalType)}`);
        return compileValue(t.type, path, field, keys);
    }
  };

  /** A field's check; `plain` when it has no sub-field or cross-field rule (its record inlines it). */
  type FieldCheck = ((obj: Obj, ctx: ValidationContext, prefix: string) => number) & {
    plain?: { name: string; path: string; nullable: boolean; hasDefault: boolean; inner: Check };
  };

  const compileField = (f: Obj, recordPath: string, recordKeys: string[]): FieldCheck => {
    const name = f.name as string;
    const path = `${recordPath}/${escapePointer(name)}`;
    const keys = [...recordKeys, name];
    let type = f.type;
    let nullable = false;
    if (Array.isArray(type)) {
      const branches = type.filter((b) => b !== 'null');
      if (branches.length !== 1 || type.length !== 2)
        throw new ConfigError(`schema field ${path}: only ["null", T] unions are supported`);
      nullable = true;
      type = branches[0];
    }
    const hasDefault = 'default' in f;
    const inner = compileValue(type, path, f, keys);
    const required = (f['sns.required'] as string[] | undefined) ?? [];
    const requiredPaths = required.map((r) => `${path}/${r}`);
    const plateEquals = f['sns.plateEquals'] as string | undefined;
    const equalsKeys = plateEquals?.split('/').filter(Boolean);
    const nullMessage = `must not be null`;
    // Returns 1 when the field is present (not undefined), for the record's unknown-field count.
    const check: FieldCheck = (obj, ctx, prefix) => {
      const v = obj[name];
      if (v === undefined) {
        if (!hasDefault) push(ctx, prefix + path, 'is required', 'required');
        return 0;
      }
      if (v === null) {
        if (!nullable) push(ctx, prefix + path, nullMessage, 'type');
        return 1;
      }
      const before = ctx.violations.length;
      inner(v, ctx, prefix);
      if (ctx.violations.length !== before || typeof v !== 'object') return 1;
      for (let i = 0; i < required.length; i++) {
        const sub = (v as Obj)[required[i]!];
        if (sub === undefined || sub === null) push(ctx, prefix + requiredPaths[i]!, 'is required here', 'required');
      }
      if (equalsKeys) {
        let other: unknown = ctx.root;
        for (const k of equalsKeys) other = (other as Obj | undefined)?.[k];
        const mine = (v as Obj).plate;
        if (typeof other === 'string' && typeof mine === 'string' && normalizePlate(other) !== normalizePlate(mine)) {
          push(ctx, `${prefix}${path}/plate`, `must equal ${plateEquals}`, 'plate.mismatch');
        }
      }
      return 1;
    };
    if (required.length === 0 && !equalsKeys) check.plain = { name, path, nullable, hasDefault, inner };
    return check;
  };

  const compileRecordRule = (
    rule: string | undefined,
    path: string,
  ): ((obj: Obj, ctx: ValidationContext, prefix: string) => void) | undefined => {
    if (rule === undefined) return undefined;
    if (rule === 'location') {
      const byDept = catalogs.departments.municipalitiesByDepartment;
      return (obj, ctx, prefix) => {
        const dept = obj.departmentCode;
        const muni = obj.municipalityCode;
        if (typeof dept === 'string' && typeof muni === 'string') {
          const munis = byDept.get(dept);
          if (munis !== undefined && !munis.has(muni)) {
            push(
              ctx,
              `${prefix}${path}/municipalityCode`,
              'is not a municipality of the department in departments.yaml',
              'municipality.unknown',
            );
          }
        }
        const lat = obj.latitude ?? null;
        const lon = obj.longitude ?? null;
        if ((lat === null) !== (lon === null)) {
          push(
            ctx,
            `${prefix}${path}/${lat === null ? 'latitude' : 'longitude'}`,
            'latitude and longitude must be given together',
            'coordinates.pair',
          );
        }
      };
    }
    if (rule === 'person') {
      const counts = catalogs.departments.municipalityCountByDepartment;
      const cuiDocuments = new Set(catalogs.documentTypes.entries.filter((d) => d.rule === 'cui').map((d) => d.code));
      return (obj, ctx, prefix) => {
        const type = obj.documentType ?? null;
        const number = obj.documentNumber ?? null;
        if ((type === null) !== (number === null)) {
          push(
            ctx,
            `${prefix}${path}/${type === null ? 'documentType' : 'documentNumber'}`,
            'documentType and documentNumber must be given together',
            'document.pair',
          );
        } else if (typeof type === 'string' && typeof number === 'string' && cuiDocuments.has(type)) {
          const failure = checkCui(number, counts);
          if (failure !== null) push(ctx, `${prefix}${path}/documentNumber`, CUI_MESSAGES[failure], failure);
        }
      };
    }
    throw new ConfigError(`schema record ${path || '/'}: unknown sns.rule "${rule}"`);
  };

  /**
   * Runs a record's field checks and returns how many fields are present, as
   * generated code (one call site per field, so V8 can inline each check; a
   * loop over an array of checks is megamorphic). Plain fields are inlined with
   * the same messages, rules and order as their FieldCheck; names and paths
   * enter the code only as JSON string literals.
   */
  function compileFieldChecks(fields: FieldCheck[]): (obj: Obj, ctx: ValidationContext, prefix: string) => number {
    const params: string[] = ['push'];
    const values: unknown[] = [push];
    let body = 'return function (obj, ctx, prefix) {\n  let known = 0;\n  let v;\n';
    fields.forEach((f, i) => {
      params.push(`c${i}`);
      const plain = f.plain;
      if (!plain) {
        values.push(f);
        body += `  known += c${i}(obj, ctx, prefix);\n`;
        return;
      }
      values.push(plain.inner);
      const at = JSON.stringify(plain.path);
      body += `  v = obj[${JSON.stringify(plain.name)}];\n`;
      body += `  if (v === undefined) {${plain.hasDefault ? '' : ` push(ctx, prefix + ${at}, 'is required', 'required');`} }\n`;
      body += `  else { known++; if (v === null) {${plain.nullable ? '' : ` push(ctx, prefix + ${at}, 'must not be null', 'type');`} } else c${i}(v, ctx, prefix); }\n`;
    });
    body += '  return known;\n};';
    return new Function(...params, body)(...values) as (obj: Obj, ctx: ValidationContext, prefix: string) => number;
  }

  function compileRecord(def: Obj, path: string, keys: string[]): Check {
    const name = fullName(def);
    named.set(name, def);
    const fieldDefs = def.fields as Obj[];
    const fields = fieldDefs.map((f) => compileField(f, path, keys));
    const countFields = compileFieldChecks(fields);
    const fieldNameList = fieldDefs.map((f) => f.name as string);
    const fieldNames = new Set(fieldNameList);
    const recordRule = compileRecordRule(def['sns.rule'] as string | undefined, path);
    const shortName = name.slice(name.lastIndexOf('.') + 1);
    const unknownMessage = `is not a field of ${shortName}`;
    return (v, ctx, prefix) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        return push(ctx, prefix + path, `must be an object (${shortName}), not ${typeName(v)}`, 'type');
      }
      const obj = v as Obj;
      const known = countFields(obj, ctx, prefix);
      // Every enumerable key, inherited ones too, without allocating: it is never
      // fewer than `known`, and equal only when every key is a field with a value,
      // i.e. when there is no unknown own key to report.
      let enumerable = 0;
      for (const k in obj) if (k !== undefined) enumerable++;
      if (enumerable !== known) {
        // Own keys only: avsc's decoded records carry enumerable prototype methods.
        const keys = Object.keys(obj);
        if (keys.length !== known) {
          for (const k of keys) {
            if (obj[k] !== undefined && !fieldNames.has(k))
              push(ctx, `${prefix}${path}/${escapePointer(k)}`, unknownMessage, 'unknown-field');
          }
        }
      }
      if (recordRule) recordRule(obj, ctx, prefix);
    };
  }

  const check = compileRecord(schema, '', []);
  return {
    check: (data, ctx) => check(data, ctx, ''),
    platePaths,
  };
}

function fullName(def: Obj): string {
  const name = String(def.name);
  return name.includes('.') || def.namespace === undefined ? name : `${String(def.namespace)}.${name}`;
}
