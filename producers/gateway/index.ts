/**
 * The HTTP ingest gateway: `buildGateway` (not listening), its options, the
 * ingest schema's migrations and the API-key store the CLI uses.
 */
export { buildGateway, httpStatusOf } from './gateway.ts';
export { GATEWAY_DEFAULTS, gatewayOptionsFromEnv } from './options.ts';
export type { GatewayOptions } from './options.ts';
export { migrateIngest, createIngestPool, ingestSchemaFromEnv, DEFAULT_INGEST_SCHEMA } from './database.ts';
export { createApiKeyStore } from './api-keys.ts';
export type { ApiKeyStore, ApiKeyInfo, Principal } from './api-keys.ts';
