/**
 * The client's ceiling, `raw_kafkajs_consume_per_s`: a no-op kafkajs
 * eachBatch consumer over a backlog, in a fresh child process, as the export
 * and the projector it is compared with are (same cold start, same heap
 * conditions, nothing left over from producing the backlog).
 *
 * Run as a child (`--bench-raw-child <n> <group> <topics…>`), this file
 * consumes the backlog and reports `{ timedEvents, ms }` to its parent.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { reapChild, runAsChild } from './child.ts';
import { createKafka } from '../core/index.ts';

const CHILD_FLAG = '--bench-raw-child';

async function child(): Promise<void> {
  const [, , , nArg = '0', groupId = '', ...topics] = process.argv;
  const n = Number(nArg);
  const kafka = createKafka({ clientId: 'bench-raw-consume' });
  // Fetch sizes and concurrency as the export's reader uses them.
  const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 2 * 1024 * 1024, maxBytes: 8 * 1024 * 1024 });
  // A crash (even one kafkajs restarts from) would make the count wrong or never end: fail the figure instead.
  let crashed: Error | undefined;
  consumer.on(consumer.events.CRASH, (e) => {
    crashed = e.payload.error;
  });
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  let seen = 0;
  let started = 0;
  let ended = 0;
  // Timed from the first batch on (group join excluded), that batch's events excluded: as the projection and the export are.
  let firstBatch = 0;
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch }) => {
      if (started === 0) {
        started = Date.now();
        firstBatch = batch.messages.length;
      }
      seen += batch.messages.length;
      if (seen >= n && ended === 0) ended = Date.now();
    },
  });
  while (ended === 0 && !crashed) await new Promise((r) => setTimeout(r, 20));
  await consumer.disconnect();
  if (crashed) throw crashed;
  await new Promise<void>((resolve) => process.send!({ timedEvents: n - firstBatch, ms: ended - started }, () => resolve()));
}

/** Consumes `n` events of `topics` with a no-op consumer of group `groupId` in a child process; events per second. */
export async function rawConsumePerS(topics: readonly string[], n: number, groupId: string): Promise<number> {
  const proc = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, String(n), groupId, ...topics], {
    execArgv: ['--import', 'tsx'],
    // stderr stays visible: a failing child says why.
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  try {
    const r = await new Promise<{ timedEvents: number; ms: number }>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('message', (m) => resolve(m as { timedEvents: number; ms: number }));
      proc.once('exit', (code) => reject(new Error(`raw consume bench child exited with ${code}`)));
    });
    return r.timedEvents / (Math.max(1, r.ms) / 1000);
  } finally {
    await reapChild(proc);
  }
}

runAsChild(CHILD_FLAG, child);
