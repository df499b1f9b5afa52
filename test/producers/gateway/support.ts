/**
 * Fixtures of the gateway tests: a unique ingest schema in the project's
 * database, unique prefixed topics, API keys, and helpers to count and read
 * what reached a topic.
 */
import type { Admin, Kafka } from 'kafkajs';
import pg from 'pg';
import { applyTopics, loadCatalog } from '../../../catalog/index.ts';
import { getContract, type EventType } from '../../../contracts/index.ts';
import { createKafka, readEndpoints } from '../../../core/index.ts';
import { createApiKeyStore, migrateIngest, type ApiKeyStore } from '../../../producers/gateway/index.ts';
import { uniqueName } from '../../support/names.ts';

export const catalog = loadCatalog();

export interface GatewayFixture {
  readonly schema: string;
  readonly prefix: string;
  readonly pool: pg.Pool;
  readonly admin: Admin;
  readonly kafka: Kafka;
  readonly keys: ApiKeyStore;
  topicOf(type: EventType): string;
  /** Records in `topic` (sum of high − low watermarks: the topics are fresh). */
  count(topic: string): Promise<number>;
  /** Every record of `topic`, decoded with the contract of `type`, with its headers. */
  read(topic: string, type: EventType, expected: number): Promise<{ headers: Record<string, string>; data: Record<string, unknown> }[]>;
  close(): Promise<void>;
}

/** A unique schema and topic prefix; `topics` are catalog topic names to create. */
export async function createGatewayFixture(name: string, topics: readonly string[]): Promise<GatewayFixture> {
  const schema = uniqueName(name).replace(/[^a-z0-9]/g, '_');
  const prefix = `${uniqueName(name)}.`;
  const databaseUrl = readEndpoints().databaseUrl;
  await migrateIngest({ databaseUrl, schema });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 5 });
  pool.on('error', () => undefined);
  const kafka = createKafka({ clientId: `test-${name}` });
  const admin = kafka.admin();
  await admin.connect();
  await applyTopics(catalog, { admin, prefix, only: topics });
  return {
    schema,
    prefix,
    pool,
    admin,
    kafka,
    keys: createApiKeyStore(pool, schema, 0),
    topicOf: (type) => prefix + catalog.topicOf(type).name,
    async count(topic) {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
    },
    async read(topic, type, expected) {
      const avroType = getContract(type).avroType;
      const out: { headers: Record<string, string>; data: Record<string, unknown> }[] = [];
      const consumer = kafka.consumer({ groupId: uniqueName('gw-read') });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`read ${out.length}/${expected} records of ${topic}`)), 30_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
            out.push({ headers, data: avroType.fromBuffer(message.value!.subarray(5)) as Record<string, unknown> });
            if (out.length >= expected) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
      await consumer.disconnect();
      return out;
    },
    async close() {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
      await admin.disconnect();
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}
