/**
 * Migrations of the central store (node-pg-migrate, SQL files in
 * `migrations/sql/`). Every table lives in one schema, `store` by default, so a
 * replay can build a complete store in a fresh schema and swap it in.
 */
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import { BusError, ConfigError, readEndpoints, type Logger } from '../core/index.ts';

/** Where the SQL migrations live. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('./sql/', import.meta.url));

/** The schema the live store uses. */
export const DEFAULT_STORE_SCHEMA = 'store';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws BUS_ERR_CONFIG unless `schema` is a plain lower-case PostgreSQL identifier (it is spliced into SQL). */
export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new ConfigError(`store schema "${schema}" must match ${SCHEMA_NAME} (lower case, digits, underscore)`);
  }
}

export interface MigrateOptions {
  /** PostgreSQL connection string; defaults to DATABASE_URL. */
  databaseUrl?: string;
  /** Target schema, created when missing; defaults to `store`. */
  schema?: string;
  /** `up` (default) or `down` (one step). */
  direction?: 'up' | 'down';
  logger?: Logger;
}

/**
 * Brings the store schema up to date (idempotent; concurrent callers are
 * serialised by node-pg-migrate's advisory lock). Returns the migrations run.
 * Throws BUS_ERR_STORE_UNAVAILABLE when PostgreSQL cannot be reached.
 */
export async function migrate(options: MigrateOptions = {}): Promise<string[]> {
  const schema = options.schema ?? DEFAULT_STORE_SCHEMA;
  assertSchemaName(schema);
  const log = options.logger;
  try {
    const done = await runner({
      databaseUrl: options.databaseUrl ?? readEndpoints().databaseUrl,
      dir: MIGRATIONS_DIR,
      direction: options.direction ?? 'up',
      ...(options.direction === 'down' ? { count: 1 } : {}),
      schema,
      createSchema: true,
      migrationsSchema: schema,
      migrationsTable: 'pgmigrations',
      checkOrder: true,
      log: (msg: string) => log?.debug({ schema }, msg),
    });
    return done.map((m) => m.name);
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? '';
    if (code === 'ECONNREFUSED' || code.startsWith('08') || code === '57P03') {
      throw new BusError('BUS_ERR_STORE_UNAVAILABLE', `cannot reach PostgreSQL to migrate schema ${schema}`, { cause });
    }
    throw cause;
  }
}
