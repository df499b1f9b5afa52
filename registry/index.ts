/**
 * Schema registry access and the Confluent wire format, shared by the SDK,
 * the consumers and the replay tools.
 *
 * Subjects follow TopicRecordNameStrategy (`<topic>-<record full name>`), so
 * one topic carries a whole lifecycle of event types. Schema ids and writer
 * schemas are cached for the life of the process: an id, once written into a
 * topic, never changes meaning.
 */
import avro from 'avsc';
import { BusError } from '../core/index.ts';
import { settings } from '../core/settings.ts';

/** The subject of a record type on a topic (TopicRecordNameStrategy). */
export function subjectFor(topic: string, recordFullName: string): string {
  return `${topic}-${recordFullName}`;
}

/**
 * Compatibility of every event subject. The registry's global rule is
 * BACKWARD_TRANSITIVE; event subjects are stricter: replay reads old data with
 * the current schema (backward) and running consumers read new data with the
 * schema they were built with (forward), so both directions must hold, across
 * all versions.
 */
export const SUBJECT_COMPATIBILITY = 'FULL_TRANSITIVE';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

/** Prefixes an Avro body with the Confluent header (magic byte 0, 4-byte schema id). */
export function encodeWire(schemaId: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out[0] = MAGIC_BYTE;
  out.writeInt32BE(schemaId, 1);
  body.copy(out, HEADER_BYTES);
  return out;
}

/** Bytes of a slab that framed messages are encoded into, one after another. */
const SLAB_BYTES = 64 * 1024;
/** Records bigger than this get a buffer of their own instead of a fresh slab. */
const OWN_BUFFER_BYTES = SLAB_BYTES / 4;
let slab = Buffer.allocUnsafe(SLAB_BYTES);
let slabUsed = 0;

type Encodable = { encode(val: unknown, buf: Buffer, pos?: number): number };

/**
 * Encodes `data` with `type` straight into a Confluent-framed buffer (the hot
 * path of the SDK): no copy and no allocation per message but the view. The
 * bytes are written at the free end of a shared slab that is never written
 * again (a full slab is replaced, not reused), so each returned buffer keeps
 * its bytes for as long as it lives; a slab is freed with the last of its
 * messages.
 */
export function encodeFramed(schemaId: number, type: Encodable, data: unknown): Buffer {
  const start = slabUsed;
  const end = type.encode(data, slab, start + HEADER_BYTES);
  if (end < 0) return encodeElsewhere(schemaId, type, data, slab.length - end - start);
  slab[start] = MAGIC_BYTE;
  slab.writeInt32BE(schemaId, start + 1);
  slabUsed = end;
  return slab.subarray(start, end);
}

/**
 * The record did not fit in the rest of the slab: avsc answered with minus the
 * bytes that were missing, so `framedBytes` is the size it needs, header included.
 */
function encodeElsewhere(schemaId: number, type: Encodable, data: unknown, framedBytes: number): Buffer {
  let buf: Buffer;
  if (framedBytes > OWN_BUFFER_BYTES) buf = Buffer.allocUnsafe(framedBytes);
  else {
    slab = Buffer.allocUnsafe(SLAB_BYTES);
    slabUsed = 0;
    buf = slab;
  }
  let end = type.encode(data, buf, HEADER_BYTES);
  while (end < 0) {
    // Not expected (avsc's answer is exact), but never write past the buffer.
    buf = Buffer.allocUnsafe(buf.length - end);
    end = type.encode(data, buf, HEADER_BYTES);
  }
  buf[0] = MAGIC_BYTE;
  buf.writeInt32BE(schemaId, 1);
  if (buf !== slab) return end === buf.length ? buf : buf.subarray(0, end);
  slabUsed = end;
  return slab.subarray(0, end);
}

/** Why a message could not be decoded; part of the dead-letter headers. */
export type DecodeFailure = 'magic-byte' | 'unknown-schema-id' | 'unusable-schema' | 'truncated' | 'avro' | 'unknown-record';

/** Thrown by `decode` when a message is not a valid Confluent-framed Avro record we know. */
export class DecodeError extends BusError {
  readonly reason: DecodeFailure;
  constructor(reason: DecodeFailure, message: string, cause?: unknown) {
    super('BUS_ERR_DECODE', message, { cause });
    this.reason = reason;
  }
}

