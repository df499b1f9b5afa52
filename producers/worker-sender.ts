/**
 * The send step on a worker thread: each batch is packed into one
 * ArrayBuffer (batch-codec.ts), transferred to send-worker.ts and sent there
 * by the same in-process sender the main thread would use. kafkajs's request
 * encoding (tens of µs per message) then runs beside validation and Avro
 * encoding instead of after them.
 *
 * Lifetime:
 * - the worker starts on `prepare()` (the producer's first route) or the
 *   first send; a worker that cannot start (e.g. TypeScript cannot be loaded
 *   in this context) is replaced by the in-process sender, logged at debug;
 * - it is unref'd whenever no request is outstanding, so an idle producer
 *   never keeps the process alive; while a send, the start or close() is
 *   outstanding it is ref'd, so an awaited promise always settles;
 * - close() asks it to disconnect, then terminates it; a producer dropped
 *   without close() is not leaked: once it is garbage-collected a
 *   FinalizationRegistry terminates its worker (nothing can be waiting on it
 *   then: an outstanding request keeps the producer reachable);
 * - a worker that dies rejects its outstanding requests; the next send
 *   starts a new one.
 */
import { Worker } from 'node:worker_threads';
import type { Kafka, RecordMetadata } from 'kafkajs';
import { BusError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { packBatch } from './batch-codec.ts';
import { createInProcessSender, type BatchSender } from './sender.ts';
import type { FromWorker, SendWorkerData, ToWorker } from './send-worker.ts';

export interface WorkerSenderOptions {
  clientId: string;
  brokers: readonly string[];
  logger?: Logger;
  /**
   * The client of the in-process sender used when no worker can be started. A
   * client, not a factory: a closure of the producer's kept here would be
   * reachable from the running worker and the producer could never be collected.
   */
  kafka: Kafka;
  /** The worker's entry module (tests start a missing one to see the fallback). */
  entry?: URL;
}

const ENTRY = new URL('./send-worker.mjs', import.meta.url);

/** Terminates the worker of a producer that was garbage-collected without close(). */
const orphans = new FinalizationRegistry<() => void>((stop) => stop());

function stopper(thread: { worker?: Worker }): () => void {
  return () => void thread.worker?.terminate();
}

export function createWorkerSender(options: WorkerSenderOptions): BatchSender {
  // Only what is needed, not `options`: the worker's listeners hold this function's scope.
  const { clientId, brokers, kafka, entry = ENTRY } = options;
  const log = options.logger?.child({ component: 'producer-sender' });
  const kafkaLog = options.logger?.child({ component: 'kafkajs' });
  // The current worker, in an object of its own: the registry's closure holds only this.
  const thread: { worker?: Worker } = {};
  /** Settles when the current worker is ready (true) or could not start (false). */
  let ready: Promise<boolean> | undefined;
  let fallback: BatchSender | undefined;
  const requests = new Map<number, { resolve: (m: RecordMetadata[]) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let generation = 0;
  let holds = 0;
  let onClosed: (() => void) | undefined;
  let closed = false;

  function hold(): void {
    if (holds++ === 0) thread.worker?.ref();
  }
  function release(): void {
    if (--holds === 0) thread.worker?.unref();
  }

  function useFallback(reason: string): void {
    log?.debug({ reason }, 'send worker unavailable: sending on the main thread');
    fallback ??= createInProcessSender(kafka);
  }

  function start(): Promise<boolean> {
    if (ready) return ready;
    if (fallback) return (ready = Promise.resolve(false));
    const data: SendWorkerData = { clientId, brokers: [...brokers], log: kafkaLog !== undefined, generation };
    let w: Worker;
    try {
      w = new Worker(entry, { workerData: data });
    } catch (err) {
      useFallback(err instanceof Error ? err.message : String(err));
      return (ready = Promise.resolve(false));
    }
    thread.worker = w;
    hold(); // until it is ready or gone
    let started = false;
    let failure: string | undefined;
    ready = new Promise<boolean>((resolve) => {
      w.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            log?.debug('send worker ready');
            started = true;
            resolve(true);
            release();
            return;
          case 'result': {
            const r = requests.get(m.id);
            if (!r) return; // a request dropped by a reset
            requests.delete(m.id);
            release();
            if (m.error !== undefined) r.reject(new Error(m.error));
            else r.resolve(m.metadata!);
            return;
          }
          case 'log':
            kafkaLog?.[m.level](m.fields, m.message);
            return;
          case 'closed':
            onClosed?.();
            return;
        }
      });
      w.on('error', (err) => {
        failure = err.message;
      });
      w.on('exit', (code) => {
        if (thread.worker === w) {
          thread.worker = undefined;
          ready = undefined;
        }
        const reason = failure ?? `the send worker exited with code ${code}`;
        log?.debug({ code }, 'send worker exited');
        if (!started) {
          useFallback(reason);
          resolve(false);
          release();
        } else if (requests.size > 0) {
          log?.warn({ reason, requests: requests.size }, 'send worker stopped with batches outstanding');
        }
        for (const [id, r] of requests) {
          requests.delete(id);
          release();
          r.reject(new Error(reason));
        }
        onClosed?.();
      });
    });
    return ready;
  }

  function post(w: Worker, m: ToWorker, transfer?: ArrayBuffer[]): void {
    w.postMessage(m, transfer);
  }

  const sender: BatchSender = {
    prepare() {
      if (!closed) void start();
    },
    async send(batch) {
      if (closed) throw new BusError('BUS_ERR_PRODUCER_CLOSED', 'the producer is closed');
      if (!(await start())) return fallback!.send(batch);
      const w = thread.worker;
      if (!w) throw new Error('the send worker stopped'); // it exited between its start and this batch
      const { buffer, length } = packBatch(batch);
      const id = ++nextId;
      const result = new Promise<RecordMetadata[]>((resolve, reject) => requests.set(id, { resolve, reject }));
      hold();
      post(w, { type: 'send', id, gen: generation, buffer, length }, [buffer]);
      return result;
    },
    reset() {
      if (fallback) fallback.reset();
      generation++;
      // A reply to a request of an older generation is ignored: its batch was already rejected.
      for (const [id, r] of requests) {
        requests.delete(id);
        release();
        r.reject(new Error('the producer was reset'));
      }
      if (thread.worker) post(thread.worker, { type: 'reset', gen: generation });
    },
    async close() {
      closed = true;
      orphans.unregister(unregisterToken);
      if (ready) await ready;
      if (fallback) await fallback.close();
      const w = thread.worker;
      if (!w) return;
      hold();
      await new Promise<void>((resolve) => {
        onClosed = resolve;
        post(w, { type: 'close' });
      });
      release();
      await w.terminate();
    },
  };
  // The registry holds a closure over `thread` alone: this function's scope is reachable from
  // the running worker's listeners, and from it nothing may lead back to `sender`.
  const unregisterToken = {};
  orphans.register(sender, stopper(thread), unregisterToken);
  return sender;
}
