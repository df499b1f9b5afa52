/**
 * Alert latency end to end (issue 5): from `publish` resolving (Kafka acked
 * the Alba-Keneth activation) to the alert arriving on an SSE client of the
 * push server, at a steady 1,000 events/s (BENCH_ALERT_SECONDS, default 60).
 * The projector, the alert service and the push server run as their own
 * processes (`npm run projector`, `alerts`, `push`), as in production, on a
 * fresh database; this process publishes and listens. Then the fan-out: the
 * same latency measured on each of 1,000 concurrent SSE subscribers.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import pg from 'pg';
import { sampleEvent } from '../contracts/index.ts';
import { databaseUrlFor, readEndpoints } from '../core/index.ts';
import { createProducer } from '../producers/index.ts';

/**
 * Starts a service entry point as a child process; resolves when it reports ready.
 * BENCH_ALERTS_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) is passed to every service.
 */
function service(main: string, env: Record<string, string>): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const extra = (process.env.BENCH_ALERTS_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = fork(main, [], { execArgv: ['--import', 'tsx', ...extra], env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const timer = setTimeout(() => reject(new Error(`${main} did not become ready`)), 60_000);
    child.on('message', (m: { ready?: boolean }) => {
      if (m?.ready) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => reject(new Error(`${main} exited with ${code}`)));
  });
}

async function stopService(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

export interface AlertBenchResult {
  p50Ms: number;
  p99Ms: number;
  /** Alerts published at the steady rate, and of them, those that reached the SSE client within 30 s of the last publish. */
  published: number;
  alerts: number;
  /** Times the steady-rate SSE client was cut off (it fell behind) and resumed with Last-Event-ID. */
  reconnects: number;
  /** Fan-out deliveries expected (alerts × subscribers) and those that arrived within 20 s. */
  fanoutExpected: number;
  fanoutArrived: number;
  eventsPerS: number;
  fanoutP99Ms: number;
  fanoutP50Ms: number;
  subscribers: number;
  /** Where the steady-rate latency goes: p50/p99 of publish resolved → alert row's transaction start, and of that → SSE arrival. */
  stages: { toStoreP50Ms: number; toStoreP99Ms: number; storeToSseP50Ms: number; storeToSseP99Ms: number };
}

/** Splits each alert's latency at its row's `created_at` (the inserting transaction's start; same host clock). */
async function stageBreakdown(databaseUrl: string, ackedWall: Map<string, number>, arrivedWall: Map<string, number>): Promise<AlertBenchResult['stages']> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const r = await db.query<{ id: string; created: number }>(`SELECT alert->'sourceEvents'->0->>'eventId' AS id, (extract(epoch FROM created_at) * 1000)::float8 AS created FROM alerts.alerts`);
    const toStore: number[] = [];
    const toSse: number[] = [];
    for (const row of r.rows) {
      const acked = ackedWall.get(row.id);
      const arrived = arrivedWall.get(row.id);
      if (acked === undefined || arrived === undefined) continue;
      toStore.push(row.created - acked);
      toSse.push(arrived - row.created);
    }
    toStore.sort((a, b) => a - b);
    toSse.sort((a, b) => a - b);
    return { toStoreP50Ms: percentile(toStore, 50), toStoreP99Ms: percentile(toStore, 99), storeToSseP50Ms: percentile(toSse, 50), storeToSseP99Ms: percentile(toSse, 99) };
  } finally {
    await db.end();
  }
}

const TOKEN = 'bench-operator-token-0123456789';

/**
 * The p-th percentile of `arrived` latencies out of `expected` deliveries: the
 * ones that never arrived count as infinitely late, so a bench that loses
 * alerts cannot report the latency of the few that came (Infinity is written
 * as null in the report).
 */
function percentile(arrived: number[], p: number, expected = arrived.length): number {
  if (expected === 0) return NaN;
  const sorted = [...arrived].sort((a, b) => a - b);
  const i = Math.min(expected - 1, Math.floor((p / 100) * expected));
  return i < sorted.length ? sorted[i]! : Infinity;
}

/** Counts of an SSE client's connection. */
interface StreamStats {
  /** Times it reconnected after the server closed the stream (with Last-Event-ID). */
  reconnects: number;
}

/**
 * Opens an SSE stream and calls `onAlert(sourceEventId)` for each alert frame.
 * Like a browser's EventSource, it reconnects when the server closes the
 * stream (a client that falls behind past the server's buffer cap is cut off)
 * and resumes after the last `id:` it read, so a lagging client still gets
 * every alert, late: the lag shows in the latencies instead of as alerts that
 * never arrive.
 */
function subscribe(url: string, onAlert: (sourceEventId: string) => void, stats: StreamStats = { reconnects: 0 }): Promise<() => void> {
  let closed = false;
  let lastId: string | null = null;
  let current: ReturnType<typeof request> | undefined;
  const close = () => {
    closed = true;
    current?.destroy();
  };
  const connect = (first: boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' };
      if (lastId !== null) headers['last-event-id'] = lastId;
      const req = request(`${url}/v1/alerts/stream`, { headers, agent: false });
      current = req;
      let again = false;
      const reconnect = () => {
        if (closed || again) return;
        again = true;
        stats.reconnects++;
        setTimeout(() => void connect(false), 100);
      };
      req.on('response', (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const id = /^id: ?(\d+)$/m.exec(frame);
            if (id) lastId = id[1]!;
            const m = /"sourceEvents":\[\{[^}]*?"eventId":"([^"]+)"/.exec(frame);
            if (m) onAlert(m[1]!);
          }
        });
        res.on('error', () => undefined);
        res.on('close', reconnect);
        resolve();
      });
      req.on('error', (err) => (first ? reject(err) : reconnect()));
      req.end();
    });
  return connect(true).then(() => close);
}