export interface RegistryClient {
  /** The Confluent-compatible base URL. */
  readonly url: string;
  /**
   * The id of `schema` under `subject`. With `register: true` it registers the
   * schema when missing (idempotent); otherwise it only looks it up and throws
   * BUS_ERR_SCHEMA_NOT_REGISTERED when absent.
   */
  resolveId(subject: string, schema: object, opts: { register: boolean }): Promise<number>;
  /** Registers `schema` under `subject`; returns id and version. */
  register(subject: string, schema: object): Promise<{ id: number; version: number }>;
  /** The writer schema stored under `id` (cached). */
  writerSchema(id: number): Promise<object>;
}

/** Creates a registry client for the Confluent-compatible API at `url`. */
export function createRegistry(url: string): RegistryClient {
  const base = url.replace(/\/+$/, '');
  const ids = new Map<string, Promise<number>>();
  const writers = new Map<number, Promise<object>>();

  async function http(path: string, init?: RequestInit): Promise<Response> {
    try {
      return await fetch(`${base}${path}`, {
        ...init,
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', ...(init?.headers ?? {}) },
        signal: AbortSignal.timeout(settings.registryRequestTimeoutMs),
      });
    } catch (err) {
      throw new BusError('BUS_ERR_REGISTRY_UNAVAILABLE', `schema registry at ${base} did not answer`, { cause: err });
    }
  }

  async function register(subject: string, schema: object): Promise<{ id: number; version: number }> {
    const cfg = await http(`/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      body: JSON.stringify({ compatibility: SUBJECT_COMPATIBILITY }),
    });
    if (!cfg.ok) throw new BusError('BUS_ERR_REGISTRY_UNAVAILABLE', `registry answered HTTP ${cfg.status} setting the compatibility of ${subject}`);
    const r = await http(`/subjects/${encodeURIComponent(subject)}/versions`, {
      method: 'POST',
      body: JSON.stringify({ schemaType: 'AVRO', schema: JSON.stringify(schema) }),
    });
    if (r.status === 409 || r.status === 422) {
      throw new BusError('BUS_ERR_SCHEMA_INCOMPATIBLE', `registry rejected the schema for ${subject}: ${(await r.text()).slice(0, 500)}`);
    }
    if (!r.ok) throw new BusError('BUS_ERR_REGISTRY_UNAVAILABLE', `registry answered HTTP ${r.status} registering ${subject}`);
    const { id } = (await r.json()) as { id: number };
    const found = await lookup(subject, schema);
    return { id, version: found?.version ?? -1 };
  }

  async function lookup(subject: string, schema: object): Promise<{ id: number; version: number } | undefined> {
    const r = await http(`/subjects/${encodeURIComponent(subject)}`, {
      method: 'POST',
      body: JSON.stringify({ schemaType: 'AVRO', schema: JSON.stringify(schema) }),
    });
    if (r.status === 404) return undefined;
    if (!r.ok) throw new BusError('BUS_ERR_REGISTRY_UNAVAILABLE', `registry answered HTTP ${r.status} looking up ${subject}`);
    const body = (await r.json()) as { id: number; version: number };
    return { id: body.id, version: body.version };
  }

  return {
    url: base,
    resolveId(subject, schema, opts) {
      const key = `${subject}\u0000${opts.register ? 'r' : 'l'}`;
      let p = ids.get(key);
      if (!p) {
        p = (async () => {
          const found = await lookup(subject, schema);
          if (found) return found.id;
          if (!opts.register) {
            throw new BusError(
              'BUS_ERR_SCHEMA_NOT_REGISTERED',
              `no registered schema under ${subject} matches this SDK's schema; run \`npm run schemas:register\``,
            );
          }
          return (await register(subject, schema)).id;
        })();
        ids.set(key, p);
        // A failure is not cached: the next call tries again.
        p.catch(() => ids.delete(key));
      }
      return p;
    },
    register,
    writerSchema(id) {
      let p = writers.get(id);
      if (!p) {
        p = (async () => {
          const r = await http(`/schemas/ids/${id}`);
          if (r.status === 404) throw new DecodeError('unknown-schema-id', `schema id ${id} is not in the registry`);
          if (!r.ok) throw new BusError('BUS_ERR_REGISTRY_UNAVAILABLE', `registry answered HTTP ${r.status} for schema id ${id}`);
          const body = (await r.json()) as { schema: string; schemaType?: string };
          // A JSON Schema or Protobuf artifact (or anything that is not Avro) can never be decoded: poison, not an outage.
          if (body.schemaType !== undefined && body.schemaType !== 'AVRO') throw new DecodeError('unusable-schema', `schema id ${id} is ${body.schemaType}, not Avro`);
          try {
            return JSON.parse(body.schema) as object;
          } catch (err) {
            throw new DecodeError('unusable-schema', `schema id ${id} is not an Avro schema (not JSON)`, err);
          }
        })();
        writers.set(id, p);
        p.catch(() => writers.delete(id));
      }
      return p;
    },
  };
}

