/**
 * Replay figure (issue 7): exporting a backlog to NDJSON, decoded through the
 * current reader schemas, in a child process of its own (so its peak RSS is
 * its own). It reads the projection bench's backlog, so its baseline
 * `raw_kafkajs_consume_per_s` (a no-op kafkajs consumer) is measured over the
 * very same events and not measured twice.
 *
 * Run as a child (`--bench-replay-child <prefix> <out>`), this file performs the export and
 * reports `{ events, ms }` to its parent.
 */
import { fork } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCatalog } from '../catalog/index.ts';
import { reapChild, runAsChild } from './child.ts';
import { createKafka, readEndpoints } from '../core/index.ts';
import { exportEvents, planSize, resolvePlan } from '../consumers/replay/index.ts';

/** The topics of the projection bench's backlog. */
const TOPICS = ['sns.conred.incidents.v1', 'sns.pgn.alba-keneth.v1', 'sns.igm.migratory-movements.v1', 'sns.mingob.stolen-vehicles.v1', 'sns.mingob.arrest-warrants.v1'];

const CHILD_FLAG = '--bench-replay-child';

export interface ReplayBenchOptions {
  /** Prefix of the backlog's topics (the projection bench's). */
  prefix: string;
  /** Events expected in the backlog. */
  n: number;
}

export interface ReplayBenchResult {
  eventsPerS: number;
  peakRssMb: number;
  events: number;
  outputBytes: number;
}

async function child(): Promise<void> {
  const [, , , prefix = '', out = ''] = process.argv;
  const kafka = createKafka({ clientId: 'bench-replay' });
  const catalog = loadCatalog();
  const admin = kafka.admin();
  await admin.connect();
  const plan = await resolvePlan(admin, catalog, { topics: TOPICS }, { topicPrefix: prefix });
  await admin.disconnect();
  const total = planSize(plan);
  let started = 0;
  let ended = 0;
  let firstBatch = 0;
  let written = 0;
  const r = await exportEvents({
    kafka, catalog, plan, topicPrefix: prefix, registryUrl: readEndpoints().registryUrl, out, format: 'ndjson', fingerprint: 'bench',
    // Timed like the no-op consumer: from the first batch on (group join excluded), that batch's events excluded,
    // up to the batch that completes the backlog (leaving the group and deleting it excluded, as the no-op's disconnect is).
    onProgress: (_offsets, events) => {
      if (started === 0 && events > 0) {
        started = Date.now();
        firstBatch = events;
      }
      written += events;
      if (ended === 0 && written >= total) ended = Date.now();
    },
  });
  process.send!({ events: r.events, timedEvents: r.events - firstBatch, offsets: total, ms: (ended || Date.now()) - started });
}

/** Runs the export bench in a child process; the output file is deleted afterwards. */
export async function benchReplay(options: ReplayBenchOptions): Promise<ReplayBenchResult> {
  const out = join(tmpdir(), `bench-replay-${Date.now().toString(36)}.ndjson`);
  const proc = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, options.prefix, out], {
    // BENCH_REPLAY_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, profiles the export.
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_REPLAY_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    stdio: 'ignore',
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  let peakRssMb = 0;
  const rss = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      if (m) peakRssMb = Math.max(peakRssMb, Number(m[1]) / 1024);
    } catch {
      /* process gone */
    }
  };
  const timer = setInterval(rss, 100);
  try {
    const result = await new Promise<{ events: number; timedEvents: number; ms: number }>((resolve, reject) => {
      proc.once('message', (m) => {
        rss();
        resolve(m as { events: number; timedEvents: number; ms: number });
      });
      proc.once('exit', (code) => reject(new Error(`replay bench child exited with ${code}`)));
    });
    if (result.events !== options.n) throw new Error(`replay bench exported ${result.events} of ${options.n} events`);
    const outputBytes = statSync(out).size;
    return { eventsPerS: result.timedEvents / (Math.max(1, result.ms) / 1000), peakRssMb, events: result.events, outputBytes };
  } finally {
    clearInterval(timer);
    await reapChild(proc);
    rmSync(out, { force: true });
  }
}

runAsChild(CHILD_FLAG, child);
