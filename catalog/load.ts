/**
 * Loads and validates topics.yaml: a JSON Schema for the structure, then the
 * checks a schema cannot express (duplicates, owners, event types present in
 * `schemas/`, item → topic links). Every violation is collected and reported
 * at once, located by JSON Pointer and, where the YAML allows, by line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { BusError, type Violation } from '../core/index.ts';
import { escapePointer, failWithViolations, lineOf } from '../core/yaml-source.ts';
import { EVENT_TYPE_PATTERN, topicsFileSchema } from './schema.ts';
import type { Catalog, InformationItem, Institution, TopicSpec } from './types.ts';

/** A violation of topics.yaml, with the 1-based line it was found on when known. */
export interface CatalogViolation extends Violation {
  readonly line?: number;
}

export interface LoadCatalogOptions {
  /**
   * Folder holding the Avro schemas; an event type `<a>.<b>.<c>` exists iff
   * `<schemasDir>/<a>/<b>.<c>.avsc` does. Defaults to `schemas/` next to the file.
   */
  schemasDir?: string;
}

export interface ParseCatalogOptions {
  /** Name of the file in messages (default `topics.yaml`). */
  source?: string;
  /** As in `LoadCatalogOptions`; defaults to `schemas/` in the working directory. */
  schemasDir?: string;
}

/** Keys Kafka would take from a topic's own fields; `configs` may not set them too. */
const RESERVED_CONFIGS: Readonly<Record<string, string>> = {
  'retention.ms': 'retentionMs',
  'cleanup.policy': 'cleanupPolicy',
};

const ajv = new Ajv({ allErrors: true, allowUnionTypes: true, strict: true });
const validateStructure = ajv.compile(topicsFileSchema);
const eventTypeRe = new RegExp(EVENT_TYPE_PATTERN);

/** The repository's topics.yaml, wherever the process runs from. */
export const DEFAULT_TOPICS_FILE = fileURLToPath(new URL('../topics.yaml', import.meta.url));

/**
 * Reads, validates and freezes the catalog at `path` (default: the repository's topics.yaml).
 * Throws one BusError `BUS_ERR_TOPICS_FILE` listing every violation when the file is invalid or unreadable.
 */
export function loadCatalog(path: string = DEFAULT_TOPICS_FILE, options: LoadCatalogOptions = {}): Catalog {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new BusError('BUS_ERR_TOPICS_FILE', `${path}: cannot be read (${(cause as Error).message})`, { cause });
  }
  return parseCatalog(text, {
    source: path === DEFAULT_TOPICS_FILE ? 'topics.yaml' : path,
    schemasDir: options.schemasDir ?? join(dirname(resolve(path)), 'schemas'),
  });
}

/**
 * Validates and freezes a catalog given as YAML text; `loadCatalog` without the file.
 * Throws one BusError `BUS_ERR_TOPICS_FILE` listing every violation.
 */
export function parseCatalog(text: string, options: ParseCatalogOptions = {}): Catalog {
  const source = options.source ?? 'topics.yaml';
  const schemasDir = resolve(options.schemasDir ?? 'schemas');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });

  if (doc.errors.length > 0) {
    failWithViolations(
      'BUS_ERR_TOPICS_FILE',
      source,
      doc.errors.map((e) => ({
        path: '',
        message: e.message.split('\n')[0] ?? e.code,
        rule: 'yaml.syntax',
        ...(e.linePos ? { line: e.linePos[0].line } : {}),
      })),
    );
  }

  const data: unknown = doc.toJS();
  const located = (path: string, message: string, rule: string, onKey = false): CatalogViolation => {
    const line = lineOf(doc, lineCounter, path, onKey);
    return line === undefined ? { path, message, rule } : { path, message, rule, line };
  };

  const violations: CatalogViolation[] = [];
  if (!validateStructure(data)) {
    for (const error of validateStructure.errors ?? []) violations.push(fromAjv(error, located));
  }
  violations.push(...crossChecks(data, schemasDir, located));
  if (violations.length > 0) failWithViolations('BUS_ERR_TOPICS_FILE', source, violations);
  return buildCatalog(source, data as RawFile);
}

type Locate = (path: string, message: string, rule: string, onKey?: boolean) => CatalogViolation;

