/**
 * `npm run db:migrate [-- --schema <name>] [-- --down]`: brings the central
 * store up to date in DATABASE_URL (default schema `store`).
 */
import { parseArgs } from 'node:util';
import { createLogger } from '../core/index.ts';
import { DEFAULT_STORE_SCHEMA, migrate } from './index.ts';

const { values } = parseArgs({
  options: { schema: { type: 'string', default: process.env.STORE_SCHEMA ?? DEFAULT_STORE_SCHEMA }, down: { type: 'boolean', default: false } },
});
const log = createLogger('db-migrate');
const ran = await migrate({ schema: values.schema!, direction: values.down ? 'down' : 'up', logger: log });
log.info({ schema: values.schema, ran }, ran.length ? `ran ${ran.length} migration(s)` : 'store is up to date');
