/**
 * The one place where Kafka client configuration is built: brokers, TLS and
 * SASL come from the environment here, so security can be switched on without
 * touching any caller.
 *
 * Environment: `KAFKA_BROKERS`, `KAFKA_SSL` (`true`), `KAFKA_SSL_CA_FILE`,
 * `KAFKA_SASL_MECHANISM` (`plain` | `scram-sha-256` | `scram-sha-512`),
 * `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD`.
 */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import { readEndpoints } from './config.ts';
import { ConfigError } from './errors.ts';
import { settings } from './settings.ts';

process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

export interface KafkaClientOptions {
  /** Identifies the client in broker logs and quotas. */
  clientId: string;
  /** Overrides the brokers from the environment. */
  brokers?: readonly string[];
  /** Where kafkajs logs go; silent when omitted. */
  logger?: Logger;
  /** Overrides of the retry settings (kafkajs `retry`). */
  retry?: KafkaConfig['retry'];
  /** Overrides the connection timeout. */
  connectionTimeoutMs?: number;
  /** Overrides the request timeout. */
  requestTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Builds the kafkajs configuration for `options`, with TLS and SASL from the environment. */
export function kafkaConfig(options: KafkaClientOptions): KafkaConfig {
  const env = options.env ?? process.env;
  const brokers = [...(options.brokers ?? readEndpoints(env).brokers)];
  const config: KafkaConfig = {
    clientId: options.clientId,
    brokers,
    connectionTimeout: options.connectionTimeoutMs ?? settings.kafkaConnectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs ?? settings.kafkaRequestTimeoutMs,
    retry: options.retry ?? {
      initialRetryTime: settings.kafkaRetryInitialMs,
      maxRetryTime: settings.kafkaRetryMaxMs,
      retries: settings.kafkaRetries,
    },
    logLevel: options.logger ? KafkaLogLevel.WARN : KafkaLogLevel.NOTHING,
  };
  if (options.logger) {
    const log = options.logger.child({ component: 'kafkajs' });
    config.logCreator = () => (entry) => {
      const { message, ...extra } = entry.log;
      const level = entry.level === KafkaLogLevel.ERROR ? 'error' : entry.level === KafkaLogLevel.WARN ? 'warn' : 'debug';
      log[level]({ namespace: entry.namespace, ...extra }, message);
    };
  }
  if (env.KAFKA_SSL === 'true') {
    config.ssl = env.KAFKA_SSL_CA_FILE ? { ca: [readFileSync(env.KAFKA_SSL_CA_FILE, 'utf8')] } : true;
  }
  const mechanism = env.KAFKA_SASL_MECHANISM;
  if (mechanism) {
    const username = env.KAFKA_SASL_USERNAME;
    const password = env.KAFKA_SASL_PASSWORD;
    if (!username || !password) {
      throw new ConfigError('KAFKA_SASL_MECHANISM is set but KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is missing');
    }
    if (mechanism !== 'plain' && mechanism !== 'scram-sha-256' && mechanism !== 'scram-sha-512') {
      throw new ConfigError(`KAFKA_SASL_MECHANISM must be plain, scram-sha-256 or scram-sha-512, not "${mechanism}"`);
    }
    config.sasl = { mechanism, username, password } as SASLOptions;
  }
  return config;
}

/** Creates a kafkajs client configured from the environment. */
export function createKafka(options: KafkaClientOptions): Kafka {
  return new Kafka(kafkaConfig(options));
}
