/**
 * The export's NDJSON fast path writes exactly the bytes of the reference
 * path (decode through the reader type, then `ndjsonLine`): every event type,
 * many variants (accents, ñ, emoji, quotes, backslashes, control characters,
 * missing optional fields, extreme numbers and dates), every header case; a
 * corrupt body is either declined or gives the same line (also when it is
 * read in place, followed by other bytes, as in a packed batch); an older writer
 * schema is left to the decoder, which still reads it.
 */
import avro from 'avsc';
import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, getContract, LOGICAL_TYPES, sampleEvent, type EventType } from '../../../contracts/index.ts';
import { BatchPacker, PackedCursor } from '../../../consumers/replay/batch-transfer.ts';
import { ndjsonLine, ndjsonPosition } from '../../../consumers/replay/export.ts';
import {
  avroIn,
  compileDataEncoder,
  encodeData,
  encoderFor,
  JsonOut,
  lineSchema,
  positionBytes,
  writeNdjsonLine,
  writeUtf8AsJson,
  type DataEncoder,
} from '../../../consumers/replay/ndjson-encoder.ts';
import { createDecoder, encodeWire, type RegistryClient } from '../../../registry/index.ts';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TRICKY_STRINGS = [
  '',
  'a',
  'José Ángel Núñez Pérez',
  'María José Cabrera Ñique',
  'emoji 😀 🇬🇹 𝄞 and € ₡',
  'quote " and \\ backslash \\" \\\\',
  'control \u0000\u0001\u0008\u0009\u000a\u000b\u000c\u000d\u001b\u001f end',
  '\u007f del and \u0080\u009f C1',
  'line separators \u2028 \u2029',
  'lone surrogates \ud800 x \udc00 \udbff\udfff ok',
  '\ufeffBOM first',
  'noncharacters \ufffe \uffff',
  'ｆｕｌｌｗｉｄｔｈ 漢字 عربى',
  '</script><script>alert(1)</script>',
  'x'.repeat(300) + 'ñ'.repeat(100),
  '1587564440904',
];
const INTS = [0, 1, -1, 9, 10, -10, 99, 100, 12345, 2147483647, -2147483648, 1e9 + 7];
const LONGS = [0, -1, 9007199254740990, -9007199254740990, 1e15 + 3, 4294967296];
const DOUBLES = [0, -0, 1, -1.5, 0.1, 14.6349, -90.5069, 1e21, 1e-7, 123456789.123, 1e308, -1.7976931348623157e308, 5e-324, NaN, Infinity, -Infinity];
/** Millisecond instants: epoch, today, year 0 and 9999, beyond (printed with six-digit years), negative. */
const INSTANTS = [0, -1, 1, Date.UTC(2026, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 1, 29), -62167219200000, -62167219200001, 253402300799999, 253402300800000, 8.64e15, -8.64e15, 951782400000];
const DAYS = [0, -1, 1, 20000, -719528, -719529, 2932896, 2932897, 100000000, -100000000];

type AnyType = avro.Type & { fields?: { name: string; type: AnyType }[]; types?: AnyType[]; itemsType?: AnyType; symbols?: string[] };

/** A random valid value of `t` (raw numbers for timestamps and dates), tricky where it can be. */
function randomValue(t: AnyType, rnd: () => number, depth = 0): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  switch (t.typeName) {
    case 'null':
      return null;
    case 'boolean':
      return rnd() < 0.5;
    case 'int':
      return rnd() < 0.7 ? pick(INTS) : Math.floor((rnd() - 0.5) * 2 ** 32) | 0;
    case 'long':
      return rnd() < 0.7 ? pick(LONGS) : Math.floor((rnd() - 0.5) * 2 ** 53);
    case 'double':
      return rnd() < 0.7 ? pick(DOUBLES) : (rnd() - 0.5) * 10 ** Math.floor(rnd() * 40 - 20);
    case 'string':
    case 'logical:uuid':
      return rnd() < 0.8 ? pick(TRICKY_STRINGS) : String.fromCodePoint(...Array.from({ length: Math.floor(rnd() * 20) }, () => Math.floor(rnd() * 0x11000)).filter((c) => c < 0xd800 || c > 0xdfff));
    case 'logical:timestamp-millis':
      return rnd() < 0.6 ? pick(INSTANTS) : Math.floor((rnd() - 0.5) * 2 * 8.64e15);
    case 'logical:date':
      return rnd() < 0.6 ? pick(DAYS) : Math.floor((rnd() - 0.5) * 2 * 1e8);
    case 'enum':
      return pick(t.symbols!);
    case 'array':
      return Array.from({ length: depth > 3 ? 0 : Math.floor(rnd() * 4) }, () => randomValue(t.itemsType!, rnd, depth + 1));
    case 'union:unwrapped': {
      const branches = t.types!;
      return randomValue(rnd() < 0.4 ? branches[0]! : pick(branches), rnd, depth);
    }
    case 'record': {
      const out: Record<string, unknown> = {};
      for (const f of t.fields!) out[f.name] = randomValue(f.type, rnd, depth + 1);
      return out;
    }
    default:
      throw new Error(`no generator for ${t.typeName}`);
  }
}

