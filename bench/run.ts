/**
 * `npm run bench`: measures the bus's figures beside their baselines in the
 * same run and writes bench/results/latest.json. Needs the stack
 * (`npm run stack:up`); topics are created per run and deleted afterwards.
 * BENCH_RECORDS scales the run (default 200000). BENCH_ONLY (comma-separated
 * sections: java, sdk, gateway, projection, replay, alerts) runs some of them
 * and writes bench/results/partial.json instead (replay needs projection's
 * backlog, so it brings projection along).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createKafka, readEndpoints } from '../core/index.ts';
import { KAFKA_VERSION, ROOT, stackUp } from '../scripts/stack/stack.ts';
import { createReport, median, printReport, writeReport } from './figures.ts';
import { javaPerf } from './java-perf.ts';
import { prepareProjectionBacklog, projectionRound, type ProjectionRound } from './projection.ts';
import { rawConsumePerS } from './raw-consume.ts';
import { benchReplay, type ReplayBenchResult } from './replay.ts';
import { benchSdk } from './sdk.ts';
import { benchGateway } from './gateway.ts';
import { benchAlerts } from './alerts.ts';
import { applyTopics, loadCatalog } from '../catalog/index.ts';

const RECORD_SIZE = 300;
const records = Number(process.env.BENCH_RECORDS ?? 200_000);
/** Rounds of the projection and replay figures (each a median of its rounds). */
const benchRounds = Number(process.env.BENCH_ROUNDS ?? 3);
if (!Number.isInteger(benchRounds) || benchRounds < 1) throw new Error(`BENCH_ROUNDS must be an integer ≥ 1, not "${process.env.BENCH_ROUNDS}"`);
/** Pairs of the no-op consumer and the export per round: each pair is a few seconds, and more pairs steady their median ratio. */
const replayPairs = Number(process.env.BENCH_REPLAY_PAIRS ?? 3);
if (!Number.isInteger(replayPairs) || replayPairs < 1) throw new Error(`BENCH_REPLAY_PAIRS must be an integer ≥ 1, not "${process.env.BENCH_REPLAY_PAIRS}"`);
const endpoints = readEndpoints();
await stackUp(endpoints);

