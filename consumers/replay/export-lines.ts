/**
 * The lines of an export: CloudEvents JSON (NDJSON) or CSV, one per decoded
 * event, with the Kafka position as extensions. `createBatchEncoder` turns
 * one batch of Kafka messages into the bytes of its lines; the export runs it
 * in a worker thread (export-worker.ts) or, when a worker cannot start, in
 * its own thread. Everything here works from plain data (a packed batch,
 * batch-transfer.ts, and the config of `BatchEncoderConfig`), so both give the same bytes.
 */
import avro from 'avsc';
import type { KafkaMessage } from 'kafkajs';
import { EVENT_TYPES, getContract, LOGICAL_TYPES, type EventType } from '../../contracts/index.ts';
import { BusError } from '../../core/index.ts';
import { createDecoder, createRegistry, DecodeError } from '../../registry/index.ts';
import { FIELD, PackedCursor, type PackedBatch } from './batch-transfer.ts';
import { avroIn, encoderFor, JsonOut, lineSchema, positionBytes, writeNdjsonLine, writeText, type LineSchema } from './ndjson-encoder.ts';

/** A decoded event as a CloudEvent (JSON format) with the Kafka position as extensions. */
export interface ExportedEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time: string;
  subject?: string;
  datacontenttype: 'application/json';
  traceparent?: string;
  kafkatopic: string;
  kafkapartition: number;
  kafkaoffset: string;
  kafkatimestamp: string;
  schemaid: number;
  data: Record<string, unknown>;
}

const CE_COLUMNS = ['id', 'type', 'source', 'time', 'subject', 'traceparent', 'kafkatopic', 'kafkapartition', 'kafkaoffset', 'kafkatimestamp', 'schemaid'] as const;

/** Dotted paths of the leaf fields of an Avro record (optional records are walked into). */
function leafPaths(type: avro.Type, prefix: string, out: string[]): void {
  const t = type as avro.Type & { fields?: { name: string; type: avro.Type }[]; types?: avro.Type[] };
  if (t.typeName === 'record' && t.fields) {
    for (const f of t.fields) leafPaths(f.type, `${prefix}${f.name}.`, out);
    return;
  }
  if (t.typeName === 'union:unwrapped' || t.typeName === 'union:wrapped') {
    const branches = (t.types ?? []).filter((b) => b.typeName !== 'null');
    if (branches.length === 1 && branches[0]!.typeName === 'record') return leafPaths(branches[0]!, prefix, out);
  }
  out.push(prefix.slice(0, -1));
}

