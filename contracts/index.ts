/**
 * Event contracts of the bus: Avro schemas (`schemas/`), the data-entry rules
 * every event must pass, the catalogs they check against, generated TypeScript
 * types, and valid sample events. The only entry other folders import.
 */
export {
  createContracts,
  loadContracts,
  getContract,
  validateEvent,
  assertValidEvent,
  normalizeEvent,
  DEFAULT_MAX_FUTURE_SKEW_MS,
} from './contracts.ts';
export type { Contracts, ContractsOptions, EventContract, ValidateOptions } from './contracts.ts';
export { EVENT_TYPES } from './generated/types.ts';
export type * from './generated/types.ts';
export { loadCatalogs, DEFAULT_CATALOGS_DIR } from './catalogs.ts';
export type {
  Catalogs,
  CatalogMeta,
  CodeCatalog,
  CodeEntry,
  Department,
  Municipality,
  BorderPost,
  PlatePattern,
} from './catalogs.ts';
export { checkCui, checkNit, normalizePlate } from './identifiers.ts';
export type { CuiFailure, NitFailure } from './identifiers.ts';
export { parseTimestamp, parseDate, NAKED_LOCAL_TIME } from './time.ts';
export { GUATEMALA_BBOX, DEFAULT_MAX_TEXT_LENGTH } from './validator.ts';
export { getField, compileFieldPath } from './get-field.ts';
export type { FieldGetter } from './get-field.ts';
export { LOGICAL_TYPES, buildAvroType } from './logical-types.ts';
export { readEventSchemas, inlineSharedTypes, DEFAULT_SCHEMAS_DIR } from './schemas.ts';
export type { EventSchema } from './schemas.ts';
export { sampleEvent, ENTITY_ID_FIELDS } from './samples.ts';
