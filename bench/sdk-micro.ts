/**
 * CPU-only micro-benchmark of the SDK's per-event main-thread work (no Kafka):
 * validation, Avro encoding, partitioning, headers, and the whole publish
 * path against a stand-in for kafkajs. CPU time per event (process.cpuUsage,
 * so other load on the machine matters less).
 * `npx tsx bench/sdk-micro.ts [--publish-only]`.
 */
import { Partitioners } from 'kafkajs';
import { assertValidEvent, getContract, getField } from '../contracts/index.ts';
import { encodeFramed } from '../registry/index.ts';
import { compileEncoder } from '../contracts/avro-encoder.ts';
import { sizedIncident } from './sdk.ts';
import { partitionOfKey } from '../producers/partitioner.ts';
import { sampleEvent } from '../contracts/index.ts';

const TYPE = 'conred.incident.reported' as const;
const N = 200_000;
/** `--publish-only` skips the per-step timings. */
const publishOnly = process.argv.includes('--publish-only');
const template = sizedIncident(300);
const events = Array.from({ length: N }, () => sampleEvent(TYPE, { description: template.description }));
const contract = getContract(TYPE);
const partitionFor = Partitioners.DefaultPartitioner();
const md = Array.from({ length: 6 }, (_, i) => ({ partitionErrorCode: 0, partitionId: i, leader: 0, replicas: [0], isr: [0] }));

function time(name: string, fn: (e: (typeof events)[number]) => unknown): void {
  if (publishOnly) return;
  for (let r = 0; r < 3; r++) {
    const c0 = process.cpuUsage();
    let sink = 0;
    for (const e of events) sink += fn(e) ? 1 : 0;
    const c = process.cpuUsage(c0);
    const us = (c.user + c.system) / N;
    if (r === 2) console.log(`${name.padEnd(28)} ${us.toFixed(2)} µs/event`, sink === -1 ? '' : '');
  }
}

time('assertValidEvent', (e) => assertValidEvent(TYPE, e));
time('encodeFramed (avsc)', (e) => encodeFramed(1, contract.avroType, e));
const compiled = compileEncoder(contract.avroType);
time('encodeFramed (compiled)', (e) => encodeFramed(1, compiled, e));
time('avroType.toBuffer', (e) => contract.avroType.toBuffer(e));
time('getField key', (e) => String(getField(e as never, 'incidentId')));
time('kafkajs partitioner', (e) => partitionFor({ topic: 't', partitionMetadata: md, message: { key: e.incidentId, value: null } }));
time('partitionOfKey', (e) => partitionOfKey(e.incidentId, 6));
time('headers', (e) => ({ ce_specversion: '1.0', ce_id: e.eventId, ce_source: 'CONRED', ce_type: TYPE, ce_time: e.occurredAt, ce_subject: e.incidentId, 'content-type': 'application/avro' }));

// The whole publish path against a kafkajs stand-in that acknowledges at once: the SDK's own cost per event.
const { createProducer } = await import('../producers/index.ts');
const { readEndpoints } = await import('../core/index.ts');
let sent = 0;
const fakeKafka = {
  producer: () => ({
    connect: async () => undefined,
    disconnect: async () => undefined,
    sendBatch: async ({ topicMessages }: { topicMessages: { topic: string; messages: { partition: number }[] }[] }) => {
      const out: { topicName: string; partition: number; errorCode: number; baseOffset: string }[] = [];
      for (const t of topicMessages) {
        const seen = new Set<number>();
        for (const m of t.messages) seen.add(m.partition);
        for (const p of seen) out.push({ topicName: t.topic, partition: p, errorCode: 0, baseOffset: String(sent) });
        sent += t.messages.length;
      }
      return out;
    },
  }),
  admin: () => ({
    connect: async () => undefined,
    disconnect: async () => undefined,
    fetchTopicMetadata: async () => ({ topics: [{ partitions: [0, 1, 2, 3, 4, 5].map((partitionId) => ({ partitionId })) }] }),
  }),
};
const producer = createProducer({ institution: 'CONRED', topicPrefix: 'micro.', autoRegister: true, registryUrl: readEndpoints().registryUrl, kafka: fakeKafka as never });
const { PerformanceObserver } = await import('node:perf_hooks');
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });
for (let r = 0; r < 3; r++) {
  const c0 = process.cpuUsage();
  // The same publisher as bench/sdk.ts: at most 8,000 unacknowledged, in a ring.
  const pending: Promise<unknown>[] = new Array(8_000);
  for (let i = 0; i < events.length; i++) {
    const slot = i % 8_000;
    if (i >= 8_000) await pending[slot];
    pending[slot] = producer.publish(TYPE, events[i]!);
  }
  await Promise.all(pending);
  const c = process.cpuUsage(c0);
  const us = (c.user + c.system) / N;
  await new Promise((r) => setImmediate(r));
  console.log(`${'publish (no Kafka)'.padEnd(28)} ${us.toFixed(2)} µs/event, GC ${((gcMs * 1000) / N).toFixed(2)} µs/event`);
  gcMs = 0;
}
await producer.close();