function fromAjv(error: ErrorObject, located: Locate): CatalogViolation {
  const rule = `schema.${error.keyword}`;
  if (error.keyword === 'additionalProperties') {
    const key = String((error.params as { additionalProperty: string }).additionalProperty);
    return located(`${error.instancePath}/${escapePointer(key)}`, `unknown key "${key}"`, rule, true);
  }
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues.join(', ');
    return located(error.instancePath, `must be one of: ${allowed}`, rule);
  }
  if (error.keyword === 'propertyNames') {
    const key = String((error.params as { propertyName: string }).propertyName);
    return located(`${error.instancePath}/${escapePointer(key)}`, `"${key}" is not a valid config name`, rule, true);
  }
  return located(error.instancePath, error.message ?? 'is invalid', rule);
}

/** The shape of a file that passed the JSON Schema. */
interface RawFile {
  institutions: { code: string; name: string }[];
  topics: {
    name: string;
    owner: string;
    description: string;
    eventTypes: string[];
    keyField: string | null;
    partitions: number;
    replicationFactor: number;
    retentionMs?: number;
    cleanupPolicy?: 'delete' | 'compact';
    configs?: Record<string, string | number | boolean>;
  }[];
  items: (Omit<InformationItem, 'topic'> & { topic?: string })[];
}

/** Checks that span several entries. Defensive: runs even when the structure is wrong, to list everything at once. */
function crossChecks(data: unknown, schemasDir: string, located: Locate): CatalogViolation[] {
  const out: CatalogViolation[] = [];
  const root = asRecord(data);
  if (!root) return out;
  const institutions = asArray(root.institutions);
  const topics = asArray(root.topics);
  const items = asArray(root.items);

  const codes = new Map<string, number>();
  institutions.forEach((raw, i) => {
    const code = asRecord(raw)?.code;
    if (typeof code !== 'string') return;
    const first = codes.get(code);
    if (first !== undefined) {
      out.push(located(`/institutions/${i}/code`, `duplicate institution "${code}" (first declared at /institutions/${first})`, 'institution.duplicate'));
    } else codes.set(code, i);
  });
  const knownCodes = [...codes.keys()].join(', ');
  const checkInstitution = (path: string, value: unknown): void => {
    if (typeof value === 'string' && !codes.has(value)) {
      out.push(located(path, `unknown institution "${value}" (declared: ${knownCodes})`, 'institution.unknown'));
    }
  };

  const topicNames = new Map<string, number>();
  const carriers = new Map<string, string>();
  topics.forEach((raw, i) => {
    const topic = asRecord(raw);
    if (!topic) return;
    const base = `/topics/${i}`;
    const name = typeof topic.name === 'string' ? topic.name : undefined;
    if (name !== undefined) {
      const first = topicNames.get(name);
      if (first !== undefined) {
        out.push(located(`${base}/name`, `duplicate topic "${name}" (first declared at /topics/${first})`, 'topic.duplicate'));
      } else topicNames.set(name, i);
    }
    checkInstitution(`${base}/owner`, topic.owner);

    const eventTypes = asArray(topic.eventTypes);
    eventTypes.forEach((eventType, k) => {
      if (typeof eventType !== 'string' || !eventTypeRe.test(eventType)) return;
      const path = `${base}/eventTypes/${k}`;
      const carrier = carriers.get(eventType);
      if (carrier !== undefined) {
        out.push(located(path, `duplicate event type "${eventType}" (already carried by ${carrier})`, 'eventType.duplicate'));
      } else carriers.set(eventType, name ?? base);
      const file = schemaFileOf(schemasDir, eventType);
      if (!existsSync(file)) {
        out.push(located(path, `unknown event type "${eventType}" (no schema file ${display(file)})`, 'eventType.unknown'));
      }
    });
    if (eventTypes.length > 0 && topic.keyField === null) {
      out.push(located(`${base}/keyField`, 'must name the key field: the topic carries event types', 'topic.keyField'));
    }

    const configs = asRecord(topic.configs);
    if (configs) {
      for (const [key, field] of Object.entries(RESERVED_CONFIGS)) {
        if (key in configs) {
          out.push(located(`${base}/configs/${escapePointer(key)}`, `set ${key} with ${field}, not in configs`, 'topic.configs.reserved', true));
        }
      }
      const minIsr = Number(configs['min.insync.replicas']);
      const rf = topic.replicationFactor;
      if (Number.isFinite(minIsr) && typeof rf === 'number' && minIsr > rf) {
        out.push(located(`${base}/configs/min.insync.replicas`, `must be <= replicationFactor (${rf})`, 'topic.configs.minIsr'));
      }
    }
  });

  const itemIds = new Map<string, number>();
  items.forEach((raw, i) => {
    const item = asRecord(raw);
    if (!item) return;
    const base = `/items/${i}`;
    if (typeof item.id === 'string') {
      const first = itemIds.get(item.id);
      if (first !== undefined) {
        out.push(located(`${base}/id`, `duplicate item id "${item.id}" (first declared at /items/${first})`, 'item.duplicate'));
      } else itemIds.set(item.id, i);
    }
    checkInstitution(`${base}/institution`, item.institution);
    if (typeof item.topic === 'string' && !topicNames.has(item.topic)) {
      out.push(located(`${base}/topic`, `undeclared topic "${item.topic}"`, 'item.topic'));
    }
  });
  return out;
}

