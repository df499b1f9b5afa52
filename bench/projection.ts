/**
 * Projection figures (central store issue): drains an N-event backlog of
 * mixed institution events through the projector service (a child process,
 * so its RSS is its own) and measures, in the same run, the two ceilings it
 * sits between: a no-op kafkajs eachBatch consumer over the same events
 * (`raw-consume.ts`, a child process too), and COPY of the same envelope rows
 * into a staging table.
 *
 * The backlog is produced once (`prepareProjectionBacklog`); `projectionRound`
 * then measures COPY and the projector on a fresh database, and run.ts repeats
 * rounds of it beside the no-op consumer, so every figure is a median and every
 * ratio a median of per-round ratios.
 */
import { fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { applyTopics, loadCatalog } from '../catalog/index.ts';
import { getContract, sampleEvent, type EventDataMap, type EventType } from '../contracts/index.ts';
import { PROJECTED_EVENT_TYPES } from '../consumers/index.ts';
import { createKafka, databaseUrlFor, readEndpoints } from '../core/index.ts';
import { migrate } from '../migrations/index.ts';
import { SERVICES } from '../scripts/services.ts';
import { createRegistry, encodeWire, subjectFor } from '../registry/index.ts';

const PROJECTOR_NODE_ARGS = SERVICES.find((s) => s.name === 'projector')!.nodeArgs;
const MAIN = fileURLToPath(new URL('../consumers/projector-main.ts', import.meta.url));
const MIX: EventType[] = [
  'igm.migratory-movement.recorded', 'igm.migratory-movement.recorded', 'igm.migratory-movement.recorded', 'igm.migratory-movement.recorded',
  'conred.incident.reported', 'conred.incident.reported', 'mingob.vehicle.reported-stolen', 'mingob.vehicle.reported-stolen',
  'mingob.arrest-warrant.issued', 'pgn.alba-keneth.activated',
];

export interface ProjectionBacklogOptions {
  /** Topic prefix of this run (topics are created under it; the caller deletes them). */
  prefix: string;
  /** Backlog size. */
  n: number;
  admin: Admin;
}

/** The backlog a run produced, and the envelope rows COPY writes. */
export interface ProjectionBacklog {
  prefix: string;
  n: number;
  /** The topics holding events (with prefix). */
  topics: string[];
  copyLines: string[];
  meanValueBytes: number;
}

/** One round: COPY and the projector, each on a fresh database. */
export interface ProjectionRound {
  projectionEventsPerS: number;
  pgCopyRowsPerS: number;
  peakRssMb: number;
  /** CPU time per projected event: the projector process, its PostgreSQL backends, and the whole machine (Kafka and the rest included). */
  cpuUsPerEvent: { projector: number; postgres: number; machine: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Clock ticks per second of /proc (USER_HZ; 100 on Linux). */
const TICKS_PER_S = 100;

/** CPU seconds a process has used (user + system), from /proc; 0 once it is gone. */
function processCpuS(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return 0;
  }
}

/** CPU seconds used so far by the PostgreSQL backends serving `database` (their process title names it). */
function backendsCpuS(database: string): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(` ${database} `)) total += processCpuS(Number(pid));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return total;
}

/** CPU seconds the whole machine has been busy (every core, idle and iowait excluded), from /proc/stat. */
function machineBusyS(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  return (user! + nice! + system! + irq! + softirq! + steal!) / TICKS_PER_S;
}

/** COPY of `lines` (envelope rows, text format) into a new unindexed staging table; rows per second. */
async function copyRowsPerS(pool: pg.Pool, lines: readonly string[]): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('CREATE TABLE store.copy_staging (LIKE store.event_log INCLUDING DEFAULTS)');
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const stream = client.query(copyFrom('COPY store.copy_staging (event_id, event_type, source, occurred_at, topic, partition, "offset", schema_id, entity_key) FROM STDIN'));
      stream.on('finish', resolve).on('error', reject);
      let i = 0;
      const write = () => {
        let ok = true;
        while (i < lines.length && ok) ok = stream.write(lines[i++]!);
        if (i < lines.length) stream.once('drain', write);
        else stream.end();
      };
      write();
    });
    const rowsPerS = lines.length / ((Date.now() - started) / 1000);
    await client.query('DROP TABLE store.copy_staging');
    return rowsPerS;
  } finally {
    client.release();
  }
}

