/**
 * The bus catalog: topics.yaml loaded, validated and frozen, with the
 * look-ups producers and consumers need, and `applyTopics` to make Kafka match it.
 */
export { loadCatalog, parseCatalog } from './load.ts';
export type { CatalogViolation, LoadCatalogOptions, ParseCatalogOptions } from './load.ts';
export { applyTopics, desiredTopicConfigs, effectiveReplication, formatApplyReport } from './apply.ts';
export type { ApplyReport, ApplyTopicsOptions, ConfigDrift, EffectiveReplication } from './apply.ts';
export type {
  Catalog,
  Classification,
  CleanupPolicy,
  DataQualityKind,
  DataStateKind,
  InformationItem,
  Institution,
  InstitutionCode,
  InventoryValue,
  TopicSpec,
  UpdateFrequencyKind,
} from './types.ts';
