/**
 * Reads the `.avsc` files and makes each event schema self-contained, as the
 * Confluent registry needs one schema per subject: shared named types of
 * `schemas/shared/` are inlined (full definition at the first occurrence,
 * referenced by full name afterwards, in Avro parsing order).
 *
 * Path convention: `schemas/<institution>/<entity>.<action>.avsc` is the event
 * type `<institution>.<entity>.<action>`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../core/errors.ts';

/** Where the schemas live by default. */
export const DEFAULT_SCHEMAS_DIR = fileURLToPath(new URL('../schemas/', import.meta.url));

/** Folders of `schemas/` that hold no event types. */
const NON_EVENT_DIRS = new Set(['shared', 'catalogs']);

/** An Avro schema as parsed JSON. */
export type AvroSchema = string | AvroSchema[] | { [key: string]: unknown };

/** One event type's schema, self-contained. */
export interface EventSchema {
  readonly eventType: string;
  readonly institution: string;
  /** Full Avro name of the record, e.g. `gt.sns.pgn.AlbaKenethActivated`. */
  readonly subjectRecordName: string;
  /** Self-contained schema (shared types inlined). */
  readonly schema: Readonly<Record<string, unknown>>;
  /** File the schema came from, relative to the schemas folder. */
  readonly file: string;
}

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new ConfigError(`schema ${path} is not valid JSON: ${(cause as Error).message}`);
  }
}

function fullName(def: Record<string, unknown>, namespace?: string): string {
  const name = String(def.name);
  if (name.includes('.')) return name;
  const ns = (def.namespace as string | undefined) ?? namespace;
  return ns ? `${ns}.${name}` : name;
}

/** Reads the shared named types, by full name. */
export function readSharedTypes(dir: string = DEFAULT_SCHEMAS_DIR): Map<string, Record<string, unknown>> {
  const shared = new Map<string, Record<string, unknown>>();
  const sharedDir = join(dir, 'shared');
  for (const file of readdirSync(sharedDir)
    .filter((f) => f.endsWith('.avsc'))
    .sort()) {
    const def = readJson(join(sharedDir, file));
    const name = fullName(def);
    if (shared.has(name)) throw new ConfigError(`schemas/shared/${file}: ${name} is defined twice`);
    shared.set(name, def);
  }
  return shared;
}

/** Returns `schema` with shared named types inlined at their first occurrence. */
export function inlineSharedTypes(
  schema: AvroSchema,
  shared: ReadonlyMap<string, Record<string, unknown>>,
): AvroSchema {
  const defined = new Set<string>();
  const visit = (node: AvroSchema, namespace: string | undefined): AvroSchema => {
    if (typeof node === 'string') {
      const name = shared.has(node)
        ? node
        : namespace && shared.has(`${namespace}.${node}`)
          ? `${namespace}.${node}`
          : undefined;
      if (name === undefined) return node;
      if (defined.has(name)) return name;
      return visit(structuredClone(shared.get(name)!) as AvroSchema, namespace);
    }
    if (Array.isArray(node)) return node.map((branch) => visit(branch, namespace));
    const type = node.type;
    if (type === 'record' || type === 'error' || type === 'enum' || type === 'fixed') {
      const name = fullName(node, namespace);
      defined.add(name);
      if (type === 'record' || type === 'error') {
        const ns = name.slice(0, name.lastIndexOf('.')) || undefined;
        const fields = (node.fields as Record<string, unknown>[]).map((field) => ({
          ...field,
          type: visit(field.type as AvroSchema, ns),
        }));
        return { ...node, fields };
      }
      return node;
    }
    if (type === 'array') return { ...node, items: visit(node.items as AvroSchema, namespace) };
    if (type === 'map') return { ...node, values: visit(node.values as AvroSchema, namespace) };
    if (typeof type === 'object' && type !== null) return { ...node, type: visit(type as AvroSchema, namespace) };
    return node;
  };
  return visit(schema, undefined);
}

/** Reads every event schema of `dir`, sorted by event type, each self-contained. */
export function readEventSchemas(dir: string = DEFAULT_SCHEMAS_DIR): EventSchema[] {
  const shared = readSharedTypes(dir);
  const out: EventSchema[] = [];
  for (const institution of readdirSync(dir).sort()) {
    if (NON_EVENT_DIRS.has(institution) || !statSync(join(dir, institution)).isDirectory()) continue;
    for (const file of readdirSync(join(dir, institution))
      .filter((f) => f.endsWith('.avsc'))
      .sort()) {
      const base = file.slice(0, -'.avsc'.length);
      const eventType = `${institution}.${base}`;
      if (!/^[a-z]+\.[a-z-]+\.[a-z-]+$/.test(eventType)) {
        throw new ConfigError(`schemas/${institution}/${file}: must be named <entity>.<action>.avsc in kebab case`);
      }
      const raw = readJson(join(dir, institution, file));
      if (raw.type !== 'record')
        throw new ConfigError(`schemas/${institution}/${file}: an event schema must be a record`);
      const schema = inlineSharedTypes(raw, shared) as Record<string, unknown>;
      out.push({ eventType, institution, subjectRecordName: fullName(schema), schema, file: `${institution}/${file}` });
    }
  }
  return out.sort((a, b) => a.eventType.localeCompare(b.eventType));
}
