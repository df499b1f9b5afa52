/**
 * The contracts registry: for each event type its self-contained Avro schema,
 * its avsc type and its compiled validator, all built once.
 */
import type avro from 'avsc';
import { BusError, ConfigError, ValidationError, type Violation } from '../core/errors.ts';
import { DEFAULT_CATALOGS_DIR, loadCatalogs, type Catalogs } from './catalogs.ts';
import { EVENT_TYPES, type EventDataMap, type EventType } from './generated/types.ts';
import { normalizePlate } from './identifiers.ts';
import { buildAvroType } from './logical-types.ts';
import { DEFAULT_SCHEMAS_DIR, readEventSchemas } from './schemas.ts';
import { compileValidator, type ValidationContext } from './validator.ts';

/** Default tolerance for timestamps ahead of the validator's clock. */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** Everything the bus knows about one event type. */
export interface EventContract<T extends EventType = EventType> {
  readonly eventType: T;
  /** Owning institution folder, lower case (`pgn`). */
  readonly institution: string;
  /** Full Avro record name, for TopicRecordNameStrategy subjects (`<topic>-<name>`). */
  readonly subjectRecordName: string;
  /** Self-contained schema (shared types inlined), ready to register. */
  readonly schema: Readonly<Record<string, unknown>>;
  /** avsc type with the JSON-friendly logical types (ISO strings for times). */
  readonly avroType: avro.Type;
}

/** Options of `createContracts`. */
export interface ContractsOptions {
  /** Folder of the `.avsc` files (default `schemas/`). */
  readonly schemasDir?: string;
  /** Folder of the catalogs (default `schemas/catalogs/`). */
  readonly catalogsDir?: string;
  /** Plate regular expressions replacing those of `plate-patterns.yaml`. */
  readonly platePatterns?: readonly string[];
  /** Default future tolerance of timestamps (default 5 minutes). */
  readonly maxFutureSkewMs?: number;
}

/** Per-call options of validation. */
export interface ValidateOptions {
  /** The validator's "now", epoch ms (default `Date.now()`). */
  readonly nowMs?: number;
  /** Overrides the instance's future tolerance. */
  readonly maxFutureSkewMs?: number;
}

/** The loaded contracts: a plain object, built once. */
export interface Contracts {
  readonly eventTypes: readonly EventType[];
  readonly catalogs: Catalogs;
  /** True when `eventType` is one the bus carries. */
  isEventType(eventType: string): eventType is EventType;
  /** The contract of `eventType`; throws `BUS_ERR_UNKNOWN_EVENT_TYPE` otherwise. */
  get<T extends EventType>(eventType: T): EventContract<T>;
  /** Every violation of `data` (empty when valid). */
  validate(eventType: EventType, data: unknown, options?: ValidateOptions): Violation[];
  /** Normalises (plates), validates and returns the data to encode; throws `ValidationError`. */
  assertValid<T extends EventType>(eventType: T, data: unknown, options?: ValidateOptions): EventDataMap[T];
  /** Returns `data` with its plates normalised (the same object when nothing changes). */
  normalize<T extends EventType>(eventType: T, data: EventDataMap[T]): EventDataMap[T];
}

interface Entry {
  readonly contract: EventContract;
  readonly check: (data: unknown, ctx: ValidationContext) => void;
  readonly platePaths: readonly (readonly string[])[];
}

function unknownEventType(eventType: string): BusError {
  return new BusError(
    'BUS_ERR_UNKNOWN_EVENT_TYPE',
    `unknown event type "${eventType}"; known: ${EVENT_TYPES.join(', ')}`,
  );
}

function setIn(
  obj: Record<string, unknown>,
  keys: readonly string[],
  i: number,
  value: unknown,
): Record<string, unknown> {
  const key = keys[i]!;
  if (i === keys.length - 1) return { ...obj, [key]: value };
  return { ...obj, [key]: setIn(obj[key] as Record<string, unknown>, keys, i + 1, value) };
}

/**
 * Loads schemas and catalogs and compiles every validator. Throws
 * `ConfigError` when a schema or catalog is malformed, or when the generated
 * types are stale (run `npm run contracts:generate`).
 */
