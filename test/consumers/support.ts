/**
 * Shared fixtures of the consumer tests: a unique database and topic prefix
 * per test file, a raw publisher (to write exact bytes, poison included) and
 * polling helpers.
 */
import net from 'node:net';
import type { Admin, Producer as KafkaProducer } from 'kafkajs';
import pg from 'pg';
import { applyTopics, loadCatalog } from '../../catalog/index.ts';
import { getContract, sampleEvent, type EventDataMap, type EventType } from '../../contracts/index.ts';
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
  /** Name of the test database. */
  readonly database: string;
  readonly databaseUrl: string;
  readonly pool: pg.Pool;
  readonly admin: Admin;
  /** Topic name with the test prefix, from an event type. */
  topicOf(type: EventType): string;
  /** Publishes one event encoded exactly as the SDK does (CloudEvents headers), or raw bytes. */
  publish<T extends EventType>(type: T, data: EventDataMap[T]): Promise<void>;
  /** Publishes many events in one request per topic. */
  publishMany(events: readonly { type: EventType; data: EventDataMap[EventType] }[]): Promise<void>;
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

  const messageOf = async (type: EventType, data: EventDataMap[EventType]) => {
    const c = getContract(type);
    const d = data as unknown as Record<string, unknown>;
    const key = String(d[catalog.keyFieldOf(type)]);
    return {
      topic: topicOf(type),
      message: {
        key,
        value: encodeWire(await schemaId(type), c.avroType.toBuffer(data)),
        headers: {
          ce_specversion: '1.0', ce_id: String(d.eventId), ce_source: catalog.ownerOf(type), ce_type: type,
          ce_time: String(d.occurredAt), ce_subject: key, 'content-type': 'application/avro',
        },
      },
    };
  };

  return {
    prefix,
    database: id,
    databaseUrl,
    pool,
    admin,
    topicOf,
    schemaId,
    publishRaw,
    async publish(type, data) {
      const { topic, message } = await messageOf(type, data as EventDataMap[EventType]);
      await producer.send({ topic, acks: -1, messages: [message] });
    },
    async publishMany(events) {
      const byTopic = new Map<string, { key: string; value: Buffer; headers: Record<string, string> }[]>();
      for (const e of events) {
        const { topic, message } = await messageOf(e.type, e.data);
        if (!byTopic.has(topic)) byTopic.set(topic, []);
        byTopic.get(topic)!.push(message);
      }
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
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

/** `count` mixed events: mostly movements, plus incidents and alerts (distinct entities). */
export function mixedEvents(count: number): { type: EventType; data: EventDataMap[EventType] }[] {
  const types: EventType[] = ['igm.migratory-movement.recorded', 'igm.migratory-movement.recorded', 'conred.incident.reported', 'pgn.alba-keneth.activated', 'mingob.arrest-warrant.issued'];
  return Array.from({ length: count }, (_, i) => {
    const type = types[i % types.length]!;
    return { type, data: sampleEvent(type) as EventDataMap[EventType] };
  });
}

/** A TCP proxy in front of PostgreSQL that the test can take down (all sockets cut, connections refused) and bring back. */
export async function createPgProxy(): Promise<{ url(database: string): string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const target = new URL(readEndpoints().databaseUrl);
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        sockets.add(client).add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  await listen();
  return {
    url: (database) => `postgres://${target.username || 'postgres'}@127.0.0.1:${port}/${database}`,
    async down() {
      await new Promise<void>((r) => {
        server!.close(() => r());
        for (const s of sockets) s.destroy();
      });
    },
    up: listen,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => (server?.listening ? server.close(() => r()) : r()));
    },
  };
}
