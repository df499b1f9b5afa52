/**
 * The transport step of the producer SDK: how one batch of built messages
 * reaches Kafka. Everything else (buffer slots, linger, batching, the delivery
 * timeout, the close() report) lives in producer.ts and is the same whichever
 * sender is used:
 *
 * - `createInProcessSender`: an idempotent kafkajs producer on the calling
 *   thread (used when the caller passes its own `kafka` client, which cannot
 *   cross threads, and inside the send worker itself);
 * - `createWorkerSender` (worker-sender.ts): the same producer in a worker
 *   thread, so that kafkajs's request encoding overlaps with validation and
 *   Avro encoding on the main thread.
 */
import { Partitioners, type ICustomPartitioner, type Kafka, type Message, type Producer as KafkaProducer, type RecordMetadata } from 'kafkajs';
import { BrokerUnavailableError, BusError } from '../core/errors.ts';

/** A built message: what the SDK sends (always string key and header values, an encoded value, a partition it chose). */
export interface OutgoingMessage {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  partition: number;
}

/** One message of a batch and its topic. */
export interface Outgoing {
  topic: string;
  message: OutgoingMessage;
}

export interface BatchSender {
  /** Sends one batch with acks=all; resolves with Kafka's metadata (one entry per topic and partition). */
  send(batch: readonly Outgoing[]): Promise<RecordMetadata[]>;
  /**
   * After a failed send the idempotent sequence state is unknown: drop the
   * producer (a new producer id next time). Nothing sent before the reset is
   * sent on a connection made after it. Does not wait for the disconnect.
   */
  reset(): void;
  /** Disconnects; called once, after the last send settled. */
  close(): Promise<void>;
  /** Gets ready before the first send (starts a worker); optional. */
  prepare?(): void;
}

/** kafkajs retries of the SDK's producer (and its client). */
export const PRODUCER_RETRY = { retries: 5, initialRetryTime: 200, maxRetryTime: 3_000 } as const;

/**
 * The SDK places every message itself (`partitionOfKey`: Kafka's murmur2, as
 * kafkajs's default would), so kafkajs only reads the partition it was given.
 */
const presetPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  return (args) => args.message.partition ?? fallback(args);
};

/** A kafkajs producer on this thread, connected lazily, replaced after a failed send. */
export function createInProcessSender(kafka: Kafka): BatchSender {
  let producer: KafkaProducer | undefined;
  let connecting: Promise<KafkaProducer> | undefined;
  // Bumped by every reset: a connect that finishes after a reset is stale and is
  // dropped, so a batch already rejected can never be sent on it later.
  let generation = 0;
  let shutDown = false;

  function getProducer(): Promise<KafkaProducer> {
    if (shutDown) return Promise.reject(new BusError('BUS_ERR_PRODUCER_CLOSED', 'the producer is closed'));
    if (producer) return Promise.resolve(producer);
    if (!connecting) {
      const gen = generation;
      connecting = (async () => {
        const p = kafka.producer({
          idempotent: true,
          maxInFlightRequests: 1,
          allowAutoTopicCreation: false,
          createPartitioner: presetPartitioner,
          retry: { ...PRODUCER_RETRY },
        });
        try {
          await p.connect();
        } catch (err) {
          if (gen === generation) connecting = undefined;
          throw err;
        }
        if (gen !== generation || shutDown) {
          void p.disconnect().catch(() => undefined);
          throw new BrokerUnavailableError('the connection was replaced while it was being made');
        }
        producer = p;
        connecting = undefined;
        return p;
      })();
    }
    return connecting;
  }

  return {
    send(batch) {
      const byTopic = new Map<string, Message[]>();
      for (const p of batch) {
        let list = byTopic.get(p.topic);
        if (!list) byTopic.set(p.topic, (list = []));
        // Only what kafkajs reads: it spreads every message into a record object.
        list.push(p.message);
      }
      const topicMessages = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
      return getProducer().then((kp) => kp.sendBatch({ acks: -1, topicMessages }));
    },
    reset() {
      generation++;
      const old = producer;
      producer = undefined;
      connecting = undefined;
      // Not awaited: disconnecting from an unreachable broker can hang past the delivery budget and would stall the send loop.
      void old?.disconnect().catch(() => undefined);
    },
    async close() {
      shutDown = true;
      await producer?.disconnect().catch(() => undefined);
    },
  };
}
