/**
 * The ST's consumers: the projector that keeps the central store, the
 * store's read functions (current state for alert correlation) and the query API.
 */
export { createProjector, partitionLag, DEAD_LETTER_TOPIC, DEAD_LETTER_HEADERS, PROJECTOR_DEFAULTS } from './projector.ts';
export type { Projector, ProjectorOptions, PartitionLag } from './projector.ts';
export {
  projectBatch,
  contributionOf,
  mergeRows,
  normalizeName,
  normalizeDocumentNumber,
  PROJECTED_EVENT_TYPES,
  STATE_TABLES,
  INCIDENTS,
  trackedColumns,
} from './projection.ts';
export type { EventEnvelope, StoredEvent, ProjectedEventType, Row, StateTable, ProjectedBatch } from './projection.ts';
export { isTransientStoreError } from './store.ts';
export { migrate, DEFAULT_STORE_SCHEMA, MIGRATIONS_DIR } from '../migrations/index.ts';
export { createCurrentState, createStorePool, withTransaction } from './current-state.ts';
export type { CurrentState, CurrentStateOptions, PersonQuery, PersonMatch, MatchBasis, StateRow } from './current-state.ts';
export { buildQueryApi, parseTokens, QUERY_API_ERRORS } from './query-api.ts';
export type { QueryApiOptions, QueryApiErrorCode, Principal } from './query-api.ts';
export { historyRoutes, HISTORY_MAX_DAYS } from './history.ts';
export type { HistoryRoutesOptions } from './history.ts';
