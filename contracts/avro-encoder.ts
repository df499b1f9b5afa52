/**
 * A compiled Avro binary encoder for the SDK's hot path: one closure per
 * schema node, built once from the avsc type, writing straight into the
 * caller's buffer (no Tap object, one pass over ASCII strings instead of
 * `Buffer.byteLength` plus a copy loop). The bytes are avsc's, byte for byte
 * (tests compare them on every event type); any value it does not expect
 * (wrong type, unknown symbol, a missing field without default, …) makes the
 * whole record go through avsc's own `encode`, so errors and edge cases stay
 * exactly avsc's.
 */
import type avro from 'avsc';
import { parseDate, parseTimestampMemo } from './time.ts';

/** Same contract as avsc's `Type#encode`: the end position, or minus the missing bytes. */
export interface Encoder {
  encode(val: unknown, buf: Buffer, pos?: number): number;
}

/** Writes `v` at `pos` and returns the position after it (possibly past the buffer: nothing is written there). */
type Write = (v: unknown, buf: Buffer, pos: number) => number;

/** Thrown (never escapes `encode`) when a value needs avsc's own handling. */
const FALLBACK: unknown = Object.freeze({ fallback: true });

class Unsupported extends Error {}

const MS_PER_DAY = 86_400_000;

/** avsc's `Tap#writeLong` (zig-zag varint; float arithmetic beyond ±2^30). */
function writeLong(buf: Buffer, pos: number, n: number): number {
  if (n >= -1073741824 && n < 1073741824) {
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 0x7f) {
      buf[pos++] = (m & 0x7f) | 0x80;
      m >>>= 7;
    }
    buf[pos++] = m;
    return pos;
  }
  let f = n >= 0 ? n * 2 : -n * 2 - 1;
  while (f >= 128) {
    buf[pos++] = (f % 128) | 0x80;
    f = Math.floor(f / 128);
  }
  buf[pos++] = f;
  return pos;
}

type Utf8Writable = { utf8Write(s: string, offset: number, length?: number): number };

/** Bytes of the varint of a non-negative zig-zagged `m`. */
function varintBytes(m: number): number {
  let n = 1;
  while (m >= 128) {
    m = Math.floor(m / 128);
    n++;
  }
  return n;
}

/** avsc's `Tap#writeString`: UTF-8 length then bytes (its own loop up to 64 bytes, `utf8Write` beyond). */
function writeString(s: string, buf: Buffer, pos: number): number {
  const n = s.length;
  if (n < 64) {
    // ASCII: the length is one byte and each char code is its byte.
    const start = pos + 1;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      buf[start + i] = c;
    }
    if (i === n) {
      buf[pos] = n << 1;
      return start + n;
    }
  }
  if (n >= 64) {
    // Reserve the length's varint for the most bytes the string can take (3 per
    // UTF-16 unit), write the bytes, then the length; shift the bytes back in the
    // rare case the real length needs fewer varint bytes. Buffer.byteLength
    // would cost about as much as writing.
    const reserve = varintBytes(2 * 3 * n);
    if (pos + reserve + 3 * n <= buf.length) {
      const written = (buf as unknown as Utf8Writable).utf8Write(s, pos + reserve);
      const actual = varintBytes(2 * written);
      if (actual !== reserve) buf.copyWithin(pos + actual, pos + reserve, pos + reserve + written);
      writeLong(buf, pos, written);
      return pos + actual + written;
    }
  }
  const len = Buffer.byteLength(s);
  pos = writeLong(buf, pos, len);
  const end = pos + len;
  if (end > buf.length) return end;
  if (len > 64) {
    (buf as unknown as Utf8Writable).utf8Write(s, pos, len);
    return end;
  }
  // avsc's loop (it writes lone surrogates as three bytes, where utf8Write would write U+FFFD).
  for (let i = 0; i < n; i++) {
    let c1 = s.charCodeAt(i);
    let c2: number;
    if (c1 < 0x80) buf[pos++] = c1;
    else if (c1 < 0x800) {
      buf[pos++] = (c1 >> 6) | 0xc0;
      buf[pos++] = (c1 & 0x3f) | 0x80;
    } else if ((c1 & 0xfc00) === 0xd800 && ((c2 = s.charCodeAt(i + 1)) & 0xfc00) === 0xdc00) {
      c1 = 0x10000 + ((c1 & 0x03ff) << 10) + (c2 & 0x03ff);
      i++;
      buf[pos++] = (c1 >> 18) | 0xf0;
      buf[pos++] = ((c1 >> 12) & 0x3f) | 0x80;
      buf[pos++] = ((c1 >> 6) & 0x3f) | 0x80;
      buf[pos++] = (c1 & 0x3f) | 0x80;
    } else {
      buf[pos++] = (c1 >> 12) | 0xe0;
      buf[pos++] = ((c1 >> 6) & 0x3f) | 0x80;
      buf[pos++] = (c1 & 0x3f) | 0x80;
    }
  }
  return end;
}