/** What a decoder returns for one message. */
export interface Decoded<T = unknown> {
  schemaId: number;
  /** Full Avro name of the writer's record, e.g. `gt.sns.pgn.AlbaKenethActivated`. */
  recordName: string;
  data: T;
}

export interface DecoderOptions {
  registry: RegistryClient;
  /** Current reader types by full record name; data is read through them (schema evolution). */
  readerTypes?: ReadonlyMap<string, avro.Type>;
  /** avsc logical type implementations (JSON-friendly timestamps, dates, uuids). */
  logicalTypes?: Record<string, new (...args: never[]) => avro.types.LogicalType>;
}

/**
 * Creates a decoder of Confluent-framed Avro messages. Writer schemas come
 * from the registry by id; data is resolved into the reader type of the same
 * record name when one is given, so events written under old schema versions
 * are read through the current schema.
 */
export function createDecoder(options: DecoderOptions): {
  decode<T = unknown>(buf: Buffer | null): Promise<Decoded<T>>;
  /** Synchronous decode when the schema id is already cached; undefined otherwise. */
  decodeCached<T = unknown>(buf: Buffer): Decoded<T> | undefined;
} {
  type Entry = { name: string; read: (body: Buffer) => unknown };
  const entries = new Map<number, Promise<Entry>>();
  const ready = new Map<number, Entry>();

  function entryFor(id: number): Promise<Entry> {
    let p = entries.get(id);
    if (!p) {
      p = (async () => {
        const schema = await options.registry.writerSchema(id);
        // A schema avsc cannot read, or cannot resolve into the reader of its name, makes every message
        // written with it undecodable: a DecodeError (dead letter), never a retry that stalls the partition.
        const unusable = <T>(what: string, make: () => T): T => {
          try {
            return make();
          } catch (err) {
            throw new DecodeError('unusable-schema', `schema id ${id} ${what}: ${(err as Error).message}`, err);
          }
        };
        const writer = unusable('is not a valid Avro schema', () => avro.Type.forSchema(schema as avro.Schema, { logicalTypes: options.logicalTypes as never }));
        const name = writer.name ?? '';
        const reader = options.readerTypes?.get(name);
        let entry: Entry;
        if (reader && sameSchema(reader, writer)) {
          // Written with the reader's own schema (the usual case): no resolver layer on every field.
          entry = { name, read: (body) => reader.fromBuffer(body) };
        } else if (reader) {
          const resolver = unusable(`cannot be read as the current ${name}`, () => reader.createResolver(writer));
          entry = { name, read: (body) => reader.fromBuffer(body, resolver) };
        } else if (options.readerTypes) {
          throw new DecodeError('unknown-record', `schema id ${id} is record ${name}, which this reader does not know`);
        } else {
          entry = { name, read: (body) => writer.fromBuffer(body) };
        }
        ready.set(id, entry);
        return entry;
      })();
      entries.set(id, p);
      p.catch(() => entries.delete(id));
    }
    return p;
  }

  function frame(buf: Buffer | null): number {
    if (!buf || buf.length < HEADER_BYTES || buf[0] !== MAGIC_BYTE) {
      throw new DecodeError('magic-byte', 'message is not in Confluent wire format (magic byte or header missing)');
    }
    return buf.readInt32BE(1);
  }

  function body<T>(id: number, entry: Entry, buf: Buffer): Decoded<T> {
    try {
      return { schemaId: id, recordName: entry.name, data: entry.read(buf.subarray(HEADER_BYTES)) as T };
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const truncated = /truncated/i.test(msg);
      throw new DecodeError(truncated ? 'truncated' : 'avro', `Avro body of schema id ${id} ${truncated ? 'is truncated' : 'is invalid'}`, err);
    }
  }

  return {
    async decode<T>(buf: Buffer | null) {
      const id = frame(buf);
      return body<T>(id, await entryFor(id), buf!);
    },
    decodeCached<T>(buf: Buffer) {
      const id = frame(buf);
      const entry = ready.get(id);
      return entry ? body<T>(id, entry, buf) : undefined;
    },
  };
}

/** True when both types have the same full schema, logical types and attributes included. */
function sameSchema(a: avro.Type, b: avro.Type): boolean {
  return JSON.stringify(a.schema({ exportAttrs: true })) === JSON.stringify(b.schema({ exportAttrs: true }));
}
