/**
 * Projection figures (central store issue): drains an N-event backlog of
 * mixed institution events through the projector service (a child process,
 * so its RSS is its own) and measures, in the same run, the two ceilings it
 * sits between: a no-op kafkajs eachBatch consumer over the same events
 * (`raw-consume.ts`, a child process too), and COPY of the same rows into
 * staging tables: every row the projection of the backlog writes (its
 * `event_log` envelope and its state or movement row, two per event), in COPY
 * text prepared beforehand and sent in chunks of 5,000 events' rows (as the
 * projector sends them), into unindexed tables shaped like the store's.
 *
 * Earlier runs copied the envelope rows alone, one CopyData message (two
 * socket writes) per row: that measured the bench's own writes, not the store
 * (83k–97k rows/s per row against 370k–445k rows/s for the same rows chunked,
 * same run), and made the projector's ratio look about twice as good as it is.
 *
 * The backlog is produced once (`prepareProjectionBacklog`); `projectionRound`
 * then measures COPY and the projector on a fresh database, and run.ts repeats
 * rounds of it beside the no-op consumer, so every figure is a median and every
 * ratio a median of per-round ratios.
 */
import { execFileSync, fork } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { applyTopics, loadCatalog } from '../catalog/index.ts';
import { getContract, sampleEvent, type EventDataMap, type EventType } from '../contracts/index.ts';
import { PROJECTED_EVENT_TYPES, projectBatch, type StoredEvent } from '../consumers/index.ts';
import { EVENT_LOG, MIGRATORY_MOVEMENTS, type ColumnType, type ProjectedEventType, type Row } from '../consumers/projection.ts';
import { arrayColumns, encodeCopyText } from '../consumers/store.ts';
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

/** One store table's share of the rows the projection of the backlog writes, as COPY text. */
export interface CopyTable {
  /** The store table (the staging table is shaped like it). */
  table: string;
  columns: string[];
  /** COPY text chunks (one per projected chunk of events). */
  chunks: Buffer[];
  rows: number;
}

/** The backlog a run produced, and the rows COPY writes. */
export interface ProjectionBacklog {
  prefix: string;
  n: number;
  /** The topics holding events (with prefix). */
  topics: string[];
  /** Every row the projection of the backlog writes, per table (`event_log` included). */
  copyTables: CopyTable[];
  meanValueBytes: number;
}

