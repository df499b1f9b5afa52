/**
 * `npm run query-api`: serves the query API on QUERY_API_HOST:QUERY_API_PORT
 * (default 127.0.0.1:8090). Needs QUERY_API_TOKENS; reads DATABASE_URL and STORE_SCHEMA.
 */
import { createLogger } from '../core/index.ts';
import { buildQueryApi } from './query-api.ts';

const log = createLogger('query-api');
const app = await buildQueryApi({ logger: log });
const shutdown = () => void app.close().then(() => process.exit(0));
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
await app.listen({ host: process.env.QUERY_API_HOST ?? '127.0.0.1', port: Number(process.env.QUERY_API_PORT ?? 8090) });
