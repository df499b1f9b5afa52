/**
 * `npm run gateway`: the ingest gateway service. Migrates the ingest schema,
 * builds the app and listens on GATEWAY_HOST:GATEWAY_PORT; SIGTERM/SIGINT
 * stop accepting requests, flush the producers and exit.
 */
import { createLogger, readEndpoints } from '../../core/index.ts';
import { buildGateway, createIngestPool, gatewayOptionsFromEnv, ingestSchemaFromEnv, migrateIngest } from './index.ts';

const log = createLogger('sns-gateway');
const { host, port, ...fromEnv } = gatewayOptionsFromEnv();
const endpoints = readEndpoints();
const schema = ingestSchemaFromEnv();
await migrateIngest({ databaseUrl: endpoints.databaseUrl, schema, logger: log });
const pool = createIngestPool(endpoints.databaseUrl);
const app = await buildGateway({ ...fromEnv, pool, schema, logger: log });
await app.listen({ host, port });

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    void app
      .close()
      .then(() => pool.end())
      .then(() => process.exit(0), (err: unknown) => {
        log.error({ err: err instanceof Error ? err.message : String(err) }, 'unclean stop');
        process.exit(1);
      });
  });
}
