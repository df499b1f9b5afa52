/**
 * Kafka's own perf tools, from the same jars as the broker: the ceiling the
 * JVM client reaches on this machine, the baseline every other figure is
 * compared with.
 */
import { spawnSync } from 'node:child_process';
import { fetchKafka, findJava } from '../scripts/stack/stack.ts';

export interface JavaPerfResult {
  producerRecordsPerS: number;
  consumerRecordsPerS: number;
}

function run(args: string[]): string {
  const java = findJava(17, 'KAFKA_JAVA_HOME');
  const r = spawnSync(java, ['-Xmx1g', '-cp', `${fetchKafka()}/*`, ...args], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`${args[0]} failed: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

/** Runs ProducerPerformance then ConsumerPerformance over `records` records of `recordSize` bytes on `topic`. */
export function javaPerf(brokers: string, topic: string, records: number, recordSize: number): JavaPerfResult {
  const out = run([
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic', topic,
    '--num-records', String(records),
    '--record-size', String(recordSize),
    '--throughput', '-1',
    '--producer-props', `bootstrap.servers=${brokers}`, 'acks=all', 'enable.idempotence=true', 'linger.ms=5', 'batch.size=65536',
  ]);
  const summary = out.trim().split('\n').at(-1) ?? '';
  const p = /([\d.]+) records\/sec/.exec(summary);
  if (!p) throw new Error(`cannot parse ProducerPerformance output: ${summary}`);
  const cout = run([
    'org.apache.kafka.tools.ConsumerPerformance',
    '--bootstrap-server', brokers,
    '--topic', topic,
    '--messages', String(records),
    '--timeout', '60000',
  ]);
  const lines = cout.trim().split('\n');
  const header = lines.findIndex((l) => l.includes('nMsg.sec'));
  if (header < 0) throw new Error(`cannot parse ConsumerPerformance output: ${cout.slice(-500)}`);
  const cols = lines[header]!.split(',').map((s) => s.trim());
  const vals = lines[header + 1]!.split(',').map((s) => s.trim());
  return { producerRecordsPerS: Number(p[1]), consumerRecordsPerS: Number(vals[cols.indexOf('nMsg.sec')]) };
}