export function createContracts(options: ContractsOptions = {}): Contracts {
  const schemasDir = options.schemasDir ?? DEFAULT_SCHEMAS_DIR;
  const catalogs = loadCatalogs(options.catalogsDir ?? DEFAULT_CATALOGS_DIR);
  const defaultSkewMs = options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  const patternSources = options.platePatterns ?? catalogs.platePatterns.entries.map((p) => p.regex);
  const platePatterns = patternSources.map((source) => {
    try {
      return new RegExp(source);
    } catch {
      throw new ConfigError(`plate pattern ${JSON.stringify(source)} is not a valid regular expression`);
    }
  });

  const entries = new Map<string, Entry>();
  for (const s of readEventSchemas(schemasDir)) {
    let avroType: avro.Type;
    try {
      avroType = buildAvroType(s.schema);
    } catch (cause) {
      throw new ConfigError(`schemas/${s.file}: not a valid Avro schema: ${(cause as Error).message}`);
    }
    const { check, platePaths } = compileValidator(s.schema as Record<string, unknown>, { catalogs, platePatterns });
    const contract: EventContract = Object.freeze({
      eventType: s.eventType as EventType,
      institution: s.institution,
      subjectRecordName: s.subjectRecordName,
      schema: s.schema,
      avroType,
    });
    entries.set(s.eventType, { contract, check, platePaths });
  }
  if (schemasDir === DEFAULT_SCHEMAS_DIR) {
    const onDisk = [...entries.keys()].join(',');
    if (onDisk !== EVENT_TYPES.join(',')) {
      throw new ConfigError(
        `contracts/generated/types.ts is stale (schemas: ${onDisk}); run npm run contracts:generate`,
      );
    }
  }
  const eventTypes = Object.freeze([...entries.keys()] as EventType[]);

  const entryOf = (eventType: string): Entry => {
    const entry = entries.get(eventType);
    if (entry === undefined) throw unknownEventType(eventType);
    return entry;
  };

  const validate = (eventType: EventType, data: unknown, opts?: ValidateOptions): Violation[] => {
    const entry = entryOf(eventType);
    const violations: Violation[] = [];
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      violations.push({ path: '', message: 'the event data must be an object', rule: 'type' });
      return violations;
    }
    entry.check(data, {
      violations,
      nowMs: opts?.nowMs ?? Date.now(),
      maxFutureSkewMs: opts?.maxFutureSkewMs ?? defaultSkewMs,
      root: data as Record<string, unknown>,
    });
    return violations;
  };

  // assertValid's context, reused: a valid event allocates nothing for its check.
  // `busy` guards re-entry (a getter on the data that validates another event).
  const scratch = { violations: [] as Violation[], nowMs: 0, maxFutureSkewMs: 0, root: {} as Record<string, unknown> };
  let busy = false;

  /** The violations of `data` (the same as `validate`), or undefined when there are none. */
  const violationsOf = (eventType: EventType, data: unknown, opts?: ValidateOptions): Violation[] | undefined => {
    if (busy || typeof data !== 'object' || data === null || Array.isArray(data)) {
      const violations = validate(eventType, data, opts);
      return violations.length > 0 ? violations : undefined;
    }
    const entry = entryOf(eventType);
    busy = true;
    try {
      scratch.nowMs = opts?.nowMs ?? Date.now();
      scratch.maxFutureSkewMs = opts?.maxFutureSkewMs ?? defaultSkewMs;
      scratch.root = data as Record<string, unknown>;
      entry.check(data, scratch);
      return scratch.violations.length > 0 ? scratch.violations.slice() : undefined;
    } finally {
      scratch.violations.length = 0;
      scratch.root = {};
      busy = false;
    }
  };

  const normalize = <T extends EventType>(eventType: T, data: EventDataMap[T]): EventDataMap[T] => {
    const { platePaths } = entryOf(eventType);
    let out = data as unknown as Record<string, unknown>;
    for (const keys of platePaths) {
      let v: unknown = out;
      for (const k of keys) v = v === null || typeof v !== 'object' ? undefined : (v as Record<string, unknown>)[k];
      if (typeof v !== 'string') continue;
      const plate = normalizePlate(v);
      if (plate !== v) out = setIn(out, keys, 0, plate);
    }
    return out as unknown as EventDataMap[T];
  };

  return Object.freeze({
    eventTypes,
    catalogs,
    isEventType: (eventType: string): eventType is EventType => entries.has(eventType),
    get: <T extends EventType>(eventType: T) => entryOf(eventType).contract as EventContract<T>,
    validate,
    normalize,
    assertValid: <T extends EventType>(eventType: T, data: unknown, opts?: ValidateOptions): EventDataMap[T] => {
      const violations = violationsOf(eventType, data, opts);
      if (violations !== undefined) throw new ValidationError(eventType, violations);
      return normalize(eventType, data as EventDataMap[T]);
    },
  });
}

let defaultContracts: Contracts | undefined;

/** The contracts of the repository's `schemas/`, built on first use and cached. */
export function loadContracts(): Contracts {
  defaultContracts ??= createContracts();
  return defaultContracts;
}

/** The contract (schema, avsc type, subject record name) of `eventType`. */
export function getContract<T extends EventType>(eventType: T): EventContract<T> {
  return loadContracts().get(eventType);
}

/** Every violation of `data` against its contract and the data-entry rules; empty when valid. */
export function validateEvent(eventType: EventType, data: unknown, options?: ValidateOptions): Violation[] {
  return loadContracts().validate(eventType, data, options);
}

/**
 * Validates `data` and returns it with plates normalised: encode and publish
 * the returned value. Throws `ValidationError` (BUS_ERR_VALIDATION) listing
 * every violation, or BUS_ERR_UNKNOWN_EVENT_TYPE.
 */
export function assertValidEvent<T extends EventType>(
  eventType: T,
  data: unknown,
  options?: ValidateOptions,
): EventDataMap[T] {
  return loadContracts().assertValid(eventType, data, options);
}

/** Returns `data` with its plates normalised (the same object when nothing changes). */
export function normalizeEvent<T extends EventType>(eventType: T, data: EventDataMap[T]): EventDataMap[T] {
  return loadContracts().normalize(eventType, data);
}
