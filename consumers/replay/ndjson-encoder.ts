/**
 * The NDJSON fast path of the export: Avro bodies turned straight into the
 * UTF-8 JSON text of their data, without building objects or strings.
 *
 * For a reader schema, `compileDataEncoder` generates (once) code that walks
 * the Avro bytes and appends exactly what `JSON.stringify(reader.fromBuffer(body))`
 * appends: fields in schema order, null unions as `null` or the branch, enums
 * as their symbol, `timestamp-millis` as the ISO-8601 string, `date` as
 * `YYYY-MM-DD` (what LOGICAL_TYPES decode to), numbers as JavaScript prints
 * them (non-finite doubles as `null`), strings as JSON.stringify escapes them.
 * Well-formed UTF-8 without characters JSON escapes is copied byte for byte;
 * any other string goes through `JSON.stringify(utf8Slice)`, as avsc would.
 *
 * It is only correct when the body was written with the reader schema itself
 * (the caller checks the writer schema once per schema id). Whatever it is not
 * sure about (a truncated or trailing body, an unsafe long, a bad enum or union
 * index, an out-of-range date) makes it throw: the caller then decodes that
 * message the usual way, which yields the same result or the same error as before.
 */
import avro from 'avsc';
import { LOGICAL_TYPES } from '../../contracts/index.ts';
import { civilFromDays, FIRST_ISO_DAY, LAST_ISO_DAY } from '../../contracts/time.ts';
import { FIELD, PackedCursor } from './batch-transfer.ts';

