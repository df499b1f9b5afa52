/**
 * How a batch of Kafka messages crosses to the export's worker thread: the
 * parts of each message a line is made of (value, key, offset, timestamp and
 * the CloudEvents headers the lines read) are copied into one ArrayBuffer,
 * which is transferred, not cloned, and comes back to be reused once the
 * worker is done with it. Structured-cloning the kafkajs message objects cost
 * the main thread about as much as encoding them; this copy is a few small
 * memcpys per message, and no buffer is allocated per batch.
 *
 * Layout: u32 message count, then per message each field as an i32 length
 * (-1: absent, -2: null) and its bytes, in the order value, key, offset, timestamp,
 * then the headers of `CARRIED_HEADERS`. A repeated header carries its first
 * value, the only one the lines read.
 */
import type { KafkaMessage } from 'kafkajs';

/** The headers the export's lines read (export-lines.ts, ndjson-encoder.ts). */
export const CARRIED_HEADERS = ['ce_type', 'ce_id', 'ce_source', 'ce_subject', 'ce_time', 'traceparent'] as const;

const ABSENT = -1;
const NULL = -2;

type HeaderValue = Buffer | string | (Buffer | string)[] | null | undefined;

/** A header's first value as bytes (kafkajs gives Buffers; a string is encoded). */
function first(v: HeaderValue): Buffer | null | undefined {
  const x = Array.isArray(v) ? v[0] : v;
  return typeof x === 'string' ? Buffer.from(x, 'utf8') : x;
}

const sizeOf = (v: { length: number } | null | undefined): number => (v ? v.length : 0);

/** Writes one field (length, then bytes) at `q`; returns the position after it. */
function put(b: Buffer, q: number, v: Buffer | null | undefined): number {
  if (v === null || v === undefined) {
    b.writeInt32LE(v === null ? NULL : ABSENT, q);
    return q + 4;
  }
  const len = v.length;
  b.writeInt32LE(len, q);
  q += 4;
  // Small copies are cheaper in a loop than through the native copy.
  if (len > 32) b.set(v, q);
  else for (let i = 0; i < len; i++) b[q + i] = v[i]!;
  return q + len;
}

/** Writes an ASCII field (kafkajs prints offsets and timestamps as decimal digits). */
function putAscii(b: Buffer, q: number, s: string | undefined): number {
  if (s === undefined) {
    b.writeInt32LE(ABSENT, q);
    return q + 4;
  }
  const len = s.length;
  b.writeInt32LE(len, q);
  q += 4;
  for (let i = 0; i < len; i++) b[q + i] = s.charCodeAt(i);
  return q + len;
}

/** Buffers kept for reuse (a few per thread: as many as batches in flight). */
const MAX_FREE = 8;
const INITIAL_SIZE = 1024 * 1024;

/** A packed batch: the first `length` bytes of `buffer`. */
export interface PackedBatch {
  buffer: ArrayBuffer;
  length: number;
}

/** Packs message batches into transferable buffers, reusing the buffers given back. */
export class BatchPacker {
  private free: Buffer[] = [];

  /** The messages' line parts in a buffer of its own (transfer it; give it back with `recycle`). */
  pack(messages: readonly KafkaMessage[]): PackedBatch {
    // allocUnsafeSlow: an ArrayBuffer of its own (transferable), not zero-filled (what is read is written first).
    let b = this.free.pop() ?? Buffer.allocUnsafeSlow(INITIAL_SIZE);
    b.writeUInt32LE(messages.length, 0);
    let q = 4;
    for (const m of messages) {
      const h = m.headers as Record<string, HeaderValue> | undefined;
      const value = m.value;
      const key = m.key;
      // The headers CARRIED_HEADERS names, in its order (plain property reads: this runs per message).
      const type = h && first(h.ce_type);
      const id = h && first(h.ce_id);
      const source = h && first(h.ce_source);
      const subject = h && first(h.ce_subject);
      const time = h && first(h.ce_time);
      const trace = h && first(h.traceparent);
      const need = 40 + sizeOf(value) + sizeOf(key) + sizeOf(m.offset) + sizeOf(m.timestamp) + sizeOf(type) + sizeOf(id) + sizeOf(source) + sizeOf(subject) + sizeOf(time) + sizeOf(trace);
      if (q + need > b.length) {
        const next = Buffer.allocUnsafeSlow(Math.max(b.length * 2, q + need));
        b.copy(next, 0, 0, q);
        b = next;
      }
      q = put(b, q, value);
      q = put(b, q, key);
      q = putAscii(b, q, m.offset);
      q = putAscii(b, q, m.timestamp);
      q = put(b, q, type);
      q = put(b, q, id);
      q = put(b, q, source);
      q = put(b, q, subject);
      q = put(b, q, time);
      q = put(b, q, trace);
    }
    return { buffer: b.buffer as ArrayBuffer, length: q };
  }

