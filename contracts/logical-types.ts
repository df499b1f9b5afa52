/**
 * avsc logical types that keep the JSON side JSON-friendly: timestamps are
 * ISO-8601 strings (decoded as UTC `toISOString()`), dates are `YYYY-MM-DD`,
 * uuids are strings. Validation of the formats happens in the validator; these
 * types only convert.
 */
import avro from 'avsc';
import { isoFromDays, isoFromMillis, parseDate, parseTimestampMemo } from './time.ts';

const MS_PER_DAY = 86_400_000;

/** `timestamp-millis` ↔ ISO-8601 string (a Date or epoch millis are accepted on encode too). */
class TimestampMillisType extends avro.types.LogicalType {
  protected override _fromValue(val: number): string {
    return isoFromMillis(val);
  }
  protected override _toValue(val: unknown): unknown {
    if (typeof val === 'string') {
      const ms = parseTimestampMemo(val);
      return Number.isFinite(ms) ? ms : undefined;
    }
    if (val instanceof Date) return val.getTime();
    return val;
  }
  protected override _resolve(type: avro.Type): unknown {
    // avsc reads with the writer type and maps the value through this function: a
    // logical writer already yields the ISO string, a plain long writer the raw millis.
    if (avro.Type.isType(type, 'logical:timestamp-millis')) return (v: string) => v;
    if (avro.Type.isType(type, 'long')) return (v: number) => this._fromValue(v);
    return undefined;
  }
}

/** `date` ↔ `YYYY-MM-DD` string. */
class DateType extends avro.types.LogicalType {
  protected override _fromValue(val: number): string {
    return isoFromDays(val);
  }
  protected override _toValue(val: unknown): unknown {
    if (typeof val === 'string') {
      const days = parseDate(val);
      return Number.isNaN(days) ? undefined : days;
    }
    if (val instanceof Date) return Math.floor(val.getTime() / MS_PER_DAY);
    return val;
  }
  protected override _resolve(type: avro.Type): unknown {
    if (avro.Type.isType(type, 'logical:date')) return (v: string) => v;
    if (avro.Type.isType(type, 'int')) return (v: number) => this._fromValue(v);
    return undefined;
  }
}

/** `uuid` on a string: the value stays a string. */
class UuidType extends avro.types.LogicalType {
  protected override _fromValue(val: string): string {
    return val;
  }
  protected override _toValue(val: unknown): unknown {
    return val;
  }
  protected override _resolve(type: avro.Type): unknown {
    if (avro.Type.isType(type, 'string') || avro.Type.isType(type, 'logical:uuid')) {
      return (v: string) => v;
    }
    return undefined;
  }
}

/** The `logicalTypes` option for `avro.Type.forSchema`. */
export const LOGICAL_TYPES = {
  'timestamp-millis': TimestampMillisType,
  date: DateType,
  uuid: UuidType,
} as const;

/** Builds the avsc type of a self-contained schema with the JSON-friendly logical types. */
export function buildAvroType(schema: object): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { logicalTypes: LOGICAL_TYPES, assertLogicalTypes: false });
}