/** Creates the topics and produces the backlog (valid events, pre-encoded like the SDK writes them). */
export async function prepareProjectionBacklog(options: ProjectionBacklogOptions): Promise<ProjectionBacklog> {
  const { prefix, n, admin } = options;
  const endpoints = readEndpoints();
  const catalog = loadCatalog();
  const kafka = createKafka({ clientId: 'bench-projection' });
  // Every topic the projector subscribes to must exist, even those the mix leaves empty.
  const projected = catalog.topics.filter((t) => t.eventTypes.some((e) => (PROJECTED_EVENT_TYPES as readonly string[]).includes(e))).map((t) => t.name);
  await applyTopics(catalog, { admin, prefix, only: [...projected, 'sns.st.dead-letter.v1'] });
  const topics = [...new Set(MIX.map((t) => prefix + catalog.topicOf(t).name))];

  // The backlog: valid events, pre-encoded like the SDK writes them.
  const registry = createRegistry(endpoints.registryUrl);
  const ids = new Map<EventType, number>();
  for (const t of new Set(MIX)) {
    const c = getContract(t);
    ids.set(t, await registry.resolveId(subjectFor(prefix + catalog.topicOf(t).name, c.subjectRecordName), c.schema, { register: true }));
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const copyLines: string[] = [];
  let valueBytes = 0;
  const CHUNK = 5_000;
  for (let i = 0; i < n; i += CHUNK) {
    const byTopic = new Map<string, { key: string; value: Buffer; headers: Record<string, string> }[]>();
    for (let j = i; j < Math.min(n, i + CHUNK); j++) {
      const type = MIX[j % MIX.length]!;
      const data = sampleEvent(type) as EventDataMap[EventType] & Record<string, unknown>;
      const key = String(data[catalog.keyFieldOf(type)]);
      const value = encodeWire(ids.get(type)!, getContract(type).avroType.toBuffer(data));
      valueBytes += value.length;
      const topic = prefix + catalog.topicOf(type).name;
      if (!byTopic.has(topic)) byTopic.set(topic, []);
      byTopic.get(topic)!.push({ key, value, headers: { ce_id: data.eventId, ce_source: catalog.ownerOf(type), ce_type: type, ce_time: data.occurredAt } });
      copyLines.push(`${data.eventId}\t${type}\t${catalog.ownerOf(type)}\t${data.occurredAt}\t${topic}\t0\t${j}\t${ids.get(type)}\t${key}\n`);
    }
    await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  }
  await producer.disconnect();

  return { prefix, n, topics, copyLines, meanValueBytes: valueBytes / n };
}

/** COPY, then the projector draining the whole backlog, on a database of their own (dropped afterwards). */
export async function projectionRound(backlog: ProjectionBacklog): Promise<ProjectionRound> {
  const { prefix, n, copyLines } = backlog;
  const endpoints = readEndpoints();
  // The projector as a service, in its own process, into a fresh database, with a group of its own.
  const database = `bench_projection_${Date.now().toString(36)}`;
  const server = new pg.Client({ connectionString: endpoints.databaseUrl });
  await server.connect();
  await server.query(`CREATE DATABASE ${database}`);
  const databaseUrl = databaseUrlFor(database);
  await migrate({ databaseUrl });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  // DROP DATABASE … WITH (FORCE) below may terminate a connection the pool is still closing: expected, not a failure.
  pool.on('error', () => undefined);
  let projectionEventsPerS = 0;
  let peakRssMb = 0;
  let pgCopyRowsPerS = 0;
  let cpuUsPerEvent = { projector: 0, postgres: 0, machine: 0 };
  try {
    // Ceiling 2: COPY of the same envelope rows into a staging table, on the fresh
    // database before the projector runs (afterwards, its checkpoint and autovacuum
    // would slow COPY down and flatter the ratio).
    pgCopyRowsPerS = await copyRowsPerS(pool, copyLines);

    const child = fork(MAIN, [], {
      // BENCH_PROJECTOR_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`, profiles the projector.
      // The same flags as `npm run projector` (its heap cap keeps memory bounded whatever the backlog).
      execArgv: [...PROJECTOR_NODE_ARGS, '--import', 'tsx', ...(process.env.BENCH_PROJECTOR_NODE_ARGS ?? '').split(' ').filter(Boolean)],
      stdio: 'ignore',
      env: { ...process.env, DATABASE_URL: databaseUrl, SNS_TOPIC_PREFIX: prefix, PROJECTOR_GROUP_ID: `${prefix}projector-${database}`, PROJECTOR_METRICS_PORT: '0', LOG_LEVEL: 'warn' },
    });
    const progress = async () => Number((await pool.query<{ n: string }>(`SELECT coalesce(sum(next_offset), 0)::text AS n FROM store.consumer_offsets`)).rows[0]!.n);
    const rss = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakRssMb = Math.max(peakRssMb, Number(m[1]) / 1024);
      } catch {
        /* process gone */
      }
    };
    let t0 = 0;
    let done0 = 0;
    let cpu0 = { projector: 0, postgres: 0, machine: 0 };
    for (;;) {
      rss();
      const done = await progress();
      if (t0 === 0 && done > 0) {
        t0 = Date.now();
        done0 = done;
        cpu0 = { projector: processCpuS(child.pid!), postgres: backendsCpuS(database), machine: machineBusyS() };
      }
      if (done >= n) {
        const events = n - done0;
        cpuUsPerEvent = { projector: ((processCpuS(child.pid!) - cpu0.projector) * 1e6) / events, postgres: ((backendsCpuS(database) - cpu0.postgres) * 1e6) / events, machine: ((machineBusyS() - cpu0.machine) * 1e6) / events };
        break;
      }
      // A projector that died would otherwise leave this loop waiting forever.
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`projector exited (${child.exitCode ?? child.signalCode}) after ${done} of ${n} events`);
      await sleep(100);
    }
    projectionEventsPerS = (n - done0) / ((Date.now() - t0) / 1000);
    rss();
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));

  } finally {
    await pool.end();
    await server.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await server.end();
  }
  return { projectionEventsPerS, pgCopyRowsPerS, peakRssMb, cpuUsPerEvent };
}
