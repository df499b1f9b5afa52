/**
 * SDK publishing throughput beside raw kafkajs `sendBatch` of the same
 * records, pre-encoded: the ratio is what validation, encoding and the SDK's
 * batching cost. Both use an idempotent producer with acks=all.
 */
import { median } from './figures.ts';
import type { Message } from 'kafkajs';
import { getContract, sampleEvent } from '../contracts/index.ts';
import { createKafka } from '../core/index.ts';
import { createProducer } from '../producers/index.ts';
import { encodeWire } from '../registry/index.ts';

const TYPE = 'conred.incident.reported' as const;
/** Events per Kafka request on both sides (the SDK's `batchMaxEvents` default). */
const RAW_BATCH = 2_000;

/** A sample incident whose Avro value is close to `recordSize` bytes. */
export function sizedIncident(recordSize: number): ReturnType<typeof sampleEvent<typeof TYPE>> {
  const base = sampleEvent(TYPE);
  const bare = getContract(TYPE).avroType.toBuffer(base).length + 5;
  const pad = Math.max(1, (base.description ?? "").length + (recordSize - bare));
  return sampleEvent(TYPE, { description: 'x'.repeat(pad) });
}

export interface SdkBenchResult {
  sdkEventsPerS: number;
  rawEventsPerS: number;
  valueBytes: number;
  /** Each round's figure (the results above are their medians). */
  sdkRates: number[];
  rawRates: number[];
  /** Median of the per-round ratios SDK ÷ raw: each round's two runs are back to back, so a load change on the machine between rounds cancels out. */
  pairedRatio: number;
}

/**
 * Publishes `n` events through the SDK (with a bounded window of publishes in
 * flight) and the same `n` records, pre-encoded, through raw kafkajs
 * sendBatch in batches of the SDK's size. Fair to both: each side is warmed up
 * (connection, metadata, JIT) before any timing, the two alternate for
 * `rounds` rounds (SDK first, then raw first, …), and each figure is the
 * median of its rounds.
 */
export async function benchSdk(opts: { prefix: string; topic: string; n: number; recordSize: number; registryUrl: string; rounds?: number }): Promise<SdkBenchResult> {
  const rounds = opts.rounds ?? Number(process.env.BENCH_SDK_ROUNDS ?? 5);
  const template = sizedIncident(opts.recordSize);
  const events = Array.from({ length: opts.n }, () => sampleEvent(TYPE, { description: template.description }));
  const warm = events.slice(0, Math.min(events.length, 20_000));

  // Raw kafkajs: the same records (value, key, CloudEvents headers), encoded before the clock starts.
  const contract = getContract(TYPE);
  const messages: Message[] = events.map((e) => ({
    key: e.incidentId,
    value: encodeWire(1, contract.avroType.toBuffer(e)),
    headers: {
      ce_specversion: '1.0',
      ce_id: e.eventId,
      ce_source: 'CONRED',
      ce_type: TYPE,
      ce_time: e.occurredAt,
      ce_subject: e.incidentId,
      'content-type': 'application/avro',
    },
  }));
  const valueBytes = messages.reduce((n, m) => n + (m.value as Buffer).length, 0) / messages.length;

  const producer = createProducer({ institution: 'CONRED', topicPrefix: opts.prefix, autoRegister: true, registryUrl: opts.registryUrl, batchMaxEvents: RAW_BATCH });
  const kafka = createKafka({ clientId: 'bench-raw' });
  const raw = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await raw.connect();

  // A steady publisher: it keeps at most `window` events unacknowledged, awaiting the
  // oldest before publishing more, so CPU work overlaps with Kafka round trips. It
  // holds only those `window` promises (a ring), as a real publisher would: keeping
  // every promise and result of the run alive made the heap grow through the first
  // rounds, a cost of the harness that the raw side (which keeps nothing) never paid.
  const window = 8_000;
  async function sdkRun(list: typeof events): Promise<number> {
    const t0 = performance.now();
    const pending: Promise<unknown>[] = new Array(Math.min(window, list.length));
    for (let i = 0; i < list.length; i++) {
      const slot = i % window;
      if (i >= window) await pending[slot];
      pending[slot] = producer.publish(TYPE, list[i]!);
    }
    await Promise.all(pending);
    return list.length / ((performance.now() - t0) / 1000);
  }
  async function rawRun(list: Message[]): Promise<number> {
    const t0 = performance.now();
    for (let i = 0; i < list.length; i += RAW_BATCH) {
      await raw.sendBatch({ acks: -1, topicMessages: [{ topic: opts.topic, messages: list.slice(i, i + RAW_BATCH) }] });
    }
    return list.length / ((performance.now() - t0) / 1000);
  }

  try {
    await sdkRun(warm);
    await rawRun(messages.slice(0, warm.length));
    const sdkRates: number[] = [];
    const rawRates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        sdkRates.push(await sdkRun(events));
        rawRates.push(await rawRun(messages));
      } else {
        rawRates.push(await rawRun(messages));
        sdkRates.push(await sdkRun(events));
      }
    }
    return { sdkEventsPerS: median(sdkRates), rawEventsPerS: median(rawRates), valueBytes, sdkRates, rawRates, pairedRatio: median(sdkRates.map((r, i) => r / rawRates[i]!)) };
  } finally {
    await producer.close();
    await raw.disconnect();
  }
}