  /** Takes back a buffer `pack` gave (once the worker has read it). */
  recycle(buffer: ArrayBuffer): void {
    if (this.free.length < MAX_FREE) this.free.push(Buffer.from(buffer));
  }
}

/** Where the headers start among the fields of a packed message (after value, key, offset and timestamp). */
const FIRST_HEADER = 4;

/** The fields of a packed message, in packing order: value, key, offset, timestamp, then `CARRIED_HEADERS`. */
export const FIELD = {
  value: 0,
  key: 1,
  offset: 2,
  timestamp: 3,
  type: FIRST_HEADER + CARRIED_HEADERS.indexOf('ce_type'),
  id: FIRST_HEADER + CARRIED_HEADERS.indexOf('ce_id'),
  source: FIRST_HEADER + CARRIED_HEADERS.indexOf('ce_source'),
  subject: FIRST_HEADER + CARRIED_HEADERS.indexOf('ce_subject'),
  time: FIRST_HEADER + CARRIED_HEADERS.indexOf('ce_time'),
  traceparent: FIRST_HEADER + CARRIED_HEADERS.indexOf('traceparent'),
} as const;
const FIELDS = FIRST_HEADER + CARRIED_HEADERS.length;

/**
 * Walks a packed batch message by message without allocating anything per
 * message: after `next()`, `start` and `len` give where each field (`FIELD`)
 * of the current message is in `buf` (a length of `ABSENT` or `NULL` when it
 * is absent or null; a repeated header: its first value). The NDJSON fast
 * path writes lines straight from these ranges; `message()` builds a
 * kafkajs-shaped message for the other paths. Building one object and ten
 * Buffer views per message cost the worker about a fifth of its time.
 */
export class PackedCursor {
  static readonly ABSENT = ABSENT;
  static readonly NULL = NULL;
  readonly buf: Buffer;
  readonly count: number;
  readonly start = new Int32Array(FIELDS);
  readonly len = new Int32Array(FIELDS);
  private p = 4;

  constructor(packed: PackedBatch) {
    this.buf = Buffer.from(packed.buffer, 0, packed.length);
    this.count = this.buf.readUInt32LE(0);
  }

  /** Moves to the next message (call it `count` times). */
  next(): void {
    const b = this.buf;
    let p = this.p;
    for (let f = 0; f < FIELDS; f++) {
      const len = b.readInt32LE(p);
      this.start[f] = p += 4;
      this.len[f] = len;
      if (len > 0) p += len;
    }
    this.p = p;
  }

  /** A field of the current message: a view of `buf`, null, or undefined when absent. */
  private field(f: number): Buffer | null | undefined {
    const len = this.len[f]!;
    return len === ABSENT ? undefined : len === NULL ? null : this.buf.subarray(this.start[f]!, this.start[f]! + len);
  }

  /** A field of the current message as latin1 text ('' when absent, null or empty). */
  private text(f: number): string {
    const len = this.len[f]!;
    return len > 0 ? this.buf.toString('latin1', this.start[f]!, this.start[f]! + len) : '';
  }

  /** The current message's timestamp as a number (what `Number(message.timestamp)` gives). */
  timestampMs(): number {
    const b = this.buf;
    const len = this.len[FIELD.timestamp]!;
    let i = this.start[FIELD.timestamp]!;
    const end = i + len;
    // Absent, null or empty: Number('') as before; beyond 15 digits the digit loop could round differently from Number(text).
    if (len <= 0) return 0;
    if (len > 15) return Number(this.text(FIELD.timestamp));
    const negative = b[i] === 45;
    // A lone '-' is not a number (Number('-') is NaN).
    if (negative && len === 1) return NaN;
    if (negative) i++;
    let n = 0;
    for (; i < end; i++) {
      const d = b[i]! - 48;
      if (d < 0 || d > 9) return Number(this.text(FIELD.timestamp));
      n = n * 10 + d;
    }
    return negative ? -n : n;
  }

  /** The current message as the export's lines read a kafkajs message (views of `buf`, no copies). */
  message(): KafkaMessage {
    const headers: Record<string, Buffer | null> = {};
    for (let h = 0; h < CARRIED_HEADERS.length; h++) {
      const v = this.field(FIRST_HEADER + h);
      if (v !== undefined) headers[CARRIED_HEADERS[h]!] = v;
    }
    return {
      key: this.field(FIELD.key) ?? null,
      value: this.field(FIELD.value) ?? null,
      offset: this.text(FIELD.offset),
      timestamp: this.text(FIELD.timestamp),
      headers,
      attributes: 0,
    } as unknown as KafkaMessage;
  }
}
