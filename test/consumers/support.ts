/**
 * Shared fixtures of the consumer tests: a unique database and topic prefix
 * per test file, a raw publisher (to write exact bytes, poison included) and
 * polling helpers.
 */
import type { Admin, Producer as KafkaProducer } from 'kafkajs';
import pg from 'pg';
import { applyTopics, loadCatalog } from '../../catalog/index.ts';
import { getContract, type EventDataMap, type EventType } from '../../contracts/index.ts';
import { createKafka, databaseUrlFor, readEndpoints } from '../../core/index.ts';
import { createRegistry, encodeWire, subjectFor } from '../../registry/index.ts';
import { uniqueName } from '../support/names.ts';

export const catalog = loadCatalog();

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(check: () => Promise<T>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < until) {
    last = await check();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
}

export interface TestContext {
  readonly prefix: string;
  readonly databaseUrl: string;
  readonly pool: pg.Pool;
  readonly admin: Admin;
  /** Topic name with the test prefix, from an event type. */
  topicOf(type: EventType): string;
  /** Publishes one event encoded exactly as the SDK does (CloudEvents headers), or raw bytes. */
  publish<T extends EventType>(type: T, data: EventDataMap[T]): Promise<void>;
  publishRaw(topic: string, key: string, value: Buffer | null, headers?: Record<string, string>): Promise<void>;
  /** The registered schema id of `type` on its (prefixed) topic. */
  schemaId(type: EventType): Promise<number>;
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

/** Creates a database and the catalog's topics, unique to one test file. */
export async function createTestContext(name: string): Promise<TestContext> {
  const id = uniqueName(name).replace(/[^a-z0-9]/g, '_');
  const prefix = `${uniqueName(name)}.`;
  const server = new pg.Client({ connectionString: readEndpoints().databaseUrl });
  await server.connect();
  await server.query(`CREATE DATABASE ${id}`);
  await server.end();
  const databaseUrl = databaseUrlFor(id);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 3 });
  pool.on('error', () => undefined);
  const kafka = createKafka({ clientId: `test-${name}` });
  const admin = kafka.admin();
  await admin.connect();
  await applyTopics(catalog, { admin, prefix });
  const producer: KafkaProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const registry = createRegistry(readEndpoints().registryUrl);
  const ids = new Map<string, Promise<number>>();

  const topicOf = (type: EventType) => prefix + catalog.topicOf(type).name;
  const schemaId = (type: EventType) => {
    let p = ids.get(type);
    if (!p) {
      const c = getContract(type);
      p = registry.resolveId(subjectFor(topicOf(type), c.subjectRecordName), c.schema, { register: true });
      ids.set(type, p);
    }
    return p;
  };
  const publishRaw = async (topic: string, key: string, value: Buffer | null, headers: Record<string, string> = {}) => {
    await producer.send({ topic, acks: -1, messages: [{ key, value, headers }] });
  };

  return {
    prefix,
    databaseUrl,
    pool,
    admin,
    topicOf,
    schemaId,
    publishRaw,
    async publish(type, data) {
      const c = getContract(type);
      const d = data as unknown as Record<string, unknown>;
      const key = String(d[catalog.keyFieldOf(type)]);
      await publishRaw(topicOf(type), key, encodeWire(await schemaId(type), c.avroType.toBuffer(data)), {
        ce_specversion: '1.0', ce_id: String(d.eventId), ce_source: catalog.ownerOf(type), ce_type: type,
        ce_time: String(d.occurredAt), ce_subject: key, 'content-type': 'application/avro',
      });
    },
    async query(sql, params) {
      return (await pool.query(sql, params)).rows;
    },
    async close() {
      await producer.disconnect();
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
      await admin.disconnect();
      await pool.end();
      const s = new pg.Client({ connectionString: readEndpoints().databaseUrl });
      await s.connect();
      await s.query(`DROP DATABASE IF EXISTS ${id} WITH (FORCE)`);
      await s.end();
    },
  };
}

/** Count of rows in `schema.table`. */
export async function countRows(ctx: TestContext, table: string, schema = 'store'): Promise<number> {
  const r = await ctx.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${schema}"."${table}"`);
  return Number(r[0]!.n);
}

/** True when the group's stored offsets reached every partition's high watermark. */
export async function drained(ctx: TestContext, groupId: string, topics: readonly string[], schema = 'store'): Promise<boolean> {
  const rows = await ctx.query<{ topic: string; partition: number; next_offset: string | null }>(
    `SELECT topic, partition, next_offset FROM "${schema}".consumer_offsets WHERE group_id = $1`,
    [groupId],
  );
  const stored = new Map(rows.map((r) => [`${r.topic}:${r.partition}`, r.next_offset]));
  for (const topic of topics) {
    for (const p of await ctx.admin.fetchTopicOffsets(topic)) {
      if (p.high === p.low) continue;
      if (stored.get(`${topic}:${p.partition}`) !== p.high) return false;
    }
  }
  return true;
}
