/**
 * One batch of built messages packed into one ArrayBuffer, so it crosses to
 * the send worker as a transfer (no structured clone of thousands of
 * objects), and unpacked there into kafkajs messages: string keys and header
 * values, values as subarrays of the transferred buffer (no copy).
 *
 * Layout (little-endian):
 *
 *     u32 count, u32 tablesOffset
 *     count × message:
 *       u16 topic index, u32 partition, str key, u32 value length, value bytes,
 *       u8 header count, per header: u16 name index, u8 mode, [str value when mode 0]
 *     tables (at tablesOffset): u16 topic count, short str × topics, u16 name count, short str × names
 *
 * `str` is a u32 byte length and UTF-8 bytes; a short str a u16 length.
 * Header mode 0 carries the value; 1 repeats the previous message's value of
 * the same header (ce_specversion, ce_source, ce_type, content-type); 2 is the
 * message's key (ce_subject by default). Names, topics and repeated values
 * are decoded once per batch instead of once per message: the worker's thread
 * is the busy one.
 */
import type { Outgoing, OutgoingMessage } from './sender.ts';

const MODE_LITERAL = 0;
const MODE_REPEAT = 1;
const MODE_KEY = 2;

/** The packed batch: transfer `buffer`; its first `length` bytes are the batch. */
export interface PackedBatch {
  buffer: ArrayBuffer;
  length: number;
}

/** Bytes per message of the last batch: the next buffer is sized from it (+25%), so growing is rare. */
let bytesPerMessage = 256;

export function packBatch(batch: readonly Outgoing[]): PackedBatch {
  let buf = Buffer.allocUnsafeSlow(1024 + Math.ceil(batch.length * bytesPerMessage * 1.25));
  let o = 8;
  const topicIndex = new Map<string, number>();
  const nameIndex = new Map<string, number>();
  const previous: (string | undefined)[] = [];

  /** Makes room for `n` more bytes (doubling; the new buffer is owned, never pooled). */
  function room(n: number): void {
    if (o + n <= buf.length) return;
    let size = buf.length * 2;
    while (size < o + n) size *= 2;
    const bigger = Buffer.allocUnsafeSlow(size);
    buf.copy(bigger, 0, 0, o);
    buf = bigger;
  }
  function u16(v: number): void {
    buf[o++] = v;
    buf[o++] = v >>> 8;
  }
  function u32At(at: number, v: number): void {
    buf[at] = v;
    buf[at + 1] = v >>> 8;
    buf[at + 2] = v >>> 16;
    buf[at + 3] = v >>> 24;
  }
  /** A u32-length UTF-8 string; the caller made room for 4 + 3 × length bytes. */
  function str(s: string): void {
    const n = buf.write(s, o + 4);
    u32At(o, n);
    o += 4 + n;
  }

  for (const { topic, message: m } of batch) {
    let t = topicIndex.get(topic);
    if (t === undefined) topicIndex.set(topic, (t = topicIndex.size));
    const key = m.key;
    const value = m.value;
    room(15 + 3 * key.length + value.length);
    u16(t);
    u32At(o, m.partition);
    o += 4;
    str(key);
    u32At(o, value.length);
    o += 4;
    value.copy(buf, o);
    o += value.length;
    const countAt = o++;
    let count = 0;
    const headers = m.headers;
    for (const name in headers) {
      const v = headers[name]!;
      let i = nameIndex.get(name);
      if (i === undefined) nameIndex.set(name, (i = nameIndex.size));
      room(7 + 3 * v.length);
      u16(i);
      if (v === previous[i]) buf[o++] = MODE_REPEAT;
      else if (v === key) buf[o++] = MODE_KEY;
      else {
        buf[o++] = MODE_LITERAL;
        str(v);
        previous[i] = v;
      }
      count++;
    }
    buf[countAt] = count;
  }

  u32At(0, batch.length);
  u32At(4, o);
  for (const table of [topicIndex, nameIndex]) {
    room(2);
    u16(table.size);
    for (const s of table.keys()) {
      room(2 + 3 * s.length);
      const n = buf.write(s, o + 2);
      u16(n);
      o += n;
    }
  }
  if (batch.length > 0) bytesPerMessage = Math.ceil(o / batch.length);
  return { buffer: buf.buffer as ArrayBuffer, length: o };
}

/** The batch `packBatch` wrote into `buf` (its values are views of `buf`). */
export function unpackBatch(buf: Buffer): Outgoing[] {
  const u32 = (at: number): number => (buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16)) + buf[at + 3]! * 0x1000000;
  const u16 = (at: number): number => buf[at]! | (buf[at + 1]! << 8);
  const count = u32(0);
  let o = u32(4);
  const tables: string[][] = [];
  for (let k = 0; k < 2; k++) {
    const n = u16(o);
    o += 2;
    const list: string[] = [];
    for (let i = 0; i < n; i++) {
      const len = u16(o);
      list.push(buf.toString('utf8', o + 2, o + 2 + len));
      o += 2 + len;
    }
    tables.push(list);
  }
  const [topics, names] = tables as [string[], string[]];
  const previous: string[] = [];
  const out: Outgoing[] = new Array(count);
  o = 8;
  for (let j = 0; j < count; j++) {
    const topic = topics[u16(o)]!;
    const partition = u32(o + 2);
    o += 6;
    let len = u32(o);
    const key = buf.toString('utf8', o + 4, o + 4 + len);
    o += 4 + len;
    len = u32(o);
    const value = buf.subarray(o + 4, o + 4 + len);
    o += 4 + len;
    const nHeaders = buf[o++]!;
    const headers: Record<string, string> = {};
    for (let h = 0; h < nHeaders; h++) {
      const i = u16(o);
      const mode = buf[o + 2];
      o += 3;
      let v: string;
      if (mode === MODE_REPEAT) v = previous[i]!;
      else if (mode === MODE_KEY) v = key;
      else {
        len = u32(o);
        v = previous[i] = buf.toString('utf8', o + 4, o + 4 + len);
        o += 4 + len;
      }
      headers[names[i]!] = v;
    }
    const message: OutgoingMessage = { key, value, headers, partition };
    out[j] = { topic, message };
  }
  return out;
}
