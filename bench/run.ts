/**
 * `npm run bench`: measures the bus's figures beside their baselines in the
 * same run and writes bench/results/latest.json. Needs the stack
 * (`npm run stack:up`); topics are created per run and deleted afterwards.
 * BENCH_RECORDS scales the run (default 200000).
 */
import { join } from 'node:path';
import { createKafka, readEndpoints } from '../core/index.ts';
import { KAFKA_VERSION, ROOT, stackUp } from '../scripts/stack/stack.ts';
import { createReport, printReport, writeReport } from './figures.ts';
import { javaPerf } from './java-perf.ts';

const RECORD_SIZE = 300;
const records = Number(process.env.BENCH_RECORDS ?? 200_000);
const endpoints = readEndpoints();
await stackUp(endpoints);

const admin = createKafka({ clientId: 'bench' }).admin();
await admin.connect();
const runId = Date.now().toString(36);
const created: string[] = [];
async function benchTopic(name: string, partitions = 6): Promise<string> {
  const topic = `bench-${name}-${runId}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  created.push(topic);
  return topic;
}

const report = createReport({ kafka: KAFKA_VERSION, recordSizeBytes: RECORD_SIZE, records, brokers: endpoints.brokers.length });
try {
  // The JVM needs more records than a short run to warm up; its figure is a ceiling, so give it the room.
  const javaRecords = Number(process.env.BENCH_JAVA_RECORDS ?? Math.max(records, 1_000_000));
  const java = javaPerf(endpoints.brokers.join(','), await benchTopic('java'), javaRecords, RECORD_SIZE);
  report.add('java_producer_records_per_s', java.producerRecordsPerS, 'records/s', null, { note: 'kafka ProducerPerformance, acks=all, idempotent' });
  report.add('java_consumer_records_per_s', java.consumerRecordsPerS, 'records/s', null, { note: 'kafka ConsumerPerformance' });
} finally {
  await admin.deleteTopics({ topics: created }).catch(() => undefined);
  await admin.disconnect();
}

const result = report.finish();
printReport(result);
writeReport(join(ROOT, 'bench/results/latest.json'), result);