/** `conred.incident.reported` → `<schemasDir>/conred/incident.reported.avsc`. */
function schemaFileOf(schemasDir: string, eventType: string): string {
  const dot = eventType.indexOf('.');
  return join(schemasDir, eventType.slice(0, dot), `${eventType.slice(dot + 1)}.avsc`);
}

function buildCatalog(source: string, raw: RawFile): Catalog {
  const institutions: readonly Institution[] = Object.freeze(
    raw.institutions.map((i) => Object.freeze({ code: i.code, name: i.name })),
  );
  const topics: readonly TopicSpec[] = Object.freeze(
    raw.topics.map((t) =>
      Object.freeze({
        name: t.name,
        owner: t.owner,
        description: t.description,
        eventTypes: Object.freeze([...t.eventTypes]),
        keyField: t.keyField,
        partitions: t.partitions,
        replicationFactor: t.replicationFactor,
        retentionMs: t.retentionMs ?? -1,
        cleanupPolicy: t.cleanupPolicy ?? 'delete',
        configs: Object.freeze(
          Object.fromEntries(Object.entries(t.configs ?? {}).map(([k, v]) => [k, String(v)])),
        ),
      }),
    ),
  );
  const items: readonly InformationItem[] = Object.freeze(
    raw.items.map((item) =>
      Object.freeze({
        ...item,
        dataState: Object.freeze({ ...item.dataState }),
        dataQuality: Object.freeze({ ...item.dataQuality }),
        updateFrequency: Object.freeze({ ...item.updateFrequency }),
      }),
    ),
  );

  const byName = new Map(topics.map((t) => [t.name, t]));
  const byEventType = new Map(topics.flatMap((t) => t.eventTypes.map((e) => [e, t] as const)));
  const eventTypes = Object.freeze([...byEventType.keys()]);
  const byOwner = new Map<string, readonly string[]>();
  for (const t of topics) byOwner.set(t.owner, Object.freeze([...(byOwner.get(t.owner) ?? []), ...t.eventTypes]));

  const topicOf = (eventType: string): TopicSpec => {
    const topic = byEventType.get(eventType);
    if (!topic) {
      throw new BusError('BUS_ERR_TOPIC_UNDECLARED', `event type "${eventType}" is not carried by any topic in ${source}`);
    }
    return topic;
  };

  return Object.freeze({
    source,
    institutions,
    items,
    topics,
    eventTypes,
    isDeclaredEventType: (eventType: string) => byEventType.has(eventType),
    topic(name: string): TopicSpec {
      const topic = byName.get(name);
      if (!topic) throw new BusError('BUS_ERR_TOPIC_UNDECLARED', `topic "${name}" is not declared in ${source}`);
      return topic;
    },
    topicOf,
    ownerOf: (eventType: string) => topicOf(eventType).owner,
    // A topic that carries event types always has a key field (checked on load).
    keyFieldOf: (eventType: string) => topicOf(eventType).keyField as string,
    eventTypesOf: (institution: string) => byOwner.get(institution) ?? Object.freeze([]),
  });
}



function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A path relative to the working directory when it lies below it, else absolute. */
function display(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}
