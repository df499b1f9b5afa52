/**
 * Reads a plan's offset ranges with a throwaway consumer group: it seeks to
 * each range's position, never commits offsets (so no live group moves, and
 * its own group is deleted afterwards), pauses each partition at its end and
 * stops when every range is done or when interrupted.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '../../core/index.ts';
import type { ReplayPlan } from './selection.ts';

/**
 * Reader defaults, with units in the names. The fetch sizes and the partitions
 * handled at once are those of the bench's no-op consumer: measured against
 * 4 MiB / 16 MiB / 6 partitions, they read the export's backlog at least as
 * fast with a lower peak RSS (smaller fetch responses to concatenate).
 */
export const READER_DEFAULTS = {
  maxBytesPerPartition: 2 * 1024 * 1024,
  maxBytes: 8 * 1024 * 1024,
  concurrency: 3,
  maxWaitTimeMs: 100,
  sessionTimeoutMs: 30_000,
} as const;

/** A batch of in-range messages of one partition. */
export interface RangeBatch {
  readonly topic: string;
  readonly partition: number;
  /** Messages in `[position, end)` whose timestamps fall in the plan's time range. */
  readonly messages: readonly KafkaMessage[];
  /** Where the partition stands once this batch is accepted. */
  readonly nextOffset: string;
}

export interface ReadOptions {
  /** Next offset per `topic:partition`; updated as batches are accepted (start from the plan when absent). */
  readonly positions: Map<string, string>;
  /**
   * Handles a batch. Return false to refuse it (interrupted before its effect):
   * the position then stays where it was.
   */
  onBatch(batch: RangeBatch): Promise<boolean>;
  /** Offsets advanced (for progress). */
  onProgress?(offsets: number): void;
  /** Partitions handled at once (default: every partition of the plan, at most READER_DEFAULTS.concurrency). Order within a partition is always kept. */
  concurrency?: number;
  signal?: AbortSignal;
  logger?: Logger;
}

/** `topic:partition`, the key of positions and checkpoints. */
export const positionKey = (topic: string, partition: number): string => `${topic}:${partition}`;

/** Reads the plan to its ends; resolves `done`, or `interrupted` when the signal aborted first. */
export async function readPlan(kafka: Kafka, plan: ReplayPlan, options: ReadOptions): Promise<'done' | 'interrupted'> {
  const { positions } = options;
  const ends = new Map<string, bigint>();
  const pending = new Set<string>();
  for (const r of plan.ranges) {
    const key = positionKey(r.topic, r.partition);
    if (!positions.has(key)) positions.set(key, r.start);
    ends.set(key, BigInt(r.end));
    if (BigInt(positions.get(key)!) < BigInt(r.end)) pending.add(key);
  }
  if (pending.size === 0) return 'done';
  if (options.signal?.aborted) return 'interrupted';

  const groupId = `sns-replay-${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    maxBytesPerPartition: READER_DEFAULTS.maxBytesPerPartition,
    maxBytes: READER_DEFAULTS.maxBytes,
    maxWaitTimeInMs: READER_DEFAULTS.maxWaitTimeMs,
    sessionTimeout: READER_DEFAULTS.sessionTimeoutMs,
  });
  let finish!: (how: 'done' | 'interrupted') => void;
  let fail!: (err: unknown) => void;
  const finished = new Promise<'done' | 'interrupted'>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  let stopping = false;
  const onAbort = () => {
    stopping = true;
    finish('interrupted');
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const fromMs = plan.fromMs;
  const toMs = plan.toMs;
  const inTime = (m: KafkaMessage): boolean => {
    const ts = Number(m.timestamp);
    return (fromMs === null || ts >= fromMs) && (toMs === null || ts < toMs);
  };
  /**
   * The messages of a batch in `[position, end)` and in the time range. Decided
   * per batch when it can be (a batch wholly inside the range, no time range):
   * then the batch's own array is passed on, without a BigInt per message.
   */
  const inRange = (all: readonly KafkaMessage[], position: bigint, end: bigint): readonly KafkaMessage[] => {
    if (all.length === 0) return all;
    const whole = BigInt(all[0]!.offset) >= position && BigInt(all[all.length - 1]!.offset) < end;
    if (whole) return fromMs === null && toMs === null ? all : all.filter(inTime);
    return all.filter((m) => {
      const o = BigInt(m.offset);
      return o >= position && o < end && inTime(m);
    });
  };

  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...plan.topics], fromBeginning: true });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) fail(e.payload.error);
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.concurrency ?? Math.min(READER_DEFAULTS.concurrency, plan.ranges.length),
      eachBatch: async ({ batch, isRunning, isStale, resolveOffset }) => {
        const key = positionKey(batch.topic, batch.partition);
        if (stopping || !isRunning() || isStale()) return;
        if (!pending.has(key)) {
          consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
          return;
        }
        const position = BigInt(positions.get(key)!);
        const end = ends.get(key)!;
        const lastOffset = batch.lastOffset();
        const last = BigInt(lastOffset);
        const next = last + 1n < end ? last + 1n : end;
        // kafkajs fetches from the last resolved offset: without resolving, the same batch would come back forever.
        if (next <= position) {
          resolveOffset(lastOffset);
          return;
        }
        const messages = inRange(batch.messages, position, end);
        const accepted = await options.onBatch({ topic: batch.topic, partition: batch.partition, messages, nextOffset: next.toString() });
        if (!accepted) return;
        resolveOffset(lastOffset);
        positions.set(key, next.toString());
        options.onProgress?.(Number(next - position));
        if (next >= end) {
          pending.delete(key);
          consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
          if (pending.size === 0) finish('done');
        }
      },
    });
    // Seek every range to its position; park the partitions the plan does not read.
    for (const topic of plan.topics) {
      const mine = plan.ranges.filter((r) => r.topic === topic);
      for (const r of mine) {
        const key = positionKey(topic, r.partition);
        if (pending.has(key)) consumer.seek({ topic, partition: r.partition, offset: positions.get(key)! });
      }
      const idle = mine.filter((r) => !pending.has(positionKey(topic, r.partition))).map((r) => r.partition);
      if (idle.length) consumer.pause([{ topic, partitions: idle }]);
    }
    const how = await finished;
    stopping = true;
    return how;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    stopping = true;
    await consumer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteGroups([groupId]))
      .catch((err: Error) => options.logger?.debug({ err: err.message, groupId }, 'throwaway replay group not deleted'))
      .finally(() => admin.disconnect().catch(() => undefined));
  }
}
