/**
 * The send worker: an idempotent kafkajs producer on its own thread. It
 * receives packed batches from worker-sender.ts, unpacks them into kafkajs
 * messages and sends them with the same in-process sender (and so the same
 * producer configuration and reset semantics) the main thread would use.
 * kafkajs log entries are posted to the main thread's logger.
 *
 * Messages in: `send` {id, gen, buffer, length}, `reset` {gen}, `close`.
 * Messages out: `ready`, `result` {id, metadata | error}, `log`, `closed`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Logger } from 'pino';
import { createKafka } from '../core/kafka.ts';
import { unpackBatch } from './batch-codec.ts';
import { PRODUCER_RETRY, createInProcessSender } from './sender.ts';

export interface SendWorkerData {
  clientId: string;
  brokers: readonly string[];
  /** Post kafkajs log entries (the main thread has a logger). */
  log: boolean;
  /** The main thread's reset count when this worker started. */
  generation: number;
}

export type ToWorker =
  | { type: 'send'; id: number; gen: number; buffer: ArrayBuffer; length: number }
  | { type: 'reset'; gen: number }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'result'; id: number; metadata?: import('kafkajs').RecordMetadata[]; error?: string }
  | { type: 'log'; level: 'error' | 'warn' | 'debug'; message: string; fields: Record<string, unknown> }
  | { type: 'closed' };

const port = parentPort!;
const data = workerData as SendWorkerData;
const post = (m: FromWorker): void => port.postMessage(m);

/** Just enough of a pino logger for core/kafka.ts's logCreator: each entry is posted to the main thread. */
function postingLogger(): Logger {
  const entry = (level: 'error' | 'warn' | 'debug') => (fields: Record<string, unknown>, message: string) => {
    try {
      post({ type: 'log', level, message: String(message), fields });
    } catch {
      // A field that cannot be cloned: keep the plain values.
      post({ type: 'log', level, message: String(message), fields: JSON.parse(JSON.stringify(fields)) as Record<string, unknown> });
    }
  };
  const logger = { error: entry('error'), warn: entry('warn'), debug: entry('debug'), child: () => logger };
  return logger as unknown as Logger;
}

const kafka = createKafka({ clientId: data.clientId, brokers: data.brokers, logger: data.log ? postingLogger() : undefined, retry: { ...PRODUCER_RETRY } });
const sender = createInProcessSender(kafka);
let generation = data.generation;

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'send': {
      if (m.gen !== generation) {
        post({ type: 'result', id: m.id, error: 'the batch belongs to a producer that was reset' });
        return;
      }
      let sent;
      try {
        sent = sender.send(unpackBatch(Buffer.from(m.buffer, 0, m.length)));
      } catch (err) {
        sent = Promise.reject(err);
      }
      sent.then(
        (metadata) => post({ type: 'result', id: m.id, metadata }),
        (err: unknown) => post({ type: 'result', id: m.id, error: err instanceof Error ? err.message : String(err) }),
      );
      return;
    }
    case 'reset':
      generation = m.gen;
      sender.reset();
      return;
    case 'close':
      void sender.close().finally(() => post({ type: 'closed' }));
      return;
  }
});
post({ type: 'ready' });
