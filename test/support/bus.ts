/**
 * Test helpers for talking to the real bus: prefixed topics created from
 * topics.yaml, decoding consumers, and reading a whole topic.
 */
import type { Admin, IHeaders } from 'kafkajs';
import { applyTopics, loadCatalog } from '../../catalog/index.ts';
import { EVENT_TYPES, getContract, LOGICAL_TYPES } from '../../contracts/index.ts';
import { createKafka, readEndpoints } from '../../core/index.ts';
import { createDecoder, createRegistry } from '../../registry/index.ts';
import { uniqueName } from './names.ts';

export const catalog = loadCatalog();
export const endpoints = readEndpoints();

/** Creates every catalog topic (or those named) under a fresh prefix; returns the prefix and a cleanup. */
export async function prefixedTopics(only?: readonly string[]): Promise<{ prefix: string; admin: Admin; cleanup(): Promise<void> }> {
  const prefix = `${uniqueName('t')}.`;
  const admin = createKafka({ clientId: 'test-admin' }).admin();
  await admin.connect();
  await applyTopics(catalog, { admin, prefix, only });
  return {
    prefix,
    admin,
    async cleanup() {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      await admin.deleteTopics({ topics: mine }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

/** The current reader type of every event record, by full name. */
export function readerTypes(): Map<string, ReturnType<typeof getContract>['avroType']> {
  return new Map(EVENT_TYPES.map((t) => [getContract(t).subjectRecordName, getContract(t).avroType]));
}

export interface ReadMessage {
  partition: number;
  offset: string;
  key: string | null;
  headers: Record<string, string>;
  value: Buffer | null;
  timestamp: string;
}

function headersOf(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k] = Array.isArray(v) ? String(v[0]) : String(v);
  return out;
}

/** Reads every message of `topic` up to its current end offsets (no consumer group). */
export async function readTopic(admin: Admin, topic: string): Promise<ReadMessage[]> {
  const ends = await admin.fetchTopicOffsets(topic);
  const expected = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const out: ReadMessage[] = [];
  if (expected === 0) return out;
  const consumer = createKafka({ clientId: 'test-reader' }).consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${out.length}/${expected} messages of ${topic}`)), 30_000);
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          out.push({ partition, offset: message.offset, key: message.key?.toString() ?? null, headers: headersOf(message.headers), value: message.value, timestamp: message.timestamp });
          if (out.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return out;
}

/** A decoder reading through the current contracts. */
export function testDecoder(): ReturnType<typeof createDecoder> {
  return createDecoder({ registry: createRegistry(endpoints.registryUrl), readerTypes: readerTypes(), logicalTypes: LOGICAL_TYPES });
}
