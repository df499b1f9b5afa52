/**
 * Export for analysts: every selected event, decoded through the current
 * reader schema (old schema versions included), as CloudEvents JSON lines
 * (NDJSON) or CSV (UTF-8, optional BOM for spreadsheets, one column per data
 * field). The Kafka position travels as CloudEvents extensions
 * (`kafkatopic`, `kafkapartition`, `kafkaoffset`, `kafkatimestamp`, `schemaid`).
 *
 * Two threads: the main thread reads Kafka and writes the file; a worker
 * thread turns each batch into the bytes of its lines (export-lines.ts), so
 * reading the next batches overlaps with encoding this one. Batches are
 * written in the order they were read. When no worker can start, the main
 * thread encodes them itself (same bytes).
 *
 * Interrupting leaves a checkpoint: the positions reached and the size of the
 * output that matches them (every batch handed to the worker is written
 * first). Resuming cuts the file to that size and reads on from those
 * positions, so no event is missing or written twice.
 */
import { createWriteStream, existsSync, statSync, truncateSync, type WriteStream } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Kafka } from 'kafkajs';
import type { Catalog } from '../../catalog/index.ts';
import { EVENT_TYPES, type EventType } from '../../contracts/index.ts';
import { BusError, type ErrorCode, type Logger } from '../../core/index.ts';
import { BatchPacker } from './batch-transfer.ts';
import { loadCheckpoint, removeCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { createBatchEncoder, csvColumns, type BatchEncoderConfig, type UndecodableMessage } from './export-lines.ts';
import type { WorkerReply, WorkerRequest } from './export-worker.ts';
import { readPlan, type RangeBatch } from './reader.ts';
import type { ReplayPlan } from './selection.ts';

export { csvColumns, csvLine, ndjsonLine, ndjsonPosition, type ExportedEvent } from './export-lines.ts';

/** Output formats of an export. */
export type ExportFormat = 'ndjson' | 'csv';

/** Bytes the output stream buffers before it asks the reader to wait (backpressure). */
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

/** Batches handed to the worker and not yet written: bounds the memory between the threads. */
const MAX_BATCHES_IN_FLIGHT = 4;

const WORKER_URL = new URL('./export-worker.mjs', import.meta.url);

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
  /** Where lines are encoded: a worker thread (default), or the main thread. */
  encodeIn?: 'worker' | 'main';
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
  /** The thread that encoded the lines (`main` when asked, or when no worker could start). */
  encodedIn: 'worker' | 'main';
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

  const owners: Record<string, string> = {};
  for (const type of EVENT_TYPES) if (options.catalog.isDeclaredEventType(type)) owners[type] = options.catalog.ownerOf(type);
  const config: BatchEncoderConfig = {
    registryUrl: options.registryUrl,
    topicPrefix: options.topicPrefix,
    format: options.format,
    columns,
    wanted: plan.eventTypes ? [...plan.eventTypes] : null,
    owners,
  };
  let undecodable = 0;
  let failure: Error | undefined;
  let inFlight = 0;
  let blocked = false;
  // Wakes whoever waits for a free slot, the end of a write backlog, or a failure
  // (the reader runs several partitions' batches at once, so there can be several).
  let waiters: Array<() => void> = [];
  const changed = () => new Promise<void>((resolve) => waiters.push(resolve));
  const wake = () => {
    const all = waiters;
    waiters = [];
    for (const w of all) w();
  };
  stream.on('drain', () => {
    blocked = false;
    wake();
  });

  /** Writes one batch's lines (batches arrive in reading order); `done` runs once they are written. */
  function written(lines: Buffer, count: number, skipped: readonly UndecodableMessage[], done?: () => void): void {
    for (const u of skipped) {
      undecodable++;
      options.logger?.warn(u, 'undecodable message skipped by the export');
    }
    if (count) {
      if (!stream.write(lines, done && (() => done()))) blocked = true;
      bytes += lines.length;
      events += count;
    } else done?.();
    options.onProgress?.(0, count);
  }
  function failed(err: Error): void {
    failure ??= err;
    wake();
  }

  // The worker loads while the reader joins its group; a worker that cannot load leaves the encoding to this thread.
  let worker = options.encodeIn === 'main' ? undefined : startWorker(config);
  let local: ReturnType<typeof createBatchEncoder> | undefined;
  const ready = new Promise<void>((resolve) => {
    if (!worker) return resolve();
    const w = worker;
    w.on('message', (reply: WorkerReply) => {
      if ('ready' in reply) return resolve();
      inFlight--;
      packer.recycle(reply.packed);
      if ('error' in reply) failed(reply.error.code ? new BusError(reply.error.code as ErrorCode, reply.error.message) : new Error(reply.error.message));
      else {
        // Once written, the bytes buffer goes back to the worker for a next batch.
        const recycle = () => worker?.postMessage({ recycle: reply.bytes } satisfies WorkerRequest, [reply.bytes]);
        written(Buffer.from(reply.bytes, 0, reply.length), reply.count, reply.undecodable, recycle);
      }
      wake();
    });
    w.on('error', (err) => {
      if (inFlight === 0 && !failure && worker === w) {
        options.logger?.warn({ err: err.message }, 'export worker failed to start; encoding in the main thread');
        worker = undefined;
        void w.terminate();
        return resolve();
      }
      failed(new Error(`export worker failed: ${err.message}`, { cause: err }));
    });
    w.on('exit', (code) => {
      if (inFlight > 0) failed(new Error(`export worker exited (${code}) with ${inFlight} batch(es) unwritten`));
    });
  });
  const packer = new BatchPacker();
  let seq = 0;
  let localTurn: Promise<unknown> = Promise.resolve();

  async function onBatch(batch: RangeBatch): Promise<boolean> {
    while (!failure && (inFlight >= MAX_BATCHES_IN_FLIGHT || blocked)) await Promise.race([changed(), streamError]);
    if (failure) throw failure;
    // Interrupted: the batch has no effect and the position stays.
    if (options.signal?.aborted) return false;
    if (batch.messages.length === 0) return true;
    await ready;
    if (worker) {
      const packed = packer.pack(batch.messages);
      worker.postMessage({ seq: seq++, topic: batch.topic, partition: batch.partition, packed } satisfies WorkerRequest, [packed.buffer]);
      inFlight++;
      return true;
    }
    // One batch at a time through the encoder (it reuses its buffer; the stream gets a copy).
    const turn = localTurn.then(async () => {
      local ??= createBatchEncoder(config);
      const packed = packer.pack(batch.messages);
      const r = await local.encode({ topic: batch.topic, partition: batch.partition, packed }).finally(() => packer.recycle(packed.buffer));
      if (options.signal?.aborted) return false;
      written(Buffer.from(r.bytes), r.count, r.undecodable);
      return true;
    });
    localTurn = turn.catch(() => undefined);
    return turn;
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
    // Every batch handed to the worker is written before the positions are kept.
    while (!failure && inFlight > 0) await Promise.race([changed(), streamError]);
    if (failure) throw failure;
  } finally {
    if (worker) void worker.terminate();
    await new Promise<void>((resolve) => stream.end(() => resolve()));
  }
  if (status === 'interrupted') {
    saveCheckpoint(checkpointPath, { command: 'export', fingerprint: options.fingerprint, plan, positions: Object.fromEntries(positions), events, bytes });
  } else removeCheckpoint(checkpointPath);
  return { status, events, undecodable, bytes, checkpointPath, resumed: Boolean(cp), encodedIn: worker ? 'worker' : 'main' };
}

/** The encoding worker (terminated when the export ends, whatever the outcome). */
function startWorker(config: BatchEncoderConfig): Worker {
  return new Worker(WORKER_URL, { workerData: config });
}