/** The CSV header of an export of `types`: CloudEvents columns, then `data.<path>` for every field of every type. */
export function csvColumns(types: readonly EventType[]): string[] {
  const paths: string[] = [];
  for (const type of types) leafPaths(getContract(type).avroType, '', paths);
  return [...CE_COLUMNS, ...[...new Set(paths)].map((p) => `data.${p}`)];
}

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function valueAt(obj: unknown, path: string): unknown {
  let v = obj;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** One CSV line (CRLF-terminated) of `ev` under `columns`. */
export function csvLine(ev: ExportedEvent, columns: readonly string[]): string {
  const cells = columns.map((c) => csvCell(c.startsWith('data.') ? valueAt(ev.data, c.slice(5)) : (ev as unknown as Record<string, unknown>)[c]));
  return `${cells.join(',')}\r\n`;
}

type HeaderValue = NonNullable<KafkaMessage['headers']>[string];

/** A header's text (the first value of a repeated header). */
function headerText(v: NonNullable<HeaderValue>): string {
  return String(Array.isArray(v) ? v[0] : v);
}

function headerOf(m: KafkaMessage, k: string): string | undefined {
  const v = m.headers?.[k];
  return v === undefined ? undefined : headerText(v);
}

/** `,"kafkatopic":…,"kafkapartition":N,"kafkaoffset":`, the same for a whole batch. */
export function ndjsonPosition(topic: string, partition: number): string {
  return `,"kafkatopic":${JSON.stringify(topic)},"kafkapartition":${partition},"kafkaoffset":`;
}

/**
 * The NDJSON line of one decoded event (the reference path), written straight
 * from the headers and the decoded data (one JSON.stringify of the data, no
 * intermediate object); the same attributes, in the same order, as
 * `JSON.stringify(ExportedEvent)`. `source` is the type's owner (when
 * `ce_source` is absent), `position` from `ndjsonPosition`.
 */
export function ndjsonLine(m: KafkaMessage, type: EventType, data: Record<string, unknown>, schemaId: number, source: string, position: string, kafkaTimestampIso: string): string {
  const h = m.headers;
  const id = h?.ce_id;
  const src = h?.ce_source;
  let line = `{"specversion":"1.0","id":${JSON.stringify(id === undefined ? String(data.eventId) : headerText(id))},"source":${JSON.stringify(src === undefined ? source : headerText(src))},"type":${JSON.stringify(type)},"time":${JSON.stringify(String(data.occurredAt ?? headerOf(m, 'ce_time')))}`;
  if (m.key) line += `,"subject":${JSON.stringify(headerOf(m, 'ce_subject') ?? m.key.toString())}`;
  line += ',"datacontenttype":"application/json"';
  const traceparent = headerOf(m, 'traceparent');
  if (traceparent) line += `,"traceparent":${JSON.stringify(traceparent)}`;
  return `${line}${position}"${m.offset}","kafkatimestamp":"${kafkaTimestampIso}","schemaid":${schemaId},"data":${JSON.stringify(data)}}\n`;
}

/** What a batch encoder needs; plain data, so it can be posted to a worker. */
export interface BatchEncoderConfig {
  registryUrl: string;
  /** The prefix of the plan's topics (cut from `kafkatopic`). */
  topicPrefix: string;
  format: 'ndjson' | 'csv';
  /** CSV columns (`csvColumns`); empty for NDJSON. */
  columns: readonly string[];
  /** The plan's event-type filter; null: every type. */
  wanted: readonly string[] | null;
  /** The owner institution of every event type (the default `source`). */
  owners: Readonly<Record<string, string>>;
}

/** One batch of one partition, as the encoder reads it: its messages packed (`BatchPacker`). */
export interface LineBatch {
  topic: string;
  partition: number;
  packed: PackedBatch;
}

/** A message skipped because it could not be decoded (its position and why; never its content). */
export interface UndecodableMessage {
  topic: string;
  partition: number;
  offset: string;
  reason: string;
}

/** The lines of one batch. */
export interface EncodedBatch {
  /**
   * The UTF-8 bytes of the lines; valid until the next `encode` (copy or write
   * it first), unless `encode` was asked to hand them over.
   */
  bytes: Buffer;
  /** Lines in `bytes`. */
  count: number;
  undecodable: UndecodableMessage[];
}

/**
 * An encoder of batches into export lines. One batch at a time: `encode`
 * reuses its output buffer, so the caller writes (or copies) the bytes
 * before it encodes the next batch.
 */
export function createBatchEncoder(config: BatchEncoderConfig): { encode(batch: LineBatch, handOver?: boolean): Promise<EncodedBatch>; recycle(buffer: ArrayBuffer): void } {
  const typeByRecord = new Map<string, EventType>();
  const readerTypes = new Map<string, avro.Type>();
  for (const type of EVENT_TYPES) {
    const c = getContract(type);
    typeByRecord.set(c.subjectRecordName, type);
    readerTypes.set(c.subjectRecordName, c.avroType);
  }
  const registry = createRegistry(config.registryUrl);
  const decoder = createDecoder({ registry, readerTypes, logicalTypes: LOGICAL_TYPES as never });
  const wanted = config.wanted ? new Set<string>(config.wanted) : null;
  const ndjson = config.format === 'ndjson';
  const sourceOf = (type: EventType): string => {
    const owner = config.owners[type];
    if (owner === undefined) throw new BusError('BUS_ERR_TOPIC_UNDECLARED', `event type "${type}" is not declared in topics.yaml`);
    return owner;
  };
  // The timestamps of a batch are mostly equal: their ISO form is computed once per distinct value.
  let lastTs = NaN;
  let lastTsIso = '';
  const isoOf = (ts: number): string => {
    if (ts !== lastTs) {
      lastTsIso = new Date(ts).toISOString();
      lastTs = ts;
    }
    return lastTsIso;
  };

  /**
   * NDJSON fast path, per schema id: when the writer schema is the reader
   * schema (decided once per id, as the decoder decides it), lines are written
   * from the Avro bytes by a generated encoder (ndjson-encoder.ts), the same
   * bytes as `ndjsonLine`. null: that id takes the decoder path.
   */
  const fastReady = new Map<number, LineSchema | null>();
  const fastPending = new Map<number, Promise<LineSchema | null>>();
  const fastFor = (id: number): Promise<LineSchema | null> => {
    let p = fastPending.get(id);
    if (!p) {
      p = (async () => {
        let writer: avro.Type;
        try {
          writer = avro.Type.forSchema((await registry.writerSchema(id)) as avro.Schema, { logicalTypes: LOGICAL_TYPES as never });
        } catch (err) {
          // The decoder path reports it (an unknown id is undecodable; a registry outage is asked again).
          if (!(err instanceof DecodeError)) fastPending.delete(id);
          return null;
        }
        const reader = readerTypes.get(writer.name ?? '');
        const encode = reader && encoderFor(reader, writer);
        if (!encode) return null;
        const type = typeByRecord.get(writer.name!)!;
        return lineSchema(encode, type, sourceOf(type), id);
      })().then((s) => {
        if (fastPending.has(id)) fastReady.set(id, s);
        return s;
      });
      fastPending.set(id, p);
    }
    return p;
  };
  const scratch = new JsonOut(64 * 1024);
  const scratchIn = avroIn();
  const out = new JsonOut(1024 * 1024);
  // Buffers handed over and given back (`recycle`), for the next batches.
  const free: Buffer[] = [];

  function exportedEvent(m: KafkaMessage, batch: LineBatch, type: EventType, data: Record<string, unknown>, schemaId: number): ExportedEvent {
    return {
      specversion: '1.0',
      id: headerOf(m, 'ce_id') ?? String(data.eventId),
      source: headerOf(m, 'ce_source') ?? sourceOf(type),
      type,
      time: String(data.occurredAt ?? headerOf(m, 'ce_time')),
      ...(m.key ? { subject: headerOf(m, 'ce_subject') ?? m.key.toString() } : {}),
      datacontenttype: 'application/json',
      ...(headerOf(m, 'traceparent') ? { traceparent: headerOf(m, 'traceparent')! } : {}),
      kafkatopic: batch.topic.slice(config.topicPrefix.length),
      kafkapartition: batch.partition,
      kafkaoffset: m.offset,
      kafkatimestamp: isoOf(Number(m.timestamp)),
      schemaid: schemaId,
      data,
    };
  }

  /**
   * `handOver`: the bytes returned are the caller's; they start at offset 0 of
   * an ArrayBuffer of their own, which can be transferred to another thread,
   * and the encoder takes a new buffer for the next batch.
   */
  async function encode(batch: LineBatch, handOver = false): Promise<EncodedBatch> {
    out.pos = 0;
    let count = 0;
    const undecodable: UndecodableMessage[] = [];
    // The Kafka position attributes up to the offset, the same for the whole batch.
    const topic = batch.topic.slice(config.topicPrefix.length);
    const position = ndjsonPosition(topic, batch.partition);
    const positionFast = positionBytes(topic, batch.partition);
    // One cursor over the packed messages: the fast path reads each line's parts in place.
    const c = new PackedCursor(batch.packed);
    const src = c.buf;
    for (let i = 0; i < c.count; i++) {
      c.next();
      if (wanted && c.len[FIELD.type] !== PackedCursor.ABSENT) {
        const len = c.len[FIELD.type]!;
        const ceType = len === PackedCursor.NULL ? 'null' : src.toString('utf8', c.start[FIELD.type]!, c.start[FIELD.type]! + len);
        if (!wanted.has(ceType)) continue;
      }
      const valueAt = c.start[FIELD.value]!;
      if (ndjson && c.len[FIELD.value]! >= 5 && src[valueAt] === 0) {
        const id = src.readInt32BE(valueAt + 1);
        let fast = fastReady.get(id);
        if (fast === undefined) fast = await fastFor(id);
        // An unwanted type (its header said otherwise) takes the decoder path, which counts it if undecodable.
        if (fast && !(wanted && !wanted.has(fast.type))) {
          const mark = out.pos;
          try {
            writeNdjsonLine(out, scratch, scratchIn, c, fast, positionFast, isoOf(c.timestampMs()));
            count++;
            continue;
          } catch {
            // Declined (or corrupt): the decoder decides, with the same line or the same error as always.
            out.pos = mark;
          }
        }
      }
      const m = c.message();
      let decoded;
      try {
        decoded = (m.value && decoder.decodeCached<Record<string, unknown>>(m.value)) || (await decoder.decode<Record<string, unknown>>(m.value));
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        undecodable.push({ topic: batch.topic, partition: batch.partition, offset: m.offset, reason: err.reason });
        continue;
      }
      const type = typeByRecord.get(decoded.recordName)!;
      if (wanted && !wanted.has(type)) continue;
      const iso = isoOf(Number(m.timestamp));
      writeText(out, ndjson ? ndjsonLine(m, type, decoded.data, decoded.schemaId, sourceOf(type), position, iso) : csvLine(exportedEvent(m, batch, type, decoded.data, decoded.schemaId), config.columns));
      count++;
    }
    const bytes = out.buf.subarray(0, out.pos);
    if (handOver) {
      // Not zero-filled, unlike a new ArrayBuffer: the next batch overwrites what it uses.
      out.buf = free.pop() ?? Buffer.allocUnsafeSlow(out.buf.length);
    }
    return { bytes, count, undecodable };
  }

  /** Takes back the buffer of bytes handed over (once they are written). */
  function recycle(buffer: ArrayBuffer): void {
    if (free.length < 8) free.push(Buffer.from(buffer));
  }

  return { encode, recycle };
}
