/**
 * `npm run alerts`: the alert service as a long-lived service. Migrates the
 * alerts schema, consumes until SIGINT/SIGTERM.
 *
 * Environment: DATABASE_URL, KAFKA_BROKERS, REGISTRY_URL, ALERTS_SCHEMA,
 * STORE_SCHEMA, ALERTS_GROUP_ID, PROJECTOR_GROUP_ID, ALERTS_RULES_FILE,
 * ALERTS_ESCALATE_AFTER_MS, SNS_TOPIC_PREFIX, LOG_LEVEL.
 */
import { createLogger } from '../../core/index.ts';
import { createAlertService } from './service.ts';

const log = createLogger('alerts');
const service = createAlertService({ logger: log });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  await service.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

await service.start();
process.send?.({ ready: true });
