/**
 * Types of the bus catalog (`topics.yaml`). Plain readonly data: the loader
 * validates the file once and hands out frozen objects of these shapes.
 */

/** Institution code as written in topics.yaml (`MINEX`, `CONRED`, `ST-CNS`, …). */
export type InstitutionCode = string;

/** An institution of the Sistema Nacional de Seguridad. */
export interface Institution {
  readonly code: InstitutionCode;
  /** Spanish name. */
  readonly name: string;
}

/** How the inventory says the data is stored. */
export type DataStateKind = 'digital' | 'paper' | 'paper-processed' | 'paper-form';
/** How structured the inventory says the data is. */
export type DataQualityKind = 'structured' | 'semi-structured' | 'flat-file';
/** How often the inventory says the data is updated. */
export type UpdateFrequencyKind = 'immediate' | 'daily' | 'weekly' | 'monthly' | 'yearly';
/** Who may see the data; `personal` whenever it identifies a person. */
export type Classification = 'public' | 'restricted' | 'confidential' | 'personal';

/** A value as the inventory words it (`inventory`) and its normalised `kind`. */
export interface InventoryValue<K extends string> {
  readonly inventory: string;
  readonly kind: K;
}

/** One row of the SNS information inventory. */
export interface InformationItem {
  /** Kebab-case identifier, prefixed by the institution. */
  readonly id: string;
  readonly institution: InstitutionCode;
  /** Spanish name, verbatim from the inventory. */
  readonly name: string;
  /** Spanish description, verbatim from the inventory. */
  readonly description: string;
  readonly dataState: InventoryValue<DataStateKind>;
  readonly dataQuality: InventoryValue<DataQualityKind>;
  readonly updateFrequency: InventoryValue<UpdateFrequencyKind>;
  readonly classification: Classification;
  /** The topic that carries this item, when one does. */
  readonly topic?: string;
}

/** Kafka cleanup policy of a topic. */
export type CleanupPolicy = 'delete' | 'compact';

/** One declared Kafka topic, with production values (see `effectiveReplication`). */
export interface TopicSpec {
  readonly name: string;
  readonly owner: InstitutionCode;
  readonly description: string;
  /** Event types carried; each has `schemas/<a>/<b>.<c>.avsc`. Empty for raw topics (dead letter). */
  readonly eventTypes: readonly string[];
  /** Dotted path inside the event data whose value is the message key; null only for topics without event types. */
  readonly keyField: string | null;
  readonly partitions: number;
  /** Production replication factor; clamped to the broker count on apply. */
  readonly replicationFactor: number;
  /** `retention.ms`; -1 keeps history forever (the default). */
  readonly retentionMs: number;
  /** `cleanup.policy`; `delete` by default. */
  readonly cleanupPolicy: CleanupPolicy;
  /** Extra Kafka topic configs (e.g. `min.insync.replicas`), as strings. */
  readonly configs: Readonly<Record<string, string>>;
}

/** The validated, frozen catalog with its look-ups. */
export interface Catalog {
  /** The file it was loaded from (or the name given to `parseCatalog`). */
  readonly source: string;
  readonly institutions: readonly Institution[];
  readonly items: readonly InformationItem[];
  readonly topics: readonly TopicSpec[];
  /** Every declared event type, in file order. */
  readonly eventTypes: readonly string[];
  /** True when `eventType` is carried by a declared topic. */
  isDeclaredEventType(eventType: string): boolean;
  /** The topic declared as `name`; throws BUS_ERR_TOPIC_UNDECLARED otherwise. */
  topic(name: string): TopicSpec;
  /** The topic carrying `eventType`; throws BUS_ERR_TOPIC_UNDECLARED otherwise. */
  topicOf(eventType: string): TopicSpec;
  /** The institution owning the topic of `eventType`; throws BUS_ERR_TOPIC_UNDECLARED otherwise. */
  ownerOf(eventType: string): InstitutionCode;
  /** The key field path (dotted, inside the event data) of `eventType`'s topic; throws BUS_ERR_TOPIC_UNDECLARED otherwise. */
  keyFieldOf(eventType: string): string;
  /** Event types of the topics `institution` owns (empty when it owns none). */
  eventTypesOf(institution: InstitutionCode): readonly string[];
}