const admin = createKafka({ clientId: 'bench' }).admin();
await admin.connect();
const runId = Date.now().toString(36);
const created: string[] = [];
/** Prefix of the catalog topics a bench run creates (`<prefix>sns.conred.incidents.v1`, …). */
const prefix = `bench-${runId}.`;
const catalog = loadCatalog();
async function benchTopic(name: string, partitions = 6): Promise<string> {
  const topic = `bench-${name}-${runId}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  created.push(topic);
  return topic;
}

const SECTIONS = ['java', 'sdk', 'gateway', 'projection', 'replay', 'alerts'] as const;
const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((x) => x.trim())) : null;
for (const s of only ?? []) if (!(SECTIONS as readonly string[]).includes(s)) throw new Error(`BENCH_ONLY: unknown section "${s}"; known: ${SECTIONS.join(', ')}`);
if (only?.has('replay')) only.add('projection');
if (only?.has('gateway')) only.add('sdk');
const runs = (section: (typeof SECTIONS)[number]): boolean => !only || only.has(section);

/**
 * Between sections: deletes the topics no later section reads, flushes what the
 * broker wrote to disk and pauses, so a section does not pay for the writeback of
 * the one before (the figures and their baselines share each section anyway).
 */
async function settle(keep: (topic: string) => boolean): Promise<void> {
  const done = (await admin.listTopics()).filter((t) => (t.startsWith(prefix) || created.includes(t)) && !keep(t));
  if (done.length) await admin.deleteTopics({ topics: done }).catch(() => undefined);
  execFileSync('sync');
  await new Promise((r) => setTimeout(r, 3_000));
}

const report = createReport({ kafka: KAFKA_VERSION, recordSizeBytes: RECORD_SIZE, records, brokers: endpoints.brokers.length });
try {
  if (runs('java')) {
    // The JVM needs more records than a short run to warm up; its figure is a ceiling, so give it the room.
    const javaRecords = Number(process.env.BENCH_JAVA_RECORDS ?? Math.max(records, 1_000_000));
    const java = javaPerf(endpoints.brokers.join(','), await benchTopic('java'), javaRecords, RECORD_SIZE);
    report.add('java_producer_records_per_s', java.producerRecordsPerS, 'records/s', null, { note: 'kafka ProducerPerformance, acks=all, idempotent' });
    report.add('java_consumer_records_per_s', java.consumerRecordsPerS, 'records/s', null, { note: 'kafka ConsumerPerformance' });
    await settle(() => false);
  }

  if (runs('sdk')) {
    // SDK publishing (issue 3): the SDK beside raw kafkajs sendBatch of the same pre-encoded records.
    await applyTopics(catalog, { admin, prefix, only: ['sns.conred.incidents.v1'] });
    const sdk = await benchSdk({ prefix, topic: await benchTopic('raw-sendbatch'), n: records, recordSize: RECORD_SIZE, registryUrl: endpoints.registryUrl });
    report.add('raw_kafkajs_sendbatch_per_s', sdk.rawEventsPerS, 'events/s', null, { compareTo: ['java_producer_records_per_s'], note: `pre-encoded, ${Math.round(sdk.valueBytes)}-byte values, batches of 2000, idempotent, acks=all; median of ${sdk.rawRates.length} rounds alternating with the SDK, both warmed up` });
    report.add('sdk_publish_events_per_s', sdk.sdkEventsPerS, 'events/s', 'raw_kafkajs_sendbatch_per_s', {
      compareTo: ['java_producer_records_per_s'],
      pairedRatio: sdk.pairedRatio,
      note: `validate + encode + publish, acks=all, idempotent; median of ${sdk.sdkRates.length} rounds; ratio = median of the per-round ratios (${sdk.sdkRates.map((r, i) => (r / sdk.rawRates[i]!).toFixed(2)).join(', ')})`,
    });
  }

  if (runs('gateway')) {
    // Ingest gateway (issue 4): single events over keep-alive HTTP, 202 only after Kafka's ack; baseline the SDK.
    const gw = await benchGateway({ prefix, durationS: Number(process.env.BENCH_GATEWAY_SECONDS ?? 10) });
    report.add('gateway_events_per_s', gw.eventsPerS, 'events/s', 'sdk_publish_events_per_s', { note: `autocannon on loopback, ${gw.connections} keep-alive connections, one event per request; p50 ${gw.p50Ms} ms, p99 ${gw.p99Ms} ms, ${gw.non202} non-202` });
  }

  if (runs('sdk') || runs('gateway')) await settle(() => false);

  if (runs('projection')) {
    // Central store (issue 6) and replay (issue 7): one backlog, then rounds of the no-op consumer (the client's
    // ceiling), the export beside it, and COPY + the projector on a fresh database; medians of the rounds, and
    // ratios as medians of per-round ratios, so a load change on the machine between rounds cancels out.
    const backlog = await prepareProjectionBacklog({ prefix: `${prefix}projection.`, n: records, admin });
    // Every no-op run (the figure's median), the median of each round's (the projection's ceiling of that round),
    // and the exports, each paired with the no-op run beside it.
    const raws: number[] = [];
    const roundRaws: number[] = [];
    const exports: ReplayBenchResult[] = [];
    const exportRaws: number[] = [];
    const rounds: ProjectionRound[] = [];
    for (let r = 0; r < benchRounds; r++) {
      // The previous round's projection (WAL, checkpoint, DROP DATABASE) must not weigh on this one's first runs.
      if (r > 0) {
        execFileSync('sync');
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      }
      const mine: number[] = [];
      const raw = async (pair: number) => {
        const x = await rawConsumePerS(backlog.topics, records, `${backlog.prefix}raw-${r}-${pair}`);
        mine.push(x);
        raws.push(x);
        return x;
      };
      if (runs('replay')) {
        for (let pair = 0; pair < replayPairs; pair++) {
          // Alternating which of the two goes first.
          if ((r * replayPairs + pair) % 2 === 0) {
            const x = await raw(pair);
            exports.push(await benchReplay({ prefix: backlog.prefix, n: records }));
            exportRaws.push(x);
          } else {
            exports.push(await benchReplay({ prefix: backlog.prefix, n: records }));
            exportRaws.push(await raw(pair));
          }
        }
      } else await raw(0);
      roundRaws.push(median(mine));
      rounds.push(await projectionRound(backlog));
    }
    const list = (xs: readonly number[], digits = 0) => xs.map((x) => (digits ? x.toFixed(digits) : String(Math.round(x)))).join(', ');
    const copies = rounds.map((x) => x.pgCopyRowsPerS);
    const copyEvents = rounds.map((x) => x.pgCopyEventsPerS);
    const projected = rounds.map((x) => x.projectionEventsPerS);
    const cpu = (k: keyof ProjectionRound['cpuUsPerEvent']) => Math.round(median(rounds.map((x) => x.cpuUsPerEvent[k])));
    const rawMedian = median(raws);
    const copyEventsMedian = median(copyEvents);
    const rowsPerEvent = backlog.copyTables.reduce((n, t) => n + t.rows, 0) / records;
    // The baseline is the slower ceiling in events/s (by median); each round's ratio is to that ceiling's figure of the round.
    const rawIsSlower = rawMedian < copyEventsMedian;
    const ceilings = rawIsSlower ? roundRaws : copyEvents;
    report.add('raw_kafkajs_consume_per_s', rawMedian, 'events/s', null, { compareTo: ['java_consumer_records_per_s'], note: `no-op eachBatch consumer over the projection backlog, in a child process; median of ${raws.length} runs (${list(raws)})` });
    report.add('pg_copy_rows_per_s', median(copies), 'rows/s', null, {
      note: `COPY of the same rows the projection writes (${backlog.copyTables.map((t) => `${t.table} ${t.rows}`).join(', ')}: ${rowsPerEvent.toFixed(2)} rows per event) into unindexed staging tables shaped like the store's, on a fresh database; median of ${copies.length} rounds (${list(copies)})`,
    });
    report.add('pg_copy_events_per_s', copyEventsMedian, 'events/s', null, {
      note: `the store's ceiling in events: events whose rows pg_copy_rows_per_s copies per second; median of ${copyEvents.length} rounds (${list(copyEvents)})`,
    });
    const copyIndexed = rounds.map((x) => x.pgCopyIndexedEventsPerS);
    const copyCpu = (k: keyof ProjectionRound['copyCpuUsPerEvent']) => median(rounds.map((x) => x.copyCpuUsPerEvent[k])).toFixed(1);
    report.add('pg_copy_indexed_events_per_s', median(copyIndexed), 'events/s', 'pg_copy_events_per_s', {
      pairedRatio: median(copyIndexed.map((x, i) => x / copyEvents[i]!)),
      note: `the same COPY into staging tables carrying every index of the store's tables (made non-unique: the backlog repeats some keys across chunks), on the same fresh database: what the store's indexes alone cost, with no Kafka, decoding, merge or offsets, so a bound on any projector into this store; median of ${copyIndexed.length} rounds (${list(copyIndexed)}); ratio = median of per-round ratios to pg_copy_events_per_s (${list(copyIndexed.map((x, i) => x / copyEvents[i]!), 3)}); PostgreSQL backend CPU per event (medians): ${copyCpu('indexed')} µs indexed, ${copyCpu('unindexed')} µs unindexed`,
    });
    report.add('projection_events_per_s', median(projected), 'events/s', rawIsSlower ? 'raw_kafkajs_consume_per_s' : 'pg_copy_events_per_s', {
      compareTo: ['raw_kafkajs_consume_per_s', 'pg_copy_events_per_s', 'pg_copy_indexed_events_per_s'],
      pairedRatio: median(projected.map((p, i) => p / ceilings[i]!)),
      note: `decode + validate + one-transaction batches with offsets, ${Math.round(backlog.meanValueBytes)}-byte values; median of ${projected.length} rounds (${list(projected)}); ratio = median of the per-round ratios to the slower ceiling's figure of the same round (${list(projected.map((p, i) => p / ceilings[i]!), 3)}); CPU per event (medians): projector ${cpu('projector')} µs, its PostgreSQL backends ${cpu('postgres')} µs, whole machine ${cpu('machine')} µs`,
    });
    report.add('projection_peak_rss_mb', Math.max(...rounds.map((x) => x.peakRssMb)), 'MiB', null, { note: 'VmHWM of the projector process during the drain (highest of the rounds)' });
    if (runs('replay')) {
      const rates = exports.map((x) => x.eventsPerS);
      const last = exports[exports.length - 1]!;
      report.add('replay_export_events_per_s', median(rates), 'events/s', 'raw_kafkajs_consume_per_s', {
        compareTo: ['java_consumer_records_per_s'],
        pairedRatio: median(rates.map((x, i) => x / exportRaws[i]!)),
        note: `throwaway group, decode through the current reader schemas, CloudEvents NDJSON to a file (${Math.round(last.outputBytes / last.events)} bytes/event); median of ${rates.length} runs, ${replayPairs} per round (${list(rates)}); ratio = median of the ratios of each run to the no-op consumer run beside it (${list(rates.map((x, i) => x / exportRaws[i]!), 3)})`,
      });
      report.add('replay_export_peak_rss_mb', Math.max(...exports.map((x) => x.peakRssMb)), 'MiB', null, { note: 'VmHWM of the export process (highest of the rounds)' });
    }
  }

  if (runs('projection')) await settle(() => false);

  if (runs('alerts')) {
    // Real-time alerts (issue 5): publish resolved → alert on an SSE client, steady 1,000 events/s; then 1,000 SSE subscribers.
    const alertPrefix = `${prefix}alerts.`;
    await applyTopics(catalog, { admin, prefix: alertPrefix });
    const alerts = await benchAlerts({ prefix: alertPrefix, seconds: Number(process.env.BENCH_ALERT_SECONDS ?? 60) });
    const st = alerts.stages;
    const alertNote = `${alerts.published} Alba-Keneth activations at ${Math.round(alerts.eventsPerS)} events/s, ${alerts.alerts} of their alerts on the SSE client within 30 s of the last publish (a missing one counts as infinitely late; null = over 1% missing); the client resumed with Last-Event-ID ${alerts.reconnects} time(s) after the server cut it off for falling behind; projector, alert service and push server as separate processes; goal p99 < 250 ms; publish → alert stored p50/p99 ${Math.round(st.toStoreP50Ms)}/${Math.round(st.toStoreP99Ms)} ms, stored → SSE ${Math.round(st.storeToSseP50Ms)}/${Math.round(st.storeToSseP99Ms)} ms`;
    report.add('alert_latency_p50_ms', alerts.p50Ms, 'ms', null, { note: alertNote });
    report.add('alert_latency_p99_ms', alerts.p99Ms, 'ms', null, { note: alertNote });
    report.add('sse_fanout_p99_ms', alerts.fanoutP99Ms, 'ms', null, { note: `${alerts.subscribers} concurrent SSE subscribers, 30 alerts, publish resolved → arrival on each subscriber; ${alerts.fanoutArrived} of ${alerts.fanoutExpected} deliveries within 20 s; p50 ${Math.round(alerts.fanoutP50Ms)} ms` });
  }
} finally {
  created.push(...(await admin.listTopics()).filter((t) => t.startsWith(prefix)));
  await admin.deleteTopics({ topics: created }).catch(() => undefined);
  await admin.disconnect();
}

const result = report.finish();
printReport(result);
writeReport(join(ROOT, only ? 'bench/results/partial.json' : 'bench/results/latest.json'), result);