function isSafeLong(n: number): boolean {
  return n >= -9007199254740991 && n <= 9007199254740991;
}

const writeStringValue: Write = (v, buf, pos) => {
  if (typeof v !== 'string') throw FALLBACK;
  return writeString(v, buf, pos);
};
const writeIntValue: Write = (v, buf, pos) => {
  if (v !== ((v as number) | 0)) throw FALLBACK;
  return writeLong(buf, pos, v as number);
};
const writeLongValue: Write = (v, buf, pos) => {
  if (typeof v !== 'number' || v % 1 !== 0 || !isSafeLong(v)) throw FALLBACK;
  return writeLong(buf, pos, v);
};

function compile(type: avro.Type, seen: Set<avro.Type>): Write {
  const t = type as unknown as Record<string, unknown> & { typeName: string };
  switch (t.typeName) {
    case 'null':
      return (v, _buf, pos) => {
        if (v !== null) throw FALLBACK;
        return pos;
      };
    case 'boolean':
      return (v, buf, pos) => {
        if (typeof v !== 'boolean') throw FALLBACK;
        buf[pos] = v ? 1 : 0;
        return pos + 1;
      };
    case 'int':
      return writeIntValue;
    case 'long':
      return writeLongValue;
    case 'float':
      return (v, buf, pos) => {
        if (typeof v !== 'number') throw FALLBACK;
        if (pos + 4 <= buf.length) buf.writeFloatLE(v, pos);
        return pos + 4;
      };
    case 'double':
      return (v, buf, pos) => {
        if (typeof v !== 'number') throw FALLBACK;
        if (pos + 8 <= buf.length) buf.writeDoubleLE(v, pos);
        return pos + 8;
      };
    case 'string':
      return writeStringValue;
    case 'enum': {
      const indices = new Map((t.symbols as string[]).map((s, i) => [s, i]));
      return (v, buf, pos) => {
        const i = indices.get(v as string);
        if (i === undefined) throw FALLBACK;
        return writeLong(buf, pos, i);
      };
    }
    case 'array': {
      const item = compile(t.itemsType as avro.Type, seen);
      return (v, buf, pos) => {
        if (!Array.isArray(v)) throw FALLBACK;
        const n = v.length;
        if (n) {
          pos = writeLong(buf, pos, n);
          for (let i = 0; i < n; i++) pos = item(v[i], buf, pos);
        }
        buf[pos] = 0;
        return pos + 1;
      };
    }
    case 'union:unwrapped': {
      const branches = t.types as avro.Type[];
      const nullIndex = branches.findIndex((b) => b.typeName === 'null');
      if (branches.length !== 2 || nullIndex < 0) throw new Unsupported(`union of ${branches.length}`);
      const otherIndex = 1 - nullIndex;
      const other = compile(branches[otherIndex]!, seen);
      return (v, buf, pos) => {
        if (v === null) {
          buf[pos] = nullIndex << 1;
          return pos + 1;
        }
        buf[pos] = otherIndex << 1;
        return other(v, buf, pos + 1);
      };
    }
    case 'record':
      return compileRecord(type, seen);
    case 'logical:timestamp-millis':
      if ((t.underlyingType as avro.Type).typeName !== 'long') throw new Unsupported('timestamp-millis not on a long');
      return (v, buf, pos) => {
        let ms: number;
        if (typeof v === 'string') {
          ms = parseTimestampMemo(v);
          if (!Number.isFinite(ms)) throw FALLBACK;
        } else if (v instanceof Date) ms = v.getTime();
        else ms = v as number;
        return writeLongValue(ms, buf, pos);
      };
    case 'logical:date':
      if ((t.underlyingType as avro.Type).typeName !== 'int') throw new Unsupported('date not on an int');
      return (v, buf, pos) => {
        let days: number;
        if (typeof v === 'string') days = parseDate(v);
        else if (v instanceof Date) days = Math.floor(v.getTime() / MS_PER_DAY);
        else days = v as number;
        return writeIntValue(days, buf, pos);
      };
    case 'logical:uuid':
      if ((t.underlyingType as avro.Type).typeName !== 'string') throw new Unsupported('uuid not on a string');
      return writeStringValue;
    default:
      throw new Unsupported(t.typeName);
  }
}

