/**
 * `npm run projector`: the projector as a long-lived service. Migrates the
 * store, consumes until SIGINT/SIGTERM, and serves Prometheus metrics on
 * PROJECTOR_METRICS_PORT (default 9464; 0 disables).
 *
 * Environment: DATABASE_URL, KAFKA_BROKERS, REGISTRY_URL, STORE_SCHEMA
 * (default `store`), PROJECTOR_GROUP_ID, PROJECTOR_CONCURRENCY (partitions
 * processed at once), PROJECTOR_SESSION_TIMEOUT_MS, SNS_TOPIC_PREFIX, LOG_LEVEL.
 * Fault injection for tests only: SNS_FAULT_KILL_AFTER_DB_COMMIT=<n> SIGKILLs
 * the process right after its n-th database commit, before the Kafka commit.
 */
import { createServer } from 'node:http';
import { createLogger } from '../core/index.ts';
import { createProjector } from './projector.ts';

const log = createLogger('projector');
const killAfter = Number(process.env.SNS_FAULT_KILL_AFTER_DB_COMMIT ?? 0);
let commits = 0;
const sessionTimeoutMs = Number(process.env.PROJECTOR_SESSION_TIMEOUT_MS ?? 0);

const projector = createProjector({
  logger: log,
  // A consumer kafkajs will not restart consumes nothing more: exit, so the failure shows (and a supervisor restarts it).
  onFatal: () => process.exit(1),
  ...(process.env.PROJECTOR_GROUP_ID ? { groupId: process.env.PROJECTOR_GROUP_ID } : {}),
  ...(process.env.PROJECTOR_CONCURRENCY ? { partitionsConsumedConcurrently: Number(process.env.PROJECTOR_CONCURRENCY) } : {}),
  ...(sessionTimeoutMs ? { sessionTimeoutMs, heartbeatIntervalMs: Math.max(100, Math.min(3_000, Math.floor(sessionTimeoutMs / 3))) } : {}),
  ...(killAfter > 0
    ? {
        afterDbCommit: () => {
          if (++commits >= killAfter) process.kill(process.pid, 'SIGKILL');
        },
      }
    : {}),
});

const port = Number(process.env.PROJECTOR_METRICS_PORT ?? 9464);
const server =
  port > 0
    ? createServer((req, res) => {
        if (req.url === '/metrics') {
          projector.metrics
            .metrics()
            .then((body) => res.writeHead(200, { 'content-type': projector.metrics.contentType }).end(body))
            .catch(() => res.writeHead(500).end());
        } else res.writeHead(404).end();
      }).listen(port)
    : undefined;

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  server?.close();
  await projector.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

await projector.start();
process.send?.({ ready: true });
