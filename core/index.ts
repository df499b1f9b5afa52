/** Shared foundations of the bus: endpoints, Kafka client config, errors, logging, settings. */
export { readEndpoints, databaseUrlFor, DEFAULT_BROKERS, DEFAULT_DATABASE_URL, DEFAULT_REGISTRY_URL } from './config.ts';
export type { Endpoints } from './config.ts';
export { createKafka, kafkaConfig } from './kafka.ts';
export type { KafkaClientOptions } from './kafka.ts';
export {
  BusError,
  ValidationError,
  ConfigError,
  NotOwnerError,
  BrokerUnavailableError,
  ERROR_CODES,
  isBusError,
} from './errors.ts';
export type { ErrorCode, Violation } from './errors.ts';
export { createLogger, REDACT_PATHS } from './logger.ts';
export type { Logger } from './logger.ts';
export { settings } from './settings.ts';