/**
 * A record's writer is generated code (as avsc's own is): one call site per
 * field, each always calling the same writer, so V8 can inline them; a shared
 * loop over an array of writers would make every call megamorphic. Field names
 * enter the code only as JSON string literals.
 */
function compileRecord(type: avro.Type, seen: Set<avro.Type>): Write {
  if (seen.has(type)) throw new Unsupported('recursive record');
  seen.add(type);
  const fields = (type as unknown as { fields: { name: string; type: avro.Type; defaultValue(): unknown }[] }).fields;
  const params: string[] = ['F'];
  const values: unknown[] = [FALLBACK];
  let body = 'return function (v, buf, pos) {\n  if (typeof v !== "object" || v === null) throw F;\n  let x;\n';
  fields.forEach((f, i) => {
    let write = `pos = w${i}(x, buf, pos);`;
    const branches = f.type.typeName === 'union:unwrapped' ? (f.type as unknown as { types: avro.Type[] }).types : undefined;
    const nullIndex = branches?.findIndex((b) => b.typeName === 'null') ?? -1;
    if (branches && branches.length === 2 && nullIndex >= 0) {
      // ["null", T] inline: the branch index is one byte (0 or 2).
      params.push(`w${i}`);
      values.push(compile(branches[1 - nullIndex]!, seen));
      write = `if (x === null) buf[pos++] = ${nullIndex << 1}; else { buf[pos++] = ${(1 - nullIndex) << 1}; pos = w${i}(x, buf, pos); }`;
    } else {
      params.push(`w${i}`);
      values.push(compile(f.type, seen));
    }
    const d = f.defaultValue();
    body += `  x = v[${JSON.stringify(f.name)}];\n`;
    if (d === undefined) body += `  if (x === undefined) throw F;\n  ${write}\n`;
    else {
      // avsc writes a missing field's default as its pre-encoded bytes (a few bytes: a loop beats Buffer#copy).
      params.push(`d${i}`);
      values.push(f.type.toBuffer(d));
      body += `  if (x === undefined) { for (let j = 0; j < d${i}.length; j++) buf[pos + j] = d${i}[j]; pos += d${i}.length; }\n  else { ${write} }\n`;
    }
  });
  body += '  return pos;\n};';
  seen.delete(type);
  return new Function(...params, body)(...values) as Write;
}

/**
 * The compiled encoder of an avsc type, or the type itself when its schema
 * uses something the compiler does not handle (other unions, maps, bytes,
 * fixed, other logical types): callers always get an `Encoder`.
 */
export function compileEncoder(type: avro.Type): Encoder {
  let write: Write;
  try {
    write = compile(type, new Set());
  } catch (err) {
    if (err instanceof Unsupported) return type;
    throw err;
  }
  return {
    encode(val, buf, pos = 0) {
      let end: number;
      try {
        end = write(val, buf, pos);
      } catch (err) {
        if (err === FALLBACK) return type.encode(val, buf, pos);
        throw err;
      }
      return end > buf.length ? buf.length - end : end;
    },
  };
}