/** One round: COPY and the projector, each on a fresh database. */
export interface ProjectionRound {
  projectionEventsPerS: number;
  /** COPY of every row the projection writes: rows per second, and events (whose rows those are) per second. */
  pgCopyRowsPerS: number;
  pgCopyEventsPerS: number;
  /** The same COPY into staging tables carrying the store's indexes (non-unique): events per second. */
  pgCopyIndexedEventsPerS: number;
  /** CPU of the PostgreSQL backend per event, for COPY unindexed and indexed. */
  copyCpuUsPerEvent: { unindexed: number; indexed: number };
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

/**
 * COPY of every table's rows (text prepared beforehand) into new staging
 * tables shaped like the store's, one table after the other on one
 * connection, as the projector writes them; rows and events per second, and
 * the CPU its PostgreSQL backend spent per event.
 *
 * Unindexed, this is the store's ceiling of issue 6. With `indexed`, the
 * staging tables carry every index the store's table has, made non-unique
 * (the bench's rows repeat some keys across chunks, which the projector's
 * merge resolves): what PostgreSQL pays to index those rows and nothing else
 * (no Kafka, no decoding, no merge, no offsets), so a bound on any projector
 * into that store. A unique index costs a little more than this.
 */
async function copyAllRowsPerS(pool: pg.Pool, tables: readonly CopyTable[], events: number, database: string, indexed = false): Promise<{ rowsPerS: number; eventsPerS: number; backendCpuUsPerEvent: number }> {
  const client = await pool.connect();
  try {
    for (const t of tables) {
      await client.query(`CREATE TABLE store.copy_staging_${t.table} (LIKE store.${t.table} INCLUDING DEFAULTS)`);
      if (!indexed) continue;
      const { rows } = await client.query<{ indexname: string; indexdef: string }>(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'store' AND tablename = $1`, [t.table]);
      for (const { indexname, indexdef } of rows) {
        await client.query(indexdef.replace('CREATE UNIQUE INDEX', 'CREATE INDEX').replace(` ${indexname} ON store.${t.table} `, ` copy_staging_${indexname} ON store.copy_staging_${t.table} `));
      }
    }
    const cpu0 = backendsCpuS(database);
    const started = Date.now();
    for (const t of tables) {
      await new Promise<void>((resolve, reject) => {
        const stream = client.query(copyFrom(`COPY store.copy_staging_${t.table} (${t.columns.map((c) => `"${c}"`).join(', ')}) FROM STDIN`));
        stream.on('finish', resolve).on('error', reject);
        let i = 0;
        const write = () => {
          let ok = true;
          while (i < t.chunks.length && ok) ok = stream.write(t.chunks[i++]!);
          if (i < t.chunks.length) stream.once('drain', write);
          else stream.end();
        };
        write();
      });
    }
    const s = (Date.now() - started) / 1000;
    const backendCpuUsPerEvent = ((backendsCpuS(database) - cpu0) * 1e6) / events;
    for (const t of tables) await client.query(`DROP TABLE store.copy_staging_${t.table}`);
    return { rowsPerS: tables.reduce((n, t) => n + t.rows, 0) / s, eventsPerS: events / s, backendCpuUsPerEvent };
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
  // The rows the projector writes for these events (the same pure projection), per table, as COPY text.
  const copyTables = new Map<string, CopyTable>();
  const addRows = (table: { name: string; columns: Readonly<Record<string, ColumnType>> }, rows: readonly Row[]) => {
    if (rows.length === 0) return;
    let t = copyTables.get(table.name);
    if (!t) copyTables.set(table.name, (t = { table: table.name, columns: Object.keys(table.columns), chunks: [], rows: 0 }));
    t.chunks.push(encodeCopyText(t.columns, rows, arrayColumns(table)));
    t.rows += rows.length;
  };
  let valueBytes = 0;
  const CHUNK = 5_000;
  for (let i = 0; i < n; i += CHUNK) {
    const byTopic = new Map<string, { key: string; value: Buffer; headers: Record<string, string> }[]>();
    const stored: StoredEvent[] = [];
    const logRows: Row[] = [];
    for (let j = i; j < Math.min(n, i + CHUNK); j++) {
      const type = MIX[j % MIX.length]!;
      const data = sampleEvent(type) as EventDataMap[EventType] & Record<string, unknown>;
      const key = String(data[catalog.keyFieldOf(type)]);
      const value = encodeWire(ids.get(type)!, getContract(type).avroType.toBuffer(data));
      valueBytes += value.length;
      const topic = prefix + catalog.topicOf(type).name;
      if (!byTopic.has(topic)) byTopic.set(topic, []);
      byTopic.get(topic)!.push({ key, value, headers: { ce_id: data.eventId, ce_source: catalog.ownerOf(type), ce_type: type, ce_time: data.occurredAt } });
      const envelope = { eventId: data.eventId, eventType: type as ProjectedEventType, source: catalog.ownerOf(type), occurredAt: data.occurredAt, topic, partition: 0, offset: String(j), schemaId: ids.get(type)!, entityKey: key };
      stored.push({ envelope, data } as StoredEvent);
      logRows.push({ event_id: envelope.eventId, event_type: type, source: envelope.source, occurred_at: envelope.occurredAt, topic, partition: 0, offset: envelope.offset, schema_id: envelope.schemaId, entity_key: key });
    }
    addRows(EVENT_LOG, logRows);
    const projected = projectBatch(stored);
    for (const [table, rows] of projected.state) addRows(table, [...rows.values()]);
    addRows(MIGRATORY_MOVEMENTS, projected.movements);
    await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  }
  await producer.disconnect();

  return { prefix, n, topics, copyTables: [...copyTables.values()], meanValueBytes: valueBytes / n };
}

/** COPY, then the projector draining the whole backlog, on a database of their own (dropped afterwards). */
export async function projectionRound(backlog: ProjectionBacklog): Promise<ProjectionRound> {
  const { prefix, n } = backlog;
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
  let pgCopyEventsPerS = 0;
  let pgCopyIndexedEventsPerS = 0;
  const copyCpuUsPerEvent = { unindexed: 0, indexed: 0 };
  let cpuUsPerEvent = { projector: 0, postgres: 0, machine: 0 };
  try {
    // Ceiling 2: COPY of the same rows into staging tables, on the fresh database
    // before the projector runs (afterwards, its checkpoint and autovacuum would
    // slow COPY down and flatter the ratio).
    const copy = await copyAllRowsPerS(pool, backlog.copyTables, n, database);
    ({ rowsPerS: pgCopyRowsPerS, eventsPerS: pgCopyEventsPerS } = copy);
    copyCpuUsPerEvent.unindexed = copy.backendCpuUsPerEvent;
    // The same rows into tables carrying the store's indexes: what those indexes alone cost PostgreSQL.
    execFileSync('sync');
    const indexed = await copyAllRowsPerS(pool, backlog.copyTables, n, database, true);
    pgCopyIndexedEventsPerS = indexed.eventsPerS;
    copyCpuUsPerEvent.indexed = indexed.backendCpuUsPerEvent;
    // The projector must not pay for the writeback of what COPY just wrote (and dropped).
    execFileSync('sync');
    await sleep(2_000);

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
  return { projectionEventsPerS, pgCopyRowsPerS, pgCopyEventsPerS, pgCopyIndexedEventsPerS, copyCpuUsPerEvent, peakRssMb, cpuUsPerEvent };
}
