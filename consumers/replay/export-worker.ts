/**
 * The export's worker thread: it turns the packed batches the main thread
 * posts (batch-transfer.ts) into the bytes of their lines (export-lines.ts)
 * and posts them back, in the order they came. The main thread keeps reading
 * Kafka meanwhile, and writes the bytes and the checkpoint itself.
 *
 * Messages in: `{ seq, topic, partition, packed }` per batch, and `{ recycle }`
 * (a bytes buffer written, given back). Out: `{ ready: true }` once loaded,
 * then per batch `{ seq, packed, bytes, length, count, undecodable }` or
 * `{ seq, packed, error }`. Buffers are transferred both ways and reused.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BusError } from '../../core/index.ts';
import type { PackedBatch } from './batch-transfer.ts';
import { createBatchEncoder, type BatchEncoderConfig } from './export-lines.ts';

export type WorkerRequest = { seq: number; topic: string; partition: number; packed: PackedBatch } | { recycle: ArrayBuffer };

export type WorkerReply =
  | { ready: true }
  | { seq: number; packed: ArrayBuffer; bytes: ArrayBuffer; length: number; count: number; undecodable: { topic: string; partition: number; offset: string; reason: string }[] }
  | { seq: number; packed: ArrayBuffer; error: { message: string; code?: string } };

const port = parentPort!;
const encoder = createBatchEncoder(workerData as BatchEncoderConfig);
let chain = Promise.resolve();

port.on('message', (request: WorkerRequest) => {
  if ('recycle' in request) return encoder.recycle(request.recycle);
  const batch = request;
  // One batch at a time, in order: the encoder reuses its output buffer, and the file is written in this order.
  chain = chain.then(async () => {
    // The packed batch goes back with the reply (nothing of it is used after encoding).
    const packed = batch.packed.buffer;
    try {
      const r = await encoder.encode({ topic: batch.topic, partition: batch.partition, packed: batch.packed }, true);
      // The encoder handed its buffer over (offset 0 of its own ArrayBuffer): transferred, not copied.
      const bytes = r.bytes.buffer as ArrayBuffer;
      port.postMessage({ seq: batch.seq, packed, bytes, length: r.bytes.length, count: r.count, undecodable: r.undecodable } satisfies WorkerReply, [packed, bytes]);
    } catch (err) {
      const error = err instanceof BusError ? { message: err.message, code: err.code } : { message: err instanceof Error ? err.message : String(err) };
      port.postMessage({ seq: batch.seq, packed, error } satisfies WorkerReply, [packed]);
    }
  });
});

port.postMessage({ ready: true } satisfies WorkerReply);