/** A growable output buffer of UTF-8 bytes. */
export class JsonOut {
  buf: Buffer;
  pos = 0;
  constructor(size: number) {
    // Never a slice of Node's shared pool: the export hands whole buffers to another thread.
    this.buf = Buffer.allocUnsafeSlow(size);
  }
  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }
  private grow(n: number): void {
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/** Where the Avro body is read from; the encoder also reports where the top-level `eventId` and `occurredAt` values went. */
export interface AvroIn {
  src: Buffer;
  p: number;
  end: number;
  /** Output range of the JSON value of the top-level `eventId` field. */
  idStart: number;
  idEnd: number;
  /** Output range of the JSON value of the top-level `occurredAt` field. */
  timeStart: number;
  timeEnd: number;
}

export function avroIn(): AvroIn {
  return { src: Buffer.alloc(0), p: 0, end: 0, idStart: 0, idEnd: 0, timeStart: 0, timeEnd: 0 };
}

/**
 * Writes the JSON text of the data of the body at `r.p` (up to `r.end`) to `o`;
 * throws when unsure. `head` writes the top-level fields up to `eventId` and
 * `occurredAt` (and reports where their values went), `tail` the rest: the
 * line writer puts the envelope, which needs them, in between.
 */
export interface DataEncoder {
  head(r: AvroIn, o: JsonOut): void;
  tail(r: AvroIn, o: JsonOut): void;
}

/** The whole data JSON of one body (head then tail). */
export function encodeData(e: DataEncoder, r: AvroIn, o: JsonOut): void {
  e.head(r, o);
  e.tail(r, o);
}

/** Thrown (one shared instance, no stack) when the fast path declines a body. */
const DECLINED = Object.freeze({ declined: true });

/** avsc's `Tap.readLong` (zig-zag varint, float arithmetic past 28 bits): the same bytes give the same number. */
function readLong(r: AvroIn): number {
  const buf = r.src;
  let n = 0;
  let k = 0;
  let b: number;
  let h: number;
  do {
    b = buf[r.p++]!;
    h = b & 0x80;
    n |= (b & 0x7f) << k;
    k += 7;
  } while (h && k < 28);
  if (h) {
    let f = n;
    let fk = 268435456;
    do {
      b = buf[r.p++]!;
      f += (b & 0x7f) * fk;
      fk *= 128;
    } while (b & 0x80);
    return (f % 2 ? -(f + 1) : f) / 2;
  }
  return (n >> 1) ^ -(n & 1);
}

/** A long as avsc's LongType reads it (it refuses what a double cannot hold exactly). */
function readSafeLong(r: AvroIn): number {
  const n = readLong(r);
  if (!(n >= -9007199254740990 && n <= 9007199254740990)) throw DECLINED;
  return n;
}

/** Appends constant bytes. */
function writeBytes(o: JsonOut, bytes: Uint8Array): void {
  const len = bytes.length;
  o.ensure(len);
  const b = o.buf;
  let q = o.pos;
  if (len > 24) {
    b.set(bytes, q);
    o.pos = q + len;
    return;
  }
  for (let i = 0; i < len; i++) b[q++] = bytes[i]!;
  o.pos = q;
}

/** Appends an ASCII string (digits, ISO timestamps, JSON numbers). */
export function writeAscii(o: JsonOut, s: string): void {
  const len = s.length;
  o.ensure(len);
  const b = o.buf;
  let q = o.pos;
  for (let i = 0; i < len; i++) b[q++] = s.charCodeAt(i);
  o.pos = q;
}

/** Appends `JSON.stringify(s)` as UTF-8. */
export function writeJsonString(o: JsonOut, s: string): void {
  const json = JSON.stringify(s);
  o.ensure(json.length * 3);
  o.pos += o.buf.write(json, o.pos, 'utf8');
}

/** Appends what JSON.stringify prints for a number. */
function writeNumber(o: JsonOut, n: number): void {
  o.ensure(32);
  if (Number.isSafeInteger(n)) {
    const b = o.buf;
    let q = o.pos;
    if (n < 0) {
      b[q++] = 45;
      n = -n;
    }
    if (n < 10) {
      b[q++] = 48 + n;
      o.pos = q;
      return;
    }
    let digits = 0;
    for (let m = n; m >= 1; m = Math.floor(m / 10)) digits++;
    let i = q + digits;
    o.pos = i;
    while (n >= 1) {
      const d = n % 10;
      b[--i] = 48 + d;
      n = (n - d) / 10;
    }
    return;
  }
  writeAscii(o, Number.isFinite(n) ? String(n) : 'null');
}

/**
 * Appends `JSON.stringify(src.toString('utf8', start, end))`: well-formed UTF-8 with
 * nothing to escape is copied as is, anything else goes through JSON.stringify.
 */
export function writeUtf8AsJson(o: JsonOut, src: Buffer, start: number, end: number): void {
  o.ensure(end - start + 2);
  const b = o.buf;
  let q = o.pos;
  b[q++] = 34;
  let p = start;
  while (p < end) {
    const c = src[p]!;
    if (c < 0x80) {
      if (c < 0x20 || c === 34 || c === 92) return writeJsonString(o, src.toString('utf8', start, end));
      b[q++] = c;
      p++;
    } else if (c >= 0xc2 && c <= 0xdf) {
      if (p + 1 >= end || (src[p + 1]! & 0xc0) !== 0x80) return writeJsonString(o, src.toString('utf8', start, end));
      b[q++] = c;
      b[q++] = src[p + 1]!;
      p += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (p + 2 >= end) return writeJsonString(o, src.toString('utf8', start, end));
      const c1 = src[p + 1]!;
      const c2 = src[p + 2]!;
      if (c1 < (c === 0xe0 ? 0xa0 : 0x80) || c1 > (c === 0xed ? 0x9f : 0xbf) || (c2 & 0xc0) !== 0x80) return writeJsonString(o, src.toString('utf8', start, end));
      b[q++] = c;
      b[q++] = c1;
      b[q++] = c2;
      p += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (p + 3 >= end) return writeJsonString(o, src.toString('utf8', start, end));
      const c1 = src[p + 1]!;
      const c2 = src[p + 2]!;
      const c3 = src[p + 3]!;
      if (c1 < (c === 0xf0 ? 0x90 : 0x80) || c1 > (c === 0xf4 ? 0x8f : 0xbf) || (c2 & 0xc0) !== 0x80 || (c3 & 0xc0) !== 0x80) {
        return writeJsonString(o, src.toString('utf8', start, end));
      }
      b[q++] = c;
      b[q++] = c1;
      b[q++] = c2;
      b[q++] = c3;
      p += 4;
    } else {
      return writeJsonString(o, src.toString('utf8', start, end));
    }
  }
  b[q++] = 34;
  o.pos = q;
}

/** An Avro string (or uuid) as JSON. */
function writeString(r: AvroIn, o: JsonOut): void {
  const len = readLong(r);
  const start = r.p;
  const end = start + len;
  if (len < 0 || end > r.end) throw DECLINED;
  r.p = end;
  writeUtf8AsJson(o, r.src, start, end);
}

function writeDouble(r: AvroIn, o: JsonOut): void {
  if (r.p + 8 > r.end) throw DECLINED;
  const v = r.src.readDoubleLE(r.p);
  r.p += 8;
  writeAscii(o, Number.isFinite(v) ? String(v) : 'null');
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

function writeBoolean(r: AvroIn, o: JsonOut): void {
  if (r.p >= r.end) throw DECLINED;
  writeBytes(o, r.src[r.p++] ? TRUE : FALSE);
}

const MS_PER_DAY = 86_400_000;

/** Writes `YYYY-MM-DD` of a day number (FIRST_ISO_DAY..LAST_ISO_DAY), as `toISOString` prints it. */
function writeDay(b: Buffer, q: number, days: number): void {
  const ymd = civilFromDays(days);
  const y = Math.floor(ymd / 10_000);
  const m = Math.floor(ymd / 100) % 100;
  const d = ymd % 100;
  b[q] = 48 + Math.floor(y / 1000);
  b[q + 1] = 48 + (Math.floor(y / 100) % 10);
  b[q + 2] = 48 + (Math.floor(y / 10) % 10);
  b[q + 3] = 48 + (y % 10);
  b[q + 4] = 45;
  b[q + 5] = 48 + Math.floor(m / 10);
  b[q + 6] = 48 + (m % 10);
  b[q + 7] = 45;
  b[q + 8] = 48 + Math.floor(d / 10);
  b[q + 9] = 48 + (d % 10);
}

function write2(b: Buffer, q: number, n: number): void {
  b[q] = 48 + Math.floor(n / 10);
  b[q + 1] = 48 + (n % 10);
}

/** `timestamp-millis` as LOGICAL_TYPES decodes it: `new Date(ms).toISOString()` (which throws out of range). */
function writeTimestamp(r: AvroIn, o: JsonOut): void {
  const ms = readSafeLong(r);
  const days = Math.floor(ms / MS_PER_DAY);
  if (days < FIRST_ISO_DAY || days > LAST_ISO_DAY) {
    const iso = new Date(ms).toISOString();
    o.ensure(iso.length + 2);
    o.buf[o.pos++] = 34;
    writeAscii(o, iso);
    o.buf[o.pos++] = 34;
    return;
  }
  o.ensure(26);
  const b = o.buf;
  const q = o.pos;
  let t = ms - days * MS_PER_DAY;
  b[q] = 34;
  writeDay(b, q + 1, days);
  b[q + 11] = 84;
  const h = Math.floor(t / 3_600_000);
  t -= h * 3_600_000;
  const min = Math.floor(t / 60_000);
  t -= min * 60_000;
  const sec = Math.floor(t / 1000);
  t -= sec * 1000;
  write2(b, q + 12, h);
  b[q + 14] = 58;
  write2(b, q + 15, min);
  b[q + 17] = 58;
  write2(b, q + 18, sec);
  b[q + 20] = 46;
  b[q + 21] = 48 + Math.floor(t / 100);
  write2(b, q + 22, t % 100);
  b[q + 24] = 90;
  b[q + 25] = 34;
  o.pos = q + 26;
}

/** `date` as LOGICAL_TYPES decodes it: the first 10 characters of `new Date(days * MS_PER_DAY).toISOString()`. */
function writeDate(r: AvroIn, o: JsonOut): void {
  const days = readLong(r);
  if (days < FIRST_ISO_DAY || days > LAST_ISO_DAY) {
    const day = new Date(days * MS_PER_DAY).toISOString().slice(0, 10);
    o.ensure(day.length + 2);
    o.buf[o.pos++] = 34;
    writeAscii(o, day);
    o.buf[o.pos++] = 34;
    return;
  }
  o.ensure(12);
  const b = o.buf;
  const q = o.pos;
  b[q] = 34;
  writeDay(b, q + 1, days);
  b[q + 11] = 34;
  o.pos = q + 12;
}

const HELPERS = { readLong, readSafeLong, writeBytes, writeNumber, writeString, writeDouble, writeBoolean, writeTimestamp, writeDate, DECLINED, NULL };

type AnyType = avro.Type & {
  fields?: { name: string; type: AnyType }[];
  types?: AnyType[];
  itemsType?: AnyType;
  symbols?: string[];
  underlyingType?: AnyType;
};

/**
 * Generates the data encoder of a reader record type; undefined when the type
 * uses something the generator does not handle (maps, fixed, bytes, floats,
 * other logical types, other unions) or lacks a top-level string `eventId` and
 * `timestamp-millis` `occurredAt` (the line's `id` and `time` come from them).
 */
export function compileDataEncoder(type: avro.Type): DataEncoder | undefined {
  const root = type as AnyType;
  if (root.typeName !== 'record' || !root.fields) return undefined;
  const eventId = root.fields.find((f) => f.name === 'eventId');
  const occurredAt = root.fields.find((f) => f.name === 'occurredAt');
  if (!eventId || !(eventId.type.typeName === 'string' || isLogical(eventId.type, 'uuid'))) return undefined;
  if (!occurredAt || !isLogical(occurredAt.type, 'timestamp-millis')) return undefined;

  const consts: Uint8Array[] = [];
  const constRef = (text: string): string => {
    consts.push(Buffer.from(text, 'utf8'));
    return `C[${consts.length - 1}]`;
  };
  /** Code appending constant text: short texts as inline byte stores. */
  const constCode = (text: string): string => {
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > 48) return `H.writeBytes(o, ${constRef(text)});`;
    return `{ o.ensure(${bytes.length}); const b = o.buf, q = o.pos; ${[...bytes].map((x, i) => `b[q + ${i}] = ${x};`).join(' ')} o.pos = q + ${bytes.length}; }`;
  };
  const symbolTables: Uint8Array[][] = [];
  const records = new Map<AnyType, string>();
  const functions: string[] = [];

  /** Code that reads one value of `t` and writes its JSON, or undefined when unsupported. */
  const valueCode = (t: AnyType): string | undefined => {
    switch (t.typeName) {
      case 'null':
        return constCode('null');
      case 'boolean':
        return `H.writeBoolean(r, o);`;
      case 'int':
        return `H.writeNumber(o, H.readLong(r));`;
      case 'long':
        return `H.writeNumber(o, H.readSafeLong(r));`;
      case 'double':
        return `H.writeDouble(r, o);`;
      case 'string':
        return `H.writeString(r, o);`;
      case 'enum': {
        symbolTables.push(t.symbols!.map((s) => Buffer.from(JSON.stringify(s), 'utf8')));
        return `{ const s = S[${symbolTables.length - 1}][H.readLong(r)]; if (s === undefined) throw H.DECLINED; H.writeBytes(o, s); }`;
      }
      case 'logical:timestamp-millis':
        return isLogical(t, 'timestamp-millis') && t.underlyingType?.typeName === 'long' ? `H.writeTimestamp(r, o);` : undefined;
      case 'logical:date':
        return isLogical(t, 'date') && t.underlyingType?.typeName === 'int' ? `H.writeDate(r, o);` : undefined;
      case 'logical:uuid':
        return isLogical(t, 'uuid') && t.underlyingType?.typeName === 'string' ? `H.writeString(r, o);` : undefined;
      case 'union:unwrapped': {
        const branches = (t.types ?? []).map((b) => valueCode(b));
        if (branches.some((b) => b === undefined)) return undefined;
        return `switch (H.readLong(r)) { ${branches.map((b, i) => `case ${i}: ${b} break;`).join(' ')} default: throw H.DECLINED; }`;
      }
      case 'array': {
        const item = valueCode(t.itemsType!);
        if (item === undefined) return undefined;
        // More items than bytes left only happens in a corrupt body (no item type here is empty): declined.
        return `{ let n, first = true; ${constCode('[')}
          while ((n = H.readLong(r))) {
            if (n < 0) { n = -n; H.readLong(r); }
            if (!(n <= r.end - r.p)) throw H.DECLINED;
            while (n--) { if (first) first = false; else ${constCode(',')} ${item} }
          }
          if (r.p > r.end) throw H.DECLINED;
          ${constCode(']')} }`;
      }
      case 'record': {
        let name = records.get(t);
        if (name === undefined) {
          name = `R${records.size}`;
          records.set(t, name);
          const body = fieldsCode(t, 0, (t.fields ?? []).length);
          if (body === undefined) return undefined;
          functions.push(`function ${name}(r, o) {\n${body}\n}`);
        }
        return `${name}(r, o);`;
      }
      default:
        return undefined;
    }
  };

  /** Code writing fields [from, to) of record `t` (with its braces when from is 0 or to is the end), or undefined. */
  const fieldsCode = (t: AnyType, from: number, to: number): string | undefined => {
    const fields = t.fields ?? [];
    let body = '';
    for (let i = from; i < to; i++) {
      const f = fields[i]!;
      const code = valueCode(f.type);
      if (code === undefined) return undefined;
      body += `${constCode(`${i === 0 ? '{' : ','}${JSON.stringify(f.name)}:`)}\n`;
      const capture = t === root && (f.name === 'eventId' || f.name === 'occurredAt') ? (f.name === 'eventId' ? 'id' : 'time') : '';
      body += capture ? `r.${capture}Start = o.pos; ${code} r.${capture}End = o.pos;\n` : `${code}\n`;
    }
    if (to === fields.length) body += fields.length ? constCode('}') : constCode('{}');
    return body;
  };

  const split = Math.max(root.fields.indexOf(eventId), root.fields.indexOf(occurredAt)) + 1;
  const head = fieldsCode(root, 0, split);
  const tail = fieldsCode(root, split, root.fields.length);
  if (head === undefined || tail === undefined) return undefined;
  const source = `${functions.join('\n')}\nreturn { head(r, o) { ${head} }, tail(r, o) { ${tail} if (r.p !== r.end) throw H.DECLINED; } };`;
  return new Function('H', 'C', 'S', source)(HELPERS, consts, symbolTables) as DataEncoder;
}

const compiled = new WeakMap<avro.Type, DataEncoder | null>();

/**
 * The data encoder for bodies written with `writer` and read as `reader`: only
 * when both are the same schema, logical types and attributes included (as the
 * shared decoder decides it); undefined otherwise (an older or other version
 * is resolved by the decoder). Compiled once per reader type.
 */
export function encoderFor(reader: avro.Type, writer: avro.Type): DataEncoder | undefined {
  if (JSON.stringify(reader.schema({ exportAttrs: true })) !== JSON.stringify(writer.schema({ exportAttrs: true }))) return undefined;
  let e = compiled.get(reader);
  if (e === undefined) compiled.set(reader, (e = compileDataEncoder(reader) ?? null));
  return e ?? undefined;
}

function isLogical(t: AnyType, name: keyof typeof LOGICAL_TYPES): boolean {
  return t.constructor === LOGICAL_TYPES[name];
}

/** True when the fast path declined (as opposed to a bug). */
export function isDeclined(err: unknown): boolean {
  return err === DECLINED;
}

/** What the line of a message written under one schema id needs besides the message. */
export interface LineSchema {
  /** The event type. */
  type: string;
  encode: DataEncoder;
  /** `,"type":"<type>","time":` */
  typeAndTime: Uint8Array;
  /** JSON of the default `source` (the type's owner), used when `ce_source` is absent. */
  source: Uint8Array;
  /** `","schemaid":<id>,"data":` (closes the kafkatimestamp string). */
  schemaTail: Uint8Array;
}

/** The constant parts of the lines of `type` written under `schemaId`. */
export function lineSchema(encode: DataEncoder, type: string, source: string, schemaId: number): LineSchema {
  return {
    type,
    encode,
    typeAndTime: Buffer.from(`,"type":${JSON.stringify(type)},"time":`, 'utf8'),
    source: Buffer.from(JSON.stringify(source), 'utf8'),
    schemaTail: Buffer.from(`","schemaid":${schemaId},"data":`, 'utf8'),
  };
}

/**
 * `,"datacontenttype":"application/json","kafkatopic":…,"kafkapartition":N,"kafkaoffset":"`,
 * the same for a whole batch (a line with a traceparent writes it between the two).
 */
export function positionBytes(topic: string, partition: number): Buffer {
  return Buffer.from(`,"datacontenttype":"application/json","kafkatopic":${JSON.stringify(topic)},"kafkapartition":${partition},"kafkaoffset":"`, 'utf8');
}

/** `JSON.stringify(String(header))` of a carried header of the current message, bytes copied when they can be. */
function writeHeader(o: JsonOut, c: PackedCursor, f: number): void {
  const len = c.len[f]!;
  if (len === PackedCursor.NULL) writeJsonString(o, 'null');
  else writeUtf8AsJson(o, c.buf, c.start[f]!, c.start[f]! + len);
}

const LINE_START = Buffer.from('{"specversion":"1.0","id":');
const SOURCE = Buffer.from(',"source":');
const SUBJECT = Buffer.from(',"subject":');
const CONTENT_TYPE = Buffer.from(',"datacontenttype":"application/json"');
const TRACEPARENT = Buffer.from(',"traceparent":');
/** `","kafkatimestamp":"<iso>` of the last timestamp (those of a batch are mostly equal). */
let lastIso = '';
let lastIsoBytes = Buffer.from('","kafkatimestamp":"');
const LINE_END = Buffer.from('}\n');

/**
 * Appends the NDJSON line of the cursor's current message (a Confluent-framed
 * body written with the reader schema of `s`) to `o`: the same bytes as the
 * export's reference line. `d` and `r` are scratch space. Throws when the
 * encoder declines the body: the caller then cuts `o` back to where the line
 * started. The body is read in place (`r.end` bounds it: every read past it
 * ends declined, whatever follows it in the packed batch).
 */
export function writeNdjsonLine(o: JsonOut, d: JsonOut, r: AvroIn, c: PackedCursor, s: LineSchema, position: Buffer, kafkaTimestampIso: string): void {
  const src = c.buf;
  r.src = src;
  r.p = c.start[FIELD.value]! + 5;
  r.end = c.start[FIELD.value]! + c.len[FIELD.value]!;
  d.pos = 0;
  s.encode.head(r, d);
  const data = d.buf;
  writeBytes(o, LINE_START);
  if (c.len[FIELD.id] === PackedCursor.ABSENT) copyRange(o, data, r.idStart, r.idEnd);
  else writeHeader(o, c, FIELD.id);
  writeBytes(o, SOURCE);
  if (c.len[FIELD.source] === PackedCursor.ABSENT) writeBytes(o, s.source);
  else writeHeader(o, c, FIELD.source);
  writeBytes(o, s.typeAndTime);
  copyRange(o, data, r.timeStart, r.timeEnd);
  // A key is written when present (an empty one too); a null key is not.
  if (c.len[FIELD.key]! >= 0) {
    writeBytes(o, SUBJECT);
    if (c.len[FIELD.subject] !== PackedCursor.ABSENT) writeHeader(o, c, FIELD.subject);
    else writeUtf8AsJson(o, src, c.start[FIELD.key]!, c.start[FIELD.key]! + c.len[FIELD.key]!);
  }
  // Written when `String(traceparent)` is not empty: a null one prints "null".
  const traceparent = c.len[FIELD.traceparent]!;
  if (traceparent > 0 || traceparent === PackedCursor.NULL) {
    writeBytes(o, CONTENT_TYPE);
    writeBytes(o, TRACEPARENT);
    writeHeader(o, c, FIELD.traceparent);
    writeBytes(o, position.subarray(CONTENT_TYPE.length));
  } else writeBytes(o, position);
  // Offsets are decimal digits (kafkajs prints a Long).
  if (c.len[FIELD.offset]! > 0) copyRange(o, src, c.start[FIELD.offset]!, c.start[FIELD.offset]! + c.len[FIELD.offset]!);
  if (kafkaTimestampIso !== lastIso) {
    lastIso = kafkaTimestampIso;
    lastIsoBytes = Buffer.from(`","kafkatimestamp":"${kafkaTimestampIso}`, 'latin1');
  }
  writeBytes(o, lastIsoBytes);
  writeBytes(o, s.schemaTail);
  copyRange(o, data, 0, d.pos);
  s.encode.tail(r, o);
  writeBytes(o, LINE_END);
}

function copyRange(o: JsonOut, src: Buffer, start: number, end: number): void {
  const len = end - start;
  o.ensure(len);
  if (len > 64) {
    o.buf.set(src.subarray(start, end), o.pos);
    o.pos += len;
    return;
  }
  const b = o.buf;
  let q = o.pos;
  for (let i = start; i < end; i++) b[q++] = src[i]!;
  o.pos = q;
}

/** Appends a string as UTF-8 (a line of the reference path). */
export function writeText(o: JsonOut, s: string): void {
  o.ensure(s.length * 3);
  o.pos += o.buf.write(s, o.pos, 'utf8');
}