/** The reference: what the decoder yields (reader type, same schema), as JSON; undefined when it throws. */
function reference(type: avro.Type, body: Buffer): string | undefined {
  try {
    return JSON.stringify(type.fromBuffer(body));
  } catch {
    return undefined;
  }
}

/** The fast path's data JSON; undefined when it declines. */
function fast(encoder: DataEncoder, body: Buffer): string | undefined {
  const o = new JsonOut(16);
  const r = avroIn();
  r.src = body;
  r.p = 0;
  r.end = body.length;
  try {
    encodeData(encoder, r, o);
    return o.buf.toString('utf8', 0, o.pos);
  } catch {
    return undefined;
  }
}

/**
 * The same, with the body read in place inside a larger buffer (as the worker
 * reads it in a packed batch): `after` follows it, and must never be read as part of it.
 */
function fastInPlace(encoder: DataEncoder, body: Buffer, after: Buffer): string | undefined {
  const o = new JsonOut(16);
  const r = avroIn();
  r.src = Buffer.concat([Buffer.from([1, 2, 3]), body, after]);
  r.p = 3;
  r.end = 3 + body.length;
  try {
    encodeData(encoder, r, o);
    return o.buf.toString('utf8', 0, o.pos);
  } catch {
    return undefined;
  }
}

/** Bytes (not strings) are compared: the output file is bytes. */
function fastBytes(encoder: DataEncoder, body: Buffer): Buffer | undefined {
  const o = new JsonOut(16);
  const r = avroIn();
  r.src = body;
  r.p = 0;
  r.end = body.length;
  encodeData(encoder, r, o);
  return Buffer.from(o.buf.subarray(0, o.pos));
}

