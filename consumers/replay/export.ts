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
import type avro from 'avsc';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Catalog } from '../../catalog/index.ts';
import { EVENT_TYPES, getContract, LOGICAL_TYPES, type EventType } from '../../contracts/index.ts';
import { BusError, type Logger } from '../../core/index.ts';
import { createDecoder, createRegistry, DecodeError } from '../../registry/index.ts';
import { loadCheckpoint, removeCheckpoint, saveCheckpoint } from './checkpoint.ts';
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
    stream = createWriteStream(options.out, { flags: 'a' });
  } else {
    stream = createWriteStream(options.out, { flags: 'w' });
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
  const decoder = createDecoder({ registry: createRegistry(options.registryUrl), readerTypes, logicalTypes: LOGICAL_TYPES as never });
  const wanted = plan.eventTypes ? new Set<string>(plan.eventTypes) : null;
  let undecodable = 0;
  const header = (m: KafkaMessage, k: string): string | undefined => {
    const v = m.headers?.[k];
    return v === undefined ? undefined : String(Array.isArray(v) ? v[0] : v);
  };

  async function onBatch(batch: RangeBatch): Promise<boolean> {
    const lines: string[] = [];
    for (const m of batch.messages) {
      const ceType = header(m, 'ce_type');
      if (wanted && ceType !== undefined && !wanted.has(ceType)) continue;
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
      const data = decoded.data;
      const ev: ExportedEvent = {
        specversion: '1.0',
        id: header(m, 'ce_id') ?? String(data.eventId),
        source: header(m, 'ce_source') ?? options.catalog.ownerOf(type),
        type,
        time: String(data.occurredAt ?? header(m, 'ce_time')),
        ...(m.key ? { subject: header(m, 'ce_subject') ?? m.key.toString() } : {}),
        datacontenttype: 'application/json',
        ...(header(m, 'traceparent') ? { traceparent: header(m, 'traceparent')! } : {}),
        kafkatopic: batch.topic.slice(options.topicPrefix.length),
        kafkapartition: batch.partition,
        kafkaoffset: m.offset,
        kafkatimestamp: new Date(Number(m.timestamp)).toISOString(),
        schemaid: decoded.schemaId,
        data,
      };
      lines.push(options.format === 'csv' ? csvLine(ev, columns) : `${JSON.stringify(ev)}\n`);
    }
    // Interrupted while decoding: the batch has no effect and the position stays.
    if (options.signal?.aborted) return false;
    let flushed = true;
    if (lines.length) {
      const chunk = lines.join('');
      flushed = stream.write(chunk);
      bytes += Buffer.byteLength(chunk);
      events += lines.length;
    }
    options.onProgress?.(0, lines.length);
    if (!flushed) await Promise.race([new Promise<void>((r) => stream.once('drain', () => r())), streamError]);
    return true;
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
