/**
 * Options of `createProducer`, validated once at construction. A bad option
 * fails there with a sentence that says what to change.
 */
import type { Kafka } from 'kafkajs';
import { ConfigError, readEndpoints, type Logger, type Violation } from '../core/index.ts';
import type { Catalog } from '../catalog/index.ts';

export interface ProducerOptions {
  /** Institution code as in topics.yaml (`PGN`, `CONRED`, …); it may only publish its own event types. */
  institution: string;
  /** Kafka bootstrap servers; defaults to KAFKA_BROKERS or 127.0.0.1:9092. Ignored when `kafka` is given. */
  brokers?: readonly string[];
  /** A kafkajs client to use instead of building one from the environment. */
  kafka?: Kafka;
  /** Confluent-compatible registry URL; defaults to REGISTRY_URL. */
  registryUrl?: string;
  /** pino logger; silent when omitted. */
  logger?: Logger;
  /** The topics catalog; defaults to the repository's topics.yaml. */
  catalog?: Catalog;
  /**
   * Register missing schemas on first use. Off by default and refused when
   * NODE_ENV=production: production schemas come from `npm run schemas:register`.
   */
  autoRegister?: boolean;
  /** How long a partial batch waits for more events before it is sent. */
  lingerMs?: number;
  /** Events per Kafka request at most. */
  batchMaxEvents?: number;
  /** Events accepted but not yet acknowledged at most; `publish` waits beyond it. */
  bufferMaxEvents?: number;
  /** How long Kafka may take to acknowledge a batch, retries included, before events reject with BUS_ERR_BROKER_UNAVAILABLE. */
  deliveryTimeoutMs?: number;
  /** Allowed clock skew for timestamps in the future. */
  maxFutureSkewMs?: number;
}

export interface ResolvedProducerOptions {
  institution: string;
  brokers: readonly string[];
  kafka?: Kafka;
  registryUrl: string;
  logger?: Logger;
  catalog?: Catalog;
  autoRegister: boolean;
  lingerMs: number;
  batchMaxEvents: number;
  bufferMaxEvents: number;
  deliveryTimeoutMs: number;
  maxFutureSkewMs: number;
}

/** Producer defaults, with units in the names. */
export const PRODUCER_DEFAULTS = {
  lingerMs: 5,
  batchMaxEvents: 2_000,
  bufferMaxEvents: 20_000,
  deliveryTimeoutMs: 20_000,
  maxFutureSkewMs: 5 * 60_000,
} as const;

const positiveInts = ['lingerMs', 'batchMaxEvents', 'bufferMaxEvents', 'deliveryTimeoutMs', 'maxFutureSkewMs'] as const;

/** Validates and freezes the options; throws BUS_ERR_CONFIG listing every problem. */
export function resolveProducerOptions(options: ProducerOptions): ResolvedProducerOptions {
  const violations: Violation[] = [];
  if (!options || typeof options.institution !== 'string' || options.institution.trim() === '') {
    violations.push({ path: '/options/institution', message: 'must be an institution code from topics.yaml, e.g. "PGN"' });
  }
  for (const key of positiveInts) {
    const v = options?.[key];
    if (v !== undefined && (!Number.isInteger(v) || v < (key === 'lingerMs' ? 0 : 1))) {
      violations.push({ path: `/options/${key}`, message: `must be an integer ≥ ${key === 'lingerMs' ? 0 : 1}` });
    }
  }
  if (options?.autoRegister && process.env.NODE_ENV === 'production') {
    violations.push({
      path: '/options/autoRegister',
      message: 'must be false in production (NODE_ENV=production): register schemas with `npm run schemas:register`',
    });
  }
  const batchMaxEvents = options?.batchMaxEvents ?? PRODUCER_DEFAULTS.batchMaxEvents;
  const bufferMaxEvents = options?.bufferMaxEvents ?? PRODUCER_DEFAULTS.bufferMaxEvents;
  if (bufferMaxEvents < batchMaxEvents) {
    violations.push({ path: '/options/bufferMaxEvents', message: `must be ≥ batchMaxEvents (${batchMaxEvents})` });
  }
  if (violations.length) {
    throw new ConfigError(
      `createProducer: ${violations.map((v) => `${v.path} ${v.message}`).join('; ')}`,
      violations,
    );
  }
  const endpoints = readEndpoints();
  return Object.freeze({
    institution: options.institution,
    brokers: options.brokers ?? endpoints.brokers,
    kafka: options.kafka,
    registryUrl: options.registryUrl ?? endpoints.registryUrl,
    logger: options.logger,
    catalog: options.catalog,
    autoRegister: options.autoRegister ?? false,
    lingerMs: options.lingerMs ?? PRODUCER_DEFAULTS.lingerMs,
    batchMaxEvents,
    bufferMaxEvents,
    deliveryTimeoutMs: options.deliveryTimeoutMs ?? PRODUCER_DEFAULTS.deliveryTimeoutMs,
    maxFutureSkewMs: options.maxFutureSkewMs ?? PRODUCER_DEFAULTS.maxFutureSkewMs,
  });
}
