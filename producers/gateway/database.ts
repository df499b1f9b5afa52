/**
 * The ingest schema (API keys, idempotency records, importer checkpoints).
 *
 * It is kept apart from the central store's schema on purpose: the store is
 * rebuilt by replay and swapped in, and credentials or checkpoints must
 * survive that. Its SQL migrations live in `migrations/ingest/` and run with
 * node-pg-migrate, like the store's.
 */
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { BusError, ConfigError, readEndpoints, type Logger } from '../../core/index.ts';

/** Where the ingest migrations live. */
export const INGEST_MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/ingest/', import.meta.url));

/** The schema the gateway and importer use unless INGEST_SCHEMA says otherwise. */
export const DEFAULT_INGEST_SCHEMA = 'ingest';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The ingest schema name from INGEST_SCHEMA (validated: it is spliced into SQL). */
export function ingestSchemaFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const schema = env.INGEST_SCHEMA ?? DEFAULT_INGEST_SCHEMA;
  assertIngestSchema(schema);
  return schema;
}

/** Throws BUS_ERR_CONFIG unless `schema` is a plain lower-case identifier. */
export function assertIngestSchema(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new ConfigError(`ingest schema "${schema}" must match ${SCHEMA_NAME} (lower case, digits, underscore)`);
  }
}

/** True when a pg error means the database cannot be reached (not a bad query). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code ?? '';
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code.startsWith('08') || code === '57P03';
}

/**
 * Brings the ingest schema up to date (idempotent; concurrent callers are
 * serialised by node-pg-migrate's advisory lock). Throws
 * BUS_ERR_STORE_UNAVAILABLE when PostgreSQL cannot be reached.
 */
export async function migrateIngest(options: { databaseUrl?: string; schema?: string; logger?: Logger } = {}): Promise<string[]> {
  const schema = options.schema ?? ingestSchemaFromEnv();
  assertIngestSchema(schema);
  try {
    const done = await runner({
      databaseUrl: options.databaseUrl ?? readEndpoints().databaseUrl,
      dir: INGEST_MIGRATIONS_DIR,
      direction: 'up',
      schema,
      createSchema: true,
      migrationsSchema: schema,
      migrationsTable: 'pgmigrations',
      checkOrder: true,
      log: (msg: string) => options.logger?.debug({ schema }, msg),
    });
    return done.map((m) => m.name);
  } catch (cause) {
    if (isConnectionError(cause)) {
      throw new BusError('BUS_ERR_STORE_UNAVAILABLE', `cannot reach PostgreSQL to migrate schema ${schema}`, { cause });
    }
    throw cause;
  }
}

/** A small pool whose idle-client errors are not fatal (PostgreSQL restarts are survivable). */
export function createIngestPool(databaseUrl = readEndpoints().databaseUrl, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max });
  pool.on('error', () => undefined);
  return pool;
}
