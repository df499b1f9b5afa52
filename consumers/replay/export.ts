/**
 * Export for analysts: every selected event, decoded through the current
 * reader schema (old schema versions included), as CloudEvents JSON lines
 * (NDJSON) or CSV (UTF-8, optional BOM for spreadsheets, one column per data
 * field). The Kafka position travels as CloudEvents extensions
 * (`kafkatopic`, `kafkapartition`, `kafkaoffset`, `kafkatimestamp`, `schemaid`).
 *
 * Interrupting leaves a checkpoint: the positions reached and the size of the
 * output that matches them. Resuming cuts the file to that size and reads on
 * from those positions, so no event is missing or written twice.
 */
import { createWriteStream, existsSync, statSync, truncateSync, type WriteStream } from 'node:fs';
import avro from 'avsc';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Catalog } from '../../catalog/index.ts';
import { EVENT_TYPES, getContract, LOGICAL_TYPES, type EventType } from '../../contracts/index.ts';
import { BusError, type Logger } from '../../core/index.ts';
import { createDecoder, createRegistry, DecodeError } from '../../registry/index.ts';
import { loadCheckpoint, removeCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { avroIn, encoderFor, JsonOut, lineSchema, positionBytes, writeNdjsonLine, writeText, type LineSchema } from './ndjson-encoder.ts';
import { readPlan, type RangeBatch } from './reader.ts';
import type { ReplayPlan } from './selection.ts';

/** Output formats of an export. */
export type ExportFormat = 'ndjson' | 'csv';

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

/** Bytes the output stream buffers before it asks the reader to wait (backpressure). */
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

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

export interface ExportOptions {
  kafka: Kafka;
  catalog: Catalog;
  plan: ReplayPlan;
  /** The prefix of the plan's topics (to find their catalog entries). */
  topicPrefix: string;
  registryUrl: string;
  /** Output file. */
  out: string;
  format: ExportFormat;
  /** CSV only: start the file with a UTF-8 BOM (spreadsheets then read accents right). */
  bom?: boolean;
  /** Where the checkpoint lives; default `<out>.checkpoint.json`. */
  checkpointPath?: string;
  /** Identifies the command (checkpoint check). */
  fingerprint: string;
  /** Ignore an existing checkpoint and start over. */
  restart?: boolean;
  signal?: AbortSignal;
  /** Offsets advanced and events written. */
  onProgress?(offsets: number, events: number): void;
  logger?: Logger;
}

export interface ExportResult {
  status: 'done' | 'interrupted';
  /** Events in the file (all runs). */
  events: number;
  /** Messages skipped because they could not be decoded (this run). */
  undecodable: number;
  bytes: number;
  checkpointPath: string;
  /** True when this run resumed a checkpoint. */
  resumed: boolean;
}

/** Types a plan can yield: its filter, or every type its topics carry. */
export function typesOf(plan: ReplayPlan, catalog: Catalog, topicPrefix: string): EventType[] {
  if (plan.eventTypes) return [...plan.eventTypes];
  const names = new Set(plan.topics.map((t) => t.slice(topicPrefix.length)));
  return catalog.topics.filter((t) => names.has(t.name)).flatMap((t) => t.eventTypes as EventType[]);
}

/** Runs an export (or resumes it from its checkpoint). */
export async function exportEvents(options: ExportOptions): Promise<ExportResult> {
  const checkpointPath = options.checkpointPath ?? `${options.out}.checkpoint.json`;
  if (options.restart) removeCheckpoint(checkpointPath);
  const cp = loadCheckpoint(checkpointPath, 'export', options.fingerprint);
  const plan = cp?.plan ?? options.plan;
  const positions = new Map(Object.entries(cp?.positions ?? {}));
  let events = cp?.events ?? 0;
  let bytes = 0;
  let stream: WriteStream;
  const columns = options.format === 'csv' ? csvColumns(typesOf(plan, options.catalog, options.topicPrefix)) : [];
  if (cp) {
    const size = existsSync(options.out) ? statSync(options.out).size : -1;
    if (size < (cp.bytes ?? 0)) {
      throw new BusError('BUS_ERR_REPLAY_CHECKPOINT', `El archivo ${options.out} es más corto que lo que registra su punto de control (${size} < ${cp.bytes} bytes): no se puede reanudar sin perder eventos. Use --restart.`);
    }
    truncateSync(options.out, cp.bytes ?? 0);
    bytes = cp.bytes ?? 0;
    stream = createWriteStream(options.out, { flags: 'a', highWaterMark: WRITE_BUFFER_BYTES });
  } else {
    stream = createWriteStream(options.out, { flags: 'w', highWaterMark: WRITE_BUFFER_BYTES });
    let head = '';
    if (options.format === 'csv') head = `${options.bom ? '\uFEFF' : ''}${columns.join(',')}\r\n`;
    if (head) {
      stream.write(head);
      bytes += Buffer.byteLength(head);
    }
  }
  const streamError = new Promise<never>((_, reject) => stream.once('error', reject));
  streamError.catch(() => undefined);

  const typeByRecord = new Map<string, EventType>();
  const readerTypes = new Map<string, avro.Type>();
  for (const type of EVENT_TYPES) {
    const c = getContract(type);
    typeByRecord.set(c.subjectRecordName, type);
    readerTypes.set(c.subjectRecordName, c.avroType);
  }
  const registry = createRegistry(options.registryUrl);
  const decoder = createDecoder({ registry, readerTypes, logicalTypes: LOGICAL_TYPES as never });
  const wanted = plan.eventTypes ? new Set<string>(plan.eventTypes) : null;
  const ownerOf = new Map<string, string>();
  let undecodable = 0;
  // The timestamps of a batch are mostly equal: their ISO form is computed once per distinct value.
  let lastTs = '';
  let lastTsIso = '';
  const isoOf = (ts: string): string => {
    if (ts !== lastTs) {
      lastTs = ts;
      lastTsIso = new Date(Number(ts)).toISOString();
    }
    return lastTsIso;
  };

  const sourceOf = (type: EventType): string => {
    let s = ownerOf.get(type);
    if (s === undefined) ownerOf.set(type, (s = options.catalog.ownerOf(type)));
    return s;
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
  // Output buffers are reused once the stream has written them (no allocation per batch, far less GC).
  const outputs: JsonOut[] = [];

  async function onBatch(batch: RangeBatch): Promise<boolean> {
    let chunk = '';
    let count = 0;
    const ndjson = options.format === 'ndjson';
    const out = ndjson ? (outputs.pop() ?? new JsonOut(1024 * 1024)) : null;
    if (out) out.pos = 0;
    // The Kafka position attributes up to the offset, the same for the whole batch.
    const topic = batch.topic.slice(options.topicPrefix.length);
    const position = ndjsonPosition(topic, batch.partition);
    const positionFast = positionBytes(topic, batch.partition);
    for (const m of batch.messages) {
      const ceType = m.headers?.ce_type;
      if (wanted && ceType !== undefined && !wanted.has(headerText(ceType))) continue;
      const v = m.value;
      if (out && v && v.length >= 5 && v[0] === 0) {
        const id = v.readInt32BE(1);
        let fast = fastReady.get(id);
        if (fast === undefined) fast = await fastFor(id);
        // An unwanted type (its header said otherwise) takes the decoder path, which counts it if undecodable.
        if (fast && !(wanted && !wanted.has(fast.type))) {
          const mark = out.pos;
          try {
            writeNdjsonLine(out, scratch, scratchIn, m, fast, positionFast, isoOf(m.timestamp));
            count++;
            continue;
          } catch {
            // Declined (or corrupt): the decoder decides, with the same line or the same error as always.
            out.pos = mark;
          }
        }
      }
      let decoded;
      try {
        decoded = (m.value && decoder.decodeCached<Record<string, unknown>>(m.value)) || (await decoder.decode<Record<string, unknown>>(m.value));
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        undecodable++;
        options.logger?.warn({ topic: batch.topic, partition: batch.partition, offset: m.offset, reason: err.reason }, 'undecodable message skipped by the export');
        continue;
      }
      const type = typeByRecord.get(decoded.recordName)!;
      if (wanted && !wanted.has(type)) continue;
      if (out) writeText(out, ndjsonLine(m, type, decoded.data, decoded.schemaId, sourceOf(type), position, isoOf(m.timestamp)));
      else chunk += csvLine(exportedEvent(m, batch, type, decoded.data, decoded.schemaId), columns);
      count++;
    }
    // Interrupted while decoding: the batch has no effect and the position stays.
    if (options.signal?.aborted) {
      if (out) outputs.push(out);
      return false;
    }
    let flushed = true;
    if (count) {
      // One UTF-8 buffer per batch, which also gives its size.
      const buf = out ? out.buf.subarray(0, out.pos) : Buffer.from(chunk, 'utf8');
      flushed = out ? stream.write(buf, () => outputs.push(out)) : stream.write(buf);
      bytes += buf.length;
      events += count;
    } else if (out) outputs.push(out);
    options.onProgress?.(0, count);
    if (!flushed) await Promise.race([new Promise<void>((r) => stream.once('drain', () => r())), streamError]);
    return true;
  }

  function exportedEvent(m: KafkaMessage, batch: RangeBatch, type: EventType, data: Record<string, unknown>, schemaId: number): ExportedEvent {
    return {
      specversion: '1.0',
      id: headerOf(m, 'ce_id') ?? String(data.eventId),
      source: headerOf(m, 'ce_source') ?? sourceOf(type),
      type,
      time: String(data.occurredAt ?? headerOf(m, 'ce_time')),
      ...(m.key ? { subject: headerOf(m, 'ce_subject') ?? m.key.toString() } : {}),
      datacontenttype: 'application/json',
      ...(headerOf(m, 'traceparent') ? { traceparent: headerOf(m, 'traceparent')! } : {}),
      kafkatopic: batch.topic.slice(options.topicPrefix.length),
      kafkapartition: batch.partition,
      kafkaoffset: m.offset,
      kafkatimestamp: isoOf(m.timestamp),
      schemaid: schemaId,
      data,
    };
  }

  let status: 'done' | 'interrupted';
  try {
    status = await readPlan(options.kafka, plan, {
      positions,
      onBatch,
      onProgress: (n) => options.onProgress?.(n, 0),
      signal: options.signal,
      logger: options.logger,
    });
  } finally {
    await new Promise<void>((resolve) => stream.end(() => resolve()));
  }
  if (status === 'interrupted') {
    saveCheckpoint(checkpointPath, { command: 'export', fingerprint: options.fingerprint, plan, positions: Object.fromEntries(positions), events, bytes });
  } else removeCheckpoint(checkpointPath);
  return { status, events, undecodable, bytes, checkpointPath, resumed: Boolean(cp) };
}