export async function benchAlerts(options: { prefix: string; seconds: number; ratePerS?: number; subscribers?: number }): Promise<AlertBenchResult> {
  const rate = options.ratePerS ?? 1_000;
  const subscribers = options.subscribers ?? 1_000;
  const database = `bench_alerts_${Date.now().toString(36)}`;
  const server = new pg.Client({ connectionString: readEndpoints().databaseUrl });
  await server.connect();
  await server.query(`CREATE DATABASE ${database}`);
  const databaseUrl = databaseUrlFor(database);
  const groupSuffix = Date.now().toString(36);
  const port = 18_000 + Math.floor(Math.random() * 2_000);
  const env = {
    DATABASE_URL: databaseUrl,
    SNS_TOPIC_PREFIX: options.prefix,
    PROJECTOR_GROUP_ID: `bench-projector-${groupSuffix}`,
    PROJECTOR_METRICS_PORT: '0',
    ALERTS_GROUP_ID: `bench-alerts-${groupSuffix}`,
    ALERTS_API_TOKENS: TOKEN,
    PUSH_PORT: String(port),
  };
  const producer = createProducer({ institution: 'PGN', topicPrefix: options.prefix, autoRegister: true, lingerMs: 2 });
  const closers: (() => void)[] = [];
  const children: ChildProcess[] = [];
  try {
    await producer.publish('pgn.alba-keneth.activated', sampleEvent('pgn.alba-keneth.activated')); // schema ids, metadata
    children.push(await service('consumers/projector-main.ts', env));
    children.push(await service('consumers/alerts/alerts-main.ts', env));
    children.push(await service('consumers/alerts/push-main.ts', env));
    const url = `http://127.0.0.1:${port}`;
    // Warm up until an alert makes the whole trip (the alert service starts at the topics' end once its group has joined).
    let warm = false;
    const stopWarm = await subscribe(url, () => (warm = true));
    for (let i = 0; i < 60 && !warm; i++) {
      await producer.publish('pgn.alba-keneth.activated', sampleEvent('pgn.alba-keneth.activated'));
      await new Promise((r) => setTimeout(r, 500));
    }
    stopWarm();
    if (!warm) throw new Error('no alert reached the SSE client during warm-up');

    // 1) Steady rate, one SSE client.
    const acked = new Map<string, number>();
    const ackedWall = new Map<string, number>();
    const arrivedWall = new Map<string, number>();
    const latencies: number[] = [];
    const early = new Map<string, number>();
    const stream: StreamStats = { reconnects: 0 };
    closers.push(
      await subscribe(url, (id) => {
        const now = performance.now();
        if (arrivedWall.has(id)) return;
        arrivedWall.set(id, Date.now());
        const at = acked.get(id);
        if (at === undefined) early.set(id, now);
        else latencies.push(now - at);
      }, stream),
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const total = Math.round(rate * options.seconds);
    const tickMs = 10;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const started = performance.now();
    const pending: Promise<unknown>[] = [];
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + perTick);
      for (; sent < due; sent++) {
        const ev = sampleEvent('pgn.alba-keneth.activated');
        pending.push(
          producer.publish('pgn.alba-keneth.activated', ev).then(() => {
            const now = performance.now();
            ackedWall.set(ev.eventId, Date.now());
            const e = early.get(ev.eventId);
            if (e !== undefined) latencies.push(Math.max(0, e - now));
            else acked.set(ev.eventId, now);
          }),
        );
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
    await Promise.all(pending);
    const eventsPerS = total / ((performance.now() - started) / 1000);
    const until = Date.now() + 30_000;
    while (latencies.length < total && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    closers.pop()!();
    const stages = await stageBreakdown(databaseUrl, ackedWall, arrivedWall);

    // 2) Fan-out: `subscribers` SSE clients, a few alerts, latency on every client.
    const fanAcked = new Map<string, number>();
    const fan: number[] = [];
    for (let i = 0; i < subscribers; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, subscribers - i) }, () =>
          subscribe(url, (id) => {
            const at = fanAcked.get(id);
            if (at !== undefined) fan.push(performance.now() - at);
          }),
        ),
      );
      closers.push(...batch);
    }
    await new Promise((r) => setTimeout(r, 1_000));
    const fanAlerts = 30;
    for (let i = 0; i < fanAlerts; i++) {
      const ev = sampleEvent('pgn.alba-keneth.activated');
      await producer.publish('pgn.alba-keneth.activated', ev);
      fanAcked.set(ev.eventId, performance.now());
      await new Promise((r) => setTimeout(r, 200));
    }
    const fanUntil = Date.now() + 20_000;
    while (fan.length < fanAlerts * subscribers && Date.now() < fanUntil) await new Promise((r) => setTimeout(r, 100));
    const fanoutExpected = fanAlerts * subscribers;
    return {
      p50Ms: percentile(latencies, 50, total),
      p99Ms: percentile(latencies, 99, total),
      published: total,
      alerts: latencies.length,
      reconnects: stream.reconnects,
      fanoutExpected,
      fanoutArrived: fan.length,
      eventsPerS,
      fanoutP50Ms: percentile(fan, 50, fanoutExpected),
      fanoutP99Ms: percentile(fan, 99, fanoutExpected),
      subscribers,
      stages,
    };
  } finally {
    for (const c of closers) c();
    await producer.close().catch(() => undefined);
    for (const child of children.reverse()) await stopService(child);
    await server.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => undefined);
    await server.end();
  }
}