describe('NDJSON fast path: data', () => {
  it('compiles an encoder for every event type', () => {
    for (const type of EVENT_TYPES) expect(compileDataEncoder(getContract(type).avroType), type).toBeDefined();
  });

  it('writes the bytes JSON.stringify writes for the decoded data, over sample and random variants of every type', () => {
    const rnd = prng(7);
    let compared = 0;
    for (const type of EVENT_TYPES) {
      const t = getContract(type).avroType;
      const encoder = compileDataEncoder(t)!;
      const values: unknown[] = [sampleEvent(type)];
      for (let i = 0; i < 300; i++) values.push(randomValue(t as AnyType, rnd));
      // Sample events with every string swapped for a tricky one and every optional field missing.
      for (const s of TRICKY_STRINGS) {
        const base = sampleEvent(type) as unknown as Record<string, unknown>;
        values.push(Object.fromEntries(Object.entries(base).map(([k, v]) => [k, isPlainString(t, k) ? s : v])));
      }
      values.push(withoutOptionals(t as AnyType, sampleEvent(type)));
      for (const v of values) {
        let body: Buffer;
        try {
          body = t.toBuffer(v);
        } catch {
          continue; // a random value this type refuses to write (e.g. an instant Date cannot hold)
        }
        const want = reference(t, body);
        if (want === undefined) {
          // Decodable only in part (an instant beyond what Date prints): the fast path must decline too.
          expect(fast(encoder, body), type).toBeUndefined();
          continue;
        }
        expect(fastBytes(encoder, body)!.equals(Buffer.from(want, 'utf8')), `${type}: ${want}`).toBe(true);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(EVENT_TYPES.length * 250);
  });

  it('declines or matches on corrupt bodies (truncated, bit flips, trailing bytes), never writes what the decoder refuses', () => {
    const rnd = prng(11);
    let declined = 0;
    let matched = 0;
    for (const type of EVENT_TYPES) {
      const t = getContract(type).avroType;
      const encoder = compileDataEncoder(t)!;
      for (let i = 0; i < 300; i++) {
        const body = Buffer.from(t.toBuffer(i % 3 ? sampleEvent(type) : randomValue(t as AnyType, rnd)));
        const kind = i % 4;
        let bad: Buffer;
        if (kind === 0) bad = body.subarray(0, Math.floor(rnd() * body.length));
        else if (kind === 1) bad = Buffer.concat([body, Buffer.from([Math.floor(rnd() * 256)])]);
        else {
          bad = Buffer.from(body);
          for (let k = 0; k < 1 + kind; k++) bad[Math.floor(rnd() * bad.length)] = Math.floor(rnd() * 256);
        }
        const want = reference(t, bad);
        const got = fast(encoder, bad);
        // Read in place, followed by the rest of the good body (what a cut body would need) and noise: the same outcome.
        expect(fastInPlace(encoder, bad, Buffer.concat([body.subarray(bad.length), Buffer.from([0x80, 0x80, 7, 0x41])])), type).toBe(got);
        if (got === undefined) declined++;
        else {
          expect(got, type).toBe(want);
          matched++;
        }
      }
    }
    expect(declined).toBeGreaterThan(0);
    expect(matched).toBeGreaterThan(0);
  });

  it('copies well-formed UTF-8 and escapes or replaces anything else exactly as JSON.stringify(buffer.toString())', () => {
    const rnd = prng(3);
    const interesting = [0x00, 0x1f, 0x20, 0x22, 0x5c, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xa0, 0xed, 0x9f, 0xee, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff, 0x41];
    for (let i = 0; i < 20000; i++) {
      const len = Math.floor(rnd() * 8);
      const bytes = Buffer.from(Array.from({ length: len }, () => (rnd() < 0.6 ? interesting[Math.floor(rnd() * interesting.length)]! : Math.floor(rnd() * 256))));
      const o = new JsonOut(1);
      writeUtf8AsJson(o, bytes, 0, bytes.length);
      expect(o.buf.subarray(0, o.pos).toString('hex'), bytes.toString('hex')).toBe(Buffer.from(JSON.stringify(bytes.toString('utf8')), 'utf8').toString('hex'));
    }
  });
});

function isPlainString(t: avro.Type, field: string): boolean {
  const f = (t as AnyType).fields!.find((x) => x.name === field);
  return f?.type.typeName === 'string';
}

/** `value` with every nullable field set to null (nested records included). */
function withoutOptionals(t: AnyType, value: unknown): unknown {
  if (t.typeName === 'record' && value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const f of t.fields!) {
      const v = (value as Record<string, unknown>)[f.name];
      out[f.name] = f.type.typeName === 'union:unwrapped' && f.type.types![0]!.typeName === 'null' ? null : withoutOptionals(f.type, v);
    }
    return out;
  }
  return value;
}

describe('NDJSON fast path: lines', () => {
  const header = (s: string) => Buffer.from(s, 'utf8');
  /** Header sets as kafkajs hands them over. */
  const headerCases = (ev: Record<string, unknown>, type: string): (Record<string, unknown> | undefined)[] => [
    { ce_id: header(String(ev.eventId)), ce_source: header('sns.pgn'), ce_type: header(type), ce_time: header(String(ev.occurredAt)) },
    { ce_type: header(type) },
    {},
    undefined,
    { ce_id: header('id "quoted" \\ ñ 😀'), ce_source: header('fuente\u0001'), ce_subject: header('subject ñ'), traceparent: header('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01') },
    { ce_id: [header('first'), header('second')], ce_source: Buffer.from([0xc3, 0x28, 0xff]), traceparent: header('') },
    { ce_id: Buffer.alloc(0), ce_subject: header(''), traceparent: [header('tp')] },
    { ce_id: null, ce_source: 'not a buffer', traceparent: null },
  ];
  const keys = (ev: Record<string, unknown>): (Buffer | null)[] => [Buffer.from(String(ev.eventId).slice(0, 8)), null, Buffer.alloc(0), Buffer.from([0xe2, 0x82]), Buffer.from('llave "ñ"\n')];

  it('writes the bytes of the reference line for every type, header set and key', () => {
    const rnd = prng(5);
    const out = new JsonOut(64);
    const scratch = new JsonOut(8);
    const r = avroIn();
    const topic = 'sns.pgn.alba-keneth.v1';
    const position = ndjsonPosition(topic, 4);
    const positionFast = positionBytes(topic, 4);
    const packer = new BatchPacker();
    let lines = 0;
    for (const type of EVENT_TYPES) {
      const t = getContract(type).avroType;
      const encoder = compileDataEncoder(t)!;
      const ls = lineSchema(encoder, type, 'OWNER "ñ"', 42);
      for (let i = 0; i < 20; i++) {
        const ev = (i === 0 ? sampleEvent(type) : randomValue(t as AnyType, rnd)) as Record<string, unknown>;
        let value: Buffer;
        try {
          value = encodeWire(42, t.toBuffer(ev));
        } catch {
          continue;
        }
        let data: Record<string, unknown>;
        try {
          data = t.fromBuffer(value.subarray(5)) as Record<string, unknown>;
        } catch {
          continue;
        }
        for (const headers of headerCases(data, type)) {
          for (const key of keys(data)) {
            const m = { key, value, offset: String(1000 + i), timestamp: '1764259200000', headers, attributes: 0, size: 0 } as unknown as KafkaMessage;
            const iso = new Date(Number(m.timestamp)).toISOString();
            const want = Buffer.from(ndjsonLine(m, type as EventType, data, 42, 'OWNER "ñ"', position, iso), 'utf8');
            const start = out.pos;
            // The fast path reads the message as the worker gets it: packed, through a cursor.
            const packed = packer.pack([m]);
            const cursor = new PackedCursor(packed);
            cursor.next();
            writeNdjsonLine(out, scratch, r, cursor, ls, positionFast, iso);
            packer.recycle(packed.buffer);
            expect(out.buf.subarray(start, out.pos).toString(), type).toBe(want.toString());
            expect(out.buf.subarray(start, out.pos).equals(want)).toBe(true);
            lines++;
          }
        }
      }
    }
    expect(lines).toBeGreaterThan(EVENT_TYPES.length * 100);
  });
});

describe('NDJSON fast path: schema versions', () => {
  it('is used only for the reader schema itself; an older writer schema is left to the decoder, which reads it with defaults', async () => {
    const type: EventType = 'mingob.vehicle.recovered';
    const c = getContract(type);
    const reader = c.avroType;
    const current = c.schema as { fields: { name: string; default?: unknown }[] };
    // The "v1" writer: the current schema without its optional fields (they were added later, with defaults).
    const dropped = current.fields.filter((f) => f.default !== undefined).map((f) => f.name);
    expect(dropped.length).toBeGreaterThan(0);
    const v1 = { ...current, fields: current.fields.filter((f) => !dropped.includes(f.name)) };
    const writerV1 = avro.Type.forSchema(v1 as avro.Schema, { logicalTypes: LOGICAL_TYPES as never });
    const writerSame = avro.Type.forSchema(c.schema as avro.Schema, { logicalTypes: LOGICAL_TYPES as never });
    expect(encoderFor(reader, writerV1)).toBeUndefined();
    expect(encoderFor(reader, writerSame)).toBeDefined();

    const ev = sampleEvent(type) as unknown as Record<string, unknown>;
    const v1Value = Object.fromEntries(Object.entries(ev).filter(([k]) => !dropped.includes(k)));
    const registry: RegistryClient = {
      url: 'memory',
      resolveId: async () => 7,
      register: async () => ({ id: 7, version: 1 }),
      writerSchema: async (id) => (id === 7 ? v1 : c.schema),
    };
    const decoder = createDecoder({ registry, readerTypes: new Map([[c.subjectRecordName, reader]]), logicalTypes: LOGICAL_TYPES as never });
    const decoded = await decoder.decode<Record<string, unknown>>(encodeWire(7, writerV1.toBuffer(v1Value)));
    expect(decoded.data.eventId).toBe(ev.eventId);
    for (const f of dropped) expect(decoded.data[f], f).toEqual(current.fields.find((x) => x.name === f)!.default);
  });
});
