/**
 * The export's worker thread: it turns the packed batches the main thread
 * posts (batch-transfer.ts) into the bytes of their lines (export-lines.ts)
 * and posts them back, in the order they came. The main thread keeps reading
 * Kafka meanwhile, and writes the bytes and the checkpoint itself.
 *
 * Messages in: `{ seq, topic, partition, packed }`. Out: `{ ready: true }` once
 * loaded, then per batch `{ seq, bytes, count, undecodable }` (bytes
 * transferred) or `{ seq, error }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BusError } from '../../core/index.ts';
import { unpackBatch } from './batch-transfer.ts';
import { createBatchEncoder, type BatchEncoderConfig } from './export-lines.ts';

export interface WorkerBatch {
  seq: number;
  topic: string;
  partition: number;
  packed: ArrayBuffer;
}

export type WorkerReply =
  | { ready: true }
  | { seq: number; bytes: ArrayBuffer; count: number; undecodable: { topic: string; partition: number; offset: string; reason: string }[] }
  | { seq: number; error: { message: string; code?: string } };

const port = parentPort!;
const encoder = createBatchEncoder(workerData as BatchEncoderConfig);
let chain = Promise.resolve();

port.on('message', (batch: WorkerBatch) => {
  // One batch at a time, in order: the encoder reuses its output buffer, and the file is written in this order.
  chain = chain.then(async () => {
    try {
      const r = await encoder.encode({ topic: batch.topic, partition: batch.partition, messages: unpackBatch(batch.packed) });
      const bytes = new ArrayBuffer(r.bytes.length);
      new Uint8Array(bytes).set(r.bytes);
      port.postMessage({ seq: batch.seq, bytes, count: r.count, undecodable: r.undecodable } satisfies WorkerReply, [bytes]);
    } catch (err) {
      const error = err instanceof BusError ? { message: err.message, code: err.code } : { message: err instanceof Error ? err.message : String(err) };
      port.postMessage({ seq: batch.seq, error } satisfies WorkerReply);
    }
  });
});

port.postMessage({ ready: true } satisfies WorkerReply);
