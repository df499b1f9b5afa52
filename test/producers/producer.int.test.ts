import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES, getContract, sampleEvent, type EventType } from '../../contracts/index.ts';
import { isBusError } from '../../core/index.ts';
import { createProducer, type Producer } from '../../producers/index.ts';
import { catalog, endpoints, prefixedTopics, readTopic, testDecoder } from '../support/bus.ts';

let env: Awaited<ReturnType<typeof prefixedTopics>>;
const producers = new Map<string, Producer>();

function producerFor(institution: string): Producer {
  let p = producers.get(institution);
  if (!p) {
    p = createProducer({ institution, topicPrefix: env.prefix, autoRegister: true, registryUrl: endpoints.registryUrl });
    producers.set(institution, p);
  }
  return p;
}

beforeAll(async () => {
  env = await prefixedTopics();
});
afterAll(async () => {
  for (const p of producers.values()) await p.close();
  await env.cleanup();
});

/** What the data looks like after an Avro round trip: timestamps in UTC, defaults filled in. */
function normalised(type: EventType, data: unknown): unknown {
  const t = getContract(type).avroType;
  return JSON.parse(JSON.stringify(t.fromBuffer(t.toBuffer(data))));
}

describe('producer SDK round trip through the real Kafka and registry', () => {
  it('publishes every event type; consumers decode equal data with CloudEvents headers', async () => {
    const sent = new Map<string, { type: EventType; data: unknown; traceparent: string }>();
    for (const type of EVENT_TYPES) {
      const data = sampleEvent(type);
      const traceparent = `00-${'a'.repeat(31)}${sent.size.toString(16)}-${'b'.repeat(16)}-01`;
      const result = await producerFor(catalog.ownerOf(type)).publish(type, data, { traceparent });
      expect(result).toMatchObject({ id: data.eventId, topic: env.prefix + catalog.topicOf(type).name });
      expect(Number(result.offset)).toBeGreaterThanOrEqual(0);
      sent.set(data.eventId, { type, data, traceparent });
    }
    const decoder = testDecoder();
    let seen = 0;
    for (const topic of catalog.topics.filter((t) => t.eventTypes.length)) {
      for (const m of await readTopic(env.admin, env.prefix + topic.name)) {
        const h = m.headers;
        const expected = sent.get(h.ce_id!);
        expect(expected, `unexpected event on ${topic.name}`).toBeDefined();
        const { data } = await decoder.decode(m.value);
        expect(JSON.parse(JSON.stringify(data))).toEqual(normalised(expected!.type, expected!.data));
        const keyField = catalog.keyFieldOf(expected!.type);
        expect(m.key).toBe((expected!.data as Record<string, unknown>)[keyField]);
        expect(h).toMatchObject({
          ce_specversion: '1.0',
          ce_id: h.ce_id,
          ce_source: catalog.ownerOf(expected!.type),
          ce_type: expected!.type,
          ce_time: new Date((expected!.data as { occurredAt: string }).occurredAt).toISOString(),
          ce_subject: m.key,
          'content-type': 'application/avro',
          traceparent: expected!.traceparent,
        });
        seen++;
      }
    }
    expect(seen).toBe(EVENT_TYPES.length);
  });

  it('rejects invalid events with every violation and its path; nothing reaches Kafka', async () => {
    const topic = env.prefix + catalog.topicOf('pgn.alba-keneth.activated').name;
    const before = await env.admin.fetchTopicOffsets(topic);
    const bad = sampleEvent('pgn.alba-keneth.activated', {
      child: { ...sampleEvent('pgn.alba-keneth.activated').child, cui: '1680352240101' },
      occurredAt: '2026-01-01T10:00:00',
      disappearancePlace: { departmentCode: '05', municipalityCode: '99' },
    });
    const err = await producerFor('PGN').publish('pgn.alba-keneth.activated', bad).catch((e: unknown) => e);
    expect(isBusError(err, 'BUS_ERR_VALIDATION')).toBe(true);
    const paths = (err as { violations: Array<{ path: string; rule?: string }> }).violations.map((v) => `${v.path} ${v.rule}`);
    expect(paths).toEqual(expect.arrayContaining(['/child/cui cui.checksum', '/occurredAt timestamp.offset']));
    expect(paths.some((p) => p.startsWith('/disappearancePlace'))).toBe(true);
    expect((err as Error).message).not.toContain('1680352240101');
    expect(await env.admin.fetchTopicOffsets(topic)).toEqual(before);
  });

  it('lets an institution publish only its own event types (BUS_ERR_NOT_OWNER)', async () => {
    const err = await producerFor('CONRED').publish('pgn.alba-keneth.activated', sampleEvent('pgn.alba-keneth.activated')).catch((e: unknown) => e);
    expect(isBusError(err, 'BUS_ERR_NOT_OWNER')).toBe(true);
    expect(err).toMatchObject({ retriable: false });
  });

  it('publishBatch validates everything first and publishes nothing when one item is invalid', async () => {
    const topic = env.prefix + catalog.topicOf('conred.incident.reported').name;
    const before = await env.admin.fetchTopicOffsets(topic);
    const good = sampleEvent('conred.incident.reported');
    const bad = sampleEvent('conred.incident.reported', { location: { departmentCode: '23', municipalityCode: '01' } });
    const err = await producerFor('CONRED')
      .publishBatch([{ type: 'conred.incident.reported', data: good }, { type: 'conred.incident.reported', data: bad }])
      .catch((e: unknown) => e);
    expect(isBusError(err, 'BUS_ERR_VALIDATION')).toBe(true);
    expect((err as { violations: Array<{ path: string }> }).violations[0]!.path).toMatch(/^\/1\/location/);
    expect(await env.admin.fetchTopicOffsets(topic)).toEqual(before);
    const results = await producerFor('CONRED').publishBatch([{ type: 'conred.incident.reported', data: good }]);
    expect(results.map((r) => r.id)).toEqual([good.eventId]);
  });

  it('keeps per-key order and gives each event its own offset under concurrency', async () => {
    const p = producerFor('CONRED');
    const first = sampleEvent('conred.incident.reported');
    const updates = Array.from({ length: 300 }, () => sampleEvent('conred.incident.updated', { incidentId: first.incidentId }));
    const results = await Promise.all([p.publish('conred.incident.reported', first), ...updates.map((u) => p.publish('conred.incident.updated', u))]);
    const partitions = new Set(results.map((r) => r.partition));
    expect(partitions.size).toBe(1);
    const offsets = results.map((r) => BigInt(r.offset));
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]! - offsets[i - 1]!).toBe(1n);
  });

  // Regression: the SDK once pinned every message to partition 0.
  it('spreads different keys over the topic partitions', async () => {
    const results = await Promise.all(Array.from({ length: 60 }, () => producerFor('CONRED').publish('conred.incident.reported', sampleEvent('conred.incident.reported'))));
    expect(new Set(results.map((r) => r.partition)).size).toBeGreaterThan(3);
  });
});
