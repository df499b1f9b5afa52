/**
 * `gateway_events_per_s`: single events over keep-alive HTTP into the ingest
 * gateway, each answered 202 only after Kafka acknowledged it. The gateway
 * runs as its own process (`producers/gateway/main.ts`, as in production);
 * the load generator (autocannon, keep-alive connections, a fresh event per
 * request) runs in this process on loopback. Baseline: the SDK's rate.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import autocannon from 'autocannon';
import { applyTopics, loadCatalog } from '../catalog/index.ts';
import { sampleEvent } from '../contracts/index.ts';
import { readEndpoints } from '../core/index.ts';
import { createApiKeyStore, createIngestPool, migrateIngest } from '../producers/gateway/index.ts';
import { createProducer } from '../producers/index.ts';
import { ROOT } from '../scripts/stack/stack.ts';

const TYPE = 'conred.incident.reported';

export interface GatewayBenchResult {
  eventsPerS: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non202: number;
  connections: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await fetch(`${url}/ready`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`gateway at ${url} not ready within ${timeoutMs} ms`);
}

/** Measures the gateway; `prefix` is the run's topic prefix (its CONRED topic is created if missing). */
export async function benchGateway(opts: { prefix: string; durationS?: number; connections?: number }): Promise<GatewayBenchResult> {
  const endpoints = readEndpoints();
  const schema = `bench_gateway_${Date.now().toString(36)}`;
  const connections = opts.connections ?? 64;
  await applyTopics(loadCatalog(), { prefix: opts.prefix, only: ['sns.conred.incidents.v1'] });
  // Register the subject (the gateway process never registers schemas).
  const warm = createProducer({ institution: 'CONRED', topicPrefix: opts.prefix, autoRegister: true, registryUrl: endpoints.registryUrl });
  await warm.publish(TYPE, sampleEvent(TYPE));
  await warm.close();

  await migrateIngest({ databaseUrl: endpoints.databaseUrl, schema });
  const pool = createIngestPool(endpoints.databaseUrl, 2);
  const { key } = await createApiKeyStore(pool, schema).create('CONRED', 'bench');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'producers/gateway/main.ts'], {
    cwd: ROOT,
    // The rate limiter is not what is measured: lift it above what the run can send.
    env: { ...process.env, GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(port), INGEST_SCHEMA: schema, SNS_TOPIC_PREFIX: opts.prefix, LOG_LEVEL: 'warn', GATEWAY_RATE_LIMIT_PER_MINUTE: '100000000' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitReady(url, 30_000);
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
    const run = (duration: number) =>
      autocannon({
        url: `${url}/v1/events/${TYPE}`,
        method: 'POST',
        connections,
        duration,
        headers,
        requests: [{ setupRequest: (req) => ({ ...req, body: JSON.stringify(sampleEvent(TYPE)) }) }],
      });
    await run(2); // warm-up: JIT, producer connection, linger batches
    const r = await run(opts.durationS ?? 10);
    const ok = r['2xx'];
    return {
      eventsPerS: Math.round(ok / (r.duration || opts.durationS || 10)),
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      requests: r.requests.total,
      non202: r.non2xx + r.errors + r.timeouts,
      connections,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
  }
}
