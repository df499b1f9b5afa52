/**
 * Endpoints of the bus's three services, read from the environment once.
 *
 * `KAFKA_BROKERS`, `REGISTRY_URL` and `DATABASE_URL` override the local
 * defaults; when any of them is set the local stack is considered external and
 * `stack:up` starts nothing.
 */
export interface Endpoints {
  /** Kafka bootstrap servers. */
  readonly brokers: readonly string[];
  /** Confluent-compatible registry base URL (Apicurio: `/apis/ccompat/v7`). */
  readonly registryUrl: string;
  /** PostgreSQL connection string of the central store. */
  readonly databaseUrl: string;
  /** True when the endpoints come from the environment, not the local stack. */
  readonly external: boolean;
}

export const DEFAULT_BROKERS = '127.0.0.1:9092';
export const DEFAULT_REGISTRY_URL = 'http://127.0.0.1:8081/apis/ccompat/v7';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/sns';

/** Reads the endpoints from `env` (defaults to `process.env`). */
export function readEndpoints(env: NodeJS.ProcessEnv = process.env): Endpoints {
  const external = Boolean(env.KAFKA_BROKERS || env.REGISTRY_URL || env.DATABASE_URL);
  return Object.freeze({
    brokers: Object.freeze(
      (env.KAFKA_BROKERS ?? DEFAULT_BROKERS)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
    registryUrl: (env.REGISTRY_URL ?? DEFAULT_REGISTRY_URL).replace(/\/+$/, ''),
    databaseUrl: env.DATABASE_URL ?? DEFAULT_DATABASE_URL,
    external,
  });
}

/** The same PostgreSQL server, another database (tests create their own). */
export function databaseUrlFor(database: string, base = readEndpoints().databaseUrl): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}
