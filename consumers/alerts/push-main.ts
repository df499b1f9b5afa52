/**
 * `npm run push`: the push server (SSE, webhooks, CAP, dashboard) on
 * PUSH_HOST:PUSH_PORT (default 127.0.0.1:8091). Needs ALERTS_API_TOKENS;
 * reads DATABASE_URL, ALERTS_SCHEMA, ALERTS_WEBHOOK_ALLOW_PRIVATE, LOG_LEVEL.
 */
import { createLogger } from '../../core/index.ts';
import { buildPushServer } from './push-server.ts';

const log = createLogger('push');
const app = buildPushServer({ logger: log });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  await app.close();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

const address = await app.listen({ host: process.env.PUSH_HOST ?? '127.0.0.1', port: Number(process.env.PUSH_PORT ?? 8091) });
log.info({ address }, 'push server listening');
process.send?.({ ready: true, address });
