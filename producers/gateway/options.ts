/**
 * Options of `buildGateway`, validated and frozen once; defaults with units
 * in the names. `gatewayOptionsFromEnv` reads the GATEWAY_* variables.
 */
import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import type { Catalog } from '../../catalog/index.ts';
import { ConfigError, type Logger, type Violation } from '../../core/index.ts';
import type { Producer } from '../producer.ts';

/** Gateway defaults. */
export const GATEWAY_DEFAULTS = {
  bodyLimitBytes: 1_048_576,
  batchMaxItems: 500,
  idempotencyWindowMs: 24 * 60 * 60_000,
  rateLimitPerMinute: 60_000,
  /** Failed authentications per client address per minute before 429 (checked before any key look-up). */
  authFailuresPerMinute: 60,
  deliveryTimeoutMs: 10_000,
  apiKeyCacheMs: 5_000,
  readyTimeoutMs: 2_000,
  /** How long a request waits for a concurrent request with the same Idempotency-Key before 409. */
  idempotencyWaitMs: 15_000,
} as const;

export interface GatewayOptions {
  /** PostgreSQL pool holding the ingest schema (API keys, idempotency records). The caller closes it. */
  pool: pg.Pool;
  /** Ingest schema name (default `ingest`); run `migrateIngest` on it first. */
  schema?: string;
  catalog?: Catalog;
  /** pino logger; the gateway logs requests through it (silent when omitted). */
  logger?: Logger;
  /** Kafka bootstrap servers of the producers and the readiness check. */
  brokers?: readonly string[];
  /** A kafkajs client for producers and readiness instead of one built from the environment. */
  kafka?: Kafka;
  registryUrl?: string;
  /** Topic prefix (tests); defaults to SNS_TOPIC_PREFIX. */
  topicPrefix?: string;
  /** Register schemas on first use (never in production). */
  autoRegister?: boolean;
  /** Producer per institution; by default the SDK's `createProducer` with the options above. */
  producerFor?: (institution: string) => Producer;
  bodyLimitBytes?: number;
  batchMaxItems?: number;
  idempotencyWindowMs?: number;
  rateLimitPerMinute?: number;
  /** Failed authentications (missing, unknown or revoked key) per client address per minute; beyond it 429 without a key look-up. */
  authFailuresPerMinute?: number;
  /** Kafka acknowledgement budget per event; beyond it the answer is 503. */
  deliveryTimeoutMs?: number;
  apiKeyCacheMs?: number;
  readyTimeoutMs?: number;
  idempotencyWaitMs?: number;
}

export type ResolvedGatewayOptions = Readonly<
  Required<Omit<GatewayOptions, 'catalog' | 'logger' | 'brokers' | 'kafka' | 'registryUrl' | 'topicPrefix' | 'producerFor'>> &
    Pick<GatewayOptions, 'catalog' | 'logger' | 'brokers' | 'kafka' | 'registryUrl' | 'topicPrefix' | 'producerFor'>
>;

const INTS = ['bodyLimitBytes', 'batchMaxItems', 'idempotencyWindowMs', 'rateLimitPerMinute', 'authFailuresPerMinute', 'deliveryTimeoutMs', 'readyTimeoutMs', 'idempotencyWaitMs'] as const;

/** Validates and freezes; throws BUS_ERR_CONFIG listing every problem. */
export function resolveGatewayOptions(options: GatewayOptions): ResolvedGatewayOptions {
  const violations: Violation[] = [];
  if (!options?.pool) violations.push({ path: '/options/pool', message: 'must be a pg.Pool of the database holding the ingest schema' });
  for (const key of INTS) {
    const v = options?.[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) violations.push({ path: `/options/${key}`, message: 'must be an integer ≥ 1' });
  }
  const cache = options?.apiKeyCacheMs;
  if (cache !== undefined && (!Number.isInteger(cache) || cache < 0)) violations.push({ path: '/options/apiKeyCacheMs', message: 'must be an integer ≥ 0' });
  if (options?.autoRegister && process.env.NODE_ENV === 'production') {
    violations.push({ path: '/options/autoRegister', message: 'must be false in production: register schemas with `npm run schemas:register`' });
  }
  if (violations.length) {
    throw new ConfigError(`buildGateway: ${violations.map((v) => `${v.path} ${v.message}`).join('; ')}`, violations);
  }
  return Object.freeze({
    ...GATEWAY_DEFAULTS,
    schema: 'ingest',
    autoRegister: false,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  }) as ResolvedGatewayOptions;
}

/** Gateway options from the GATEWAY_* variables (see core/environment.ts); throws BUS_ERR_CONFIG on a non-integer. */
export function gatewayOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<GatewayOptions> & { host: string; port: number } {
  const violations: Violation[] = [];
  const int = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) violations.push({ path: `/env/${name}`, message: `must be a non-negative integer, not "${raw}"` });
    return n;
  };
  const out = {
    host: env.GATEWAY_HOST ?? '127.0.0.1',
    port: int('GATEWAY_PORT') ?? 8080,
    bodyLimitBytes: int('GATEWAY_BODY_LIMIT_BYTES'),
    batchMaxItems: int('GATEWAY_BATCH_MAX_ITEMS'),
    idempotencyWindowMs: int('GATEWAY_IDEMPOTENCY_WINDOW_MS'),
    rateLimitPerMinute: int('GATEWAY_RATE_LIMIT_PER_MINUTE'),
    authFailuresPerMinute: int('GATEWAY_AUTH_FAILURES_PER_MINUTE'),
    deliveryTimeoutMs: int('GATEWAY_DELIVERY_TIMEOUT_MS'),
    apiKeyCacheMs: int('GATEWAY_API_KEY_CACHE_MS'),
  };
  if (violations.length) throw new ConfigError(`gateway environment: ${violations.map((v) => `${v.path} ${v.message}`).join('; ')}`, violations);
  return out;
}
