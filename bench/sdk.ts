/**
 * SDK publishing throughput beside raw kafkajs `sendBatch` of the same
 * records, pre-encoded: the ratio is what validation, encoding and the SDK's
 * batching cost. Both use an idempotent producer with acks=all.
 */
import type { Message } from 'kafkajs';
import { getContract, sampleEvent } from '../contracts/index.ts';
import { createKafka } from '../core/index.ts';
import { createProducer } from '../producers/index.ts';
import { encodeWire } from '../registry/index.ts';

const TYPE = 'conred.incident.reported' as const;

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
}

/**
 * Publishes `n` events through the SDK (with `concurrency` publishes in
 * flight) and `n` pre-encoded records through raw kafkajs sendBatch.
 */
export async function benchSdk(opts: { prefix: string; topic: string; n: number; recordSize: number; registryUrl: string }): Promise<SdkBenchResult> {
  const template = sizedIncident(opts.recordSize);
  const events = Array.from({ length: opts.n }, () => sampleEvent(TYPE, { description: template.description }));

  const producer = createProducer({ institution: 'CONRED', topicPrefix: opts.prefix, autoRegister: true, registryUrl: opts.registryUrl });
  await producer.publish(TYPE, sampleEvent(TYPE, { description: template.description })); // warm: schema id, metadata, connection
  // A steady publisher: it keeps at most `window` events unacknowledged, awaiting the
  // oldest before publishing more, so CPU work overlaps with Kafka round trips.
  const window = 8_000;
  const t0 = performance.now();
  const pending: Promise<unknown>[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    if (i >= window) await pending[i - window];
    pending[i] = producer.publish(TYPE, events[i]!);
  }
  await Promise.all(pending);
  const sdkS = (performance.now() - t0) / 1000;
  await producer.close();

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
  const kafka = createKafka({ clientId: 'bench-raw' });
  const raw = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await raw.connect();
  await raw.send({ topic: opts.topic, acks: -1, messages: messages.slice(0, 1) });
  const batch = 2_000;
  const t1 = performance.now();
  for (let i = 0; i < messages.length; i += batch) {
    await raw.sendBatch({ acks: -1, topicMessages: [{ topic: opts.topic, messages: messages.slice(i, i + batch) }] });
  }
  const rawS = (performance.now() - t1) / 1000;
  await raw.disconnect();
  return { sdkEventsPerS: opts.n / sdkS, rawEventsPerS: opts.n / rawS, valueBytes };
}
