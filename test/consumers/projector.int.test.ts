/**
 * The projector's guarantees under faults, against the real Kafka, registry
 * and PostgreSQL: a SIGKILL between the DB commit and the Kafka commit, poison
 * messages, a PostgreSQL outage, and rebalance churn.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigResourceTypes, type KafkaMessage } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProjector, DEAD_LETTER_HEADERS, DEAD_LETTER_TOPIC, migrate, type Projector } from '../../consumers/index.ts';
import { getContract, sampleEvent, type EventDataMap, type EventType } from '../../contracts/index.ts';
import { createKafka, readEndpoints } from '../../core/index.ts';
import { encodeWire } from '../../registry/index.ts';
import { countRows, createPgProxy, createTestContext, drained, mixedEvents, waitFor, type TestContext } from './support.ts';
import { uniqueName } from '../support/names.ts';

const MAIN = fileURLToPath(new URL('../../consumers/projector-main.ts', import.meta.url));

describe('projector under faults', () => {
  let ctx: TestContext;
  const projectors: Projector[] = [];
  /** Every valid event published in this file: each test's fresh schema projects the topics from the beginning. */
  const published: string[] = [];
  let poisonMessages = 0;
  const sourceTopics = () =>
    ['conred.incident.reported', 'pgn.alba-keneth.activated', 'igm.migratory-movement.recorded', 'mingob.vehicle.reported-stolen', 'mingob.arrest-warrant.issued'].map((t) => ctx.topicOf(t as EventType));

  beforeAll(async () => {
    ctx = await createTestContext('test-projector');
  });
  afterAll(async () => {
    for (const p of projectors) await p.stop();
    await ctx?.close();
  });

  function start(groupId: string, extra: Partial<Parameters<typeof createProjector>[0]> = {}): Projector {
    const p = createProjector({ databaseUrl: ctx.databaseUrl, topicPrefix: ctx.prefix, groupId, heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000, ...extra });
    projectors.push(p);
    return p;
  }

  async function distinctLogged(groupId: string, ids: readonly string[], schema = 'store'): Promise<number> {
    const r = await ctx.query<{ n: number }>(`SELECT count(DISTINCT event_id)::int AS n FROM "${schema}".event_log WHERE event_id = ANY($1::uuid[])`, [ids]);
    void groupId;
    return r[0]!.n;
  }

  it('crash after the DB commit, before the Kafka commit (SIGKILL of a child process): after restart rows equal the distinct events', async () => {
    const group = uniqueName('crash-test');
    const events = mixedEvents(3_000);
    await ctx.publishMany(events);
    published.push(...events.map((e) => e.data.eventId));
    const env = {
      ...process.env,
      DATABASE_URL: ctx.databaseUrl,
      SNS_TOPIC_PREFIX: ctx.prefix,
      PROJECTOR_GROUP_ID: group,
      PROJECTOR_METRICS_PORT: '0',
      // The killed member holds its partitions until its session expires: keep that short.
      PROJECTOR_SESSION_TIMEOUT_MS: '6000',
      LOG_LEVEL: 'silent',
    };
    const run = (extra: Record<string, string>) => {
      const child = fork(MAIN, [], { env: { ...env, ...extra }, execArgv: ['--import', 'tsx'], stdio: 'ignore' });
      return { child, exit: new Promise<NodeJS.Signals | number | null>((r) => child.on('exit', (code, signal) => r(signal ?? code))) };
    };

    const first = run({ SNS_FAULT_KILL_AFTER_DB_COMMIT: '3' });
    expect(await first.exit).toBe('SIGKILL');
    const committed = await countRows(ctx, 'event_log');
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThan(events.length);
    // The killed member never committed to Kafka past the store's offsets.
    const kafkaOffsets = await ctx.admin.fetchOffsets({ groupId: group, topics: sourceTopics() });
    const stored = await ctx.query<{ topic: string; partition: number; next_offset: string }>('SELECT topic, partition, next_offset::text FROM store.consumer_offsets WHERE group_id = $1', [group]);
    for (const t of kafkaOffsets) {
      for (const p of t.partitions) {
        const s = stored.find((x) => x.topic === t.topic && x.partition === p.partition);
        if (p.offset !== '-1') expect(BigInt(p.offset)).toBeLessThanOrEqual(BigInt(s?.next_offset ?? '0'));
      }
    }

    const second = run({});
    try {
      await waitFor(() => drained(ctx, group, sourceTopics()), 60_000, 'the restarted projector to drain');
    } finally {
      second.child.kill('SIGTERM');
      await second.exit;
    }
    const ids = events.map((e) => e.data.eventId);
    expect(await countRows(ctx, 'event_log')).toBe(events.length);
    expect(await distinctLogged(group, ids)).toBe(events.length);
    const movements = events.filter((e) => e.type === 'igm.migratory-movement.recorded').length;
    expect(await countRows(ctx, 'migratory_movements')).toBe(movements);
  }, 120_000);

  it('poison messages go to the dead-letter topic with their headers, and later good messages are projected', async () => {
    const schema = 'poison';
    const group = uniqueName('poison-test');
    const type = 'mingob.arrest-warrant.issued' as const;
    const topic = ctx.topicOf(type);
    const c = getContract(type);
    const id = await ctx.schemaId(type);
    const good = (overrides: Partial<EventDataMap[typeof type]> = {}) => sampleEvent(type, overrides);
    const body = c.avroType.toBuffer(good());
    const badCui = good({ person: { ...good().person, cui: '1680352240101' } });
    await ctx.publishRaw(topic, 'w-1', Buffer.from('not avro at all'));
    await ctx.publishRaw(topic, 'w-1', encodeWire(987_654_321, body));
    // A schema id that is not Avro (a JSON Schema artifact): it stalled the partition, retried for ever.
    const registered = await fetch(`${readEndpoints().registryUrl}/subjects/${ctx.prefix}poison-json-value/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schemaType: 'JSON', schema: JSON.stringify({ type: 'object', properties: { a: { type: 'string' } } }) }),
    });
    expect(registered.ok).toBe(true);
    const jsonSchemaId = ((await registered.json()) as { id: number }).id;
    await ctx.publishRaw(topic, 'w-1', encodeWire(jsonSchemaId, body));
    await ctx.publishRaw(topic, 'w-1', encodeWire(id, body.subarray(0, body.length - 30)));
    await ctx.publishRaw(topic, 'w-1', encodeWire(id, c.avroType.toBuffer(badCui)));
    poisonMessages += 5;
    const after = good({ warrantId: 'w-1' });
    await ctx.publish(type, after);
    published.push(after.eventId);

    const projector = start(group, { schema, topics: ['sns.mingob.arrest-warrants.v1'] });
    await projector.start();
    await waitFor(async () => (await ctx.query('SELECT 1 FROM poison.arrest_warrants WHERE warrant_id = $1', ['w-1'])).length === 1, 30_000, 'the good warrant');

    const dlq: KafkaMessage[] = [];
    const consumer = createKafka({ clientId: 'test-dlq' }).consumer({ groupId: `${group}-dlq-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: ctx.prefix + DEAD_LETTER_TOPIC, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void dlq.push(message) });
    try {
      await waitFor(async () => dlq.length >= 5, 30_000, 'five dead letters');
    } finally {
      await consumer.disconnect();
    }
    const h = (m: KafkaMessage, k: string) => m.headers?.[k]?.toString();
    const letters = dlq.map((m) => ({
      topic: h(m, DEAD_LETTER_HEADERS.topic), partition: h(m, DEAD_LETTER_HEADERS.partition), offset: h(m, DEAD_LETTER_HEADERS.offset),
      code: h(m, DEAD_LETTER_HEADERS.code), reason: h(m, DEAD_LETTER_HEADERS.reason), message: h(m, DEAD_LETTER_HEADERS.message) ?? '',
    })).sort((a, b) => Number(a.offset) - Number(b.offset));
    expect(letters.map((l) => [l.code, l.reason])).toEqual([
      ['BUS_ERR_DECODE', 'magic-byte'],
      ['BUS_ERR_DECODE', 'unknown-schema-id'],
      ['BUS_ERR_DECODE', 'unusable-schema'],
      ['BUS_ERR_DECODE', 'truncated'],
      ['BUS_ERR_VALIDATION', 'rule'],
    ]);
    for (const l of letters) {
      expect(l.topic).toBe(topic);
      expect(l.partition).toMatch(/^\d+$/);
      expect(l.message).not.toContain('1680352240101'); // no personal data in the message
      expect(l.message).not.toContain('Núñez');
    }
    expect(await ctx.query('SELECT error_code, reason FROM poison.dead_letters ORDER BY "offset"')).toHaveLength(5);
  }, 90_000);

  // Regression: a chunk's dead letters went out in one produce request; thousands of poison messages with one
  // key made one record batch past the broker's maximum message size, so none was dead-lettered and the
  // partition stopped. They now go in requests of bounded size.
  it('thousands of poison messages with one key are all dead-lettered, and the good message after them is projected', async () => {
    const schema = 'bulkpoison';
    const type = 'minex.citizen-abroad.registered' as const;
    const topic = ctx.topicOf(type);
    const n = 6_000;
    const producer = createKafka({ clientId: 'test-bulk-poison' }).producer();
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: Array.from({ length: n }, () => ({ key: 'same-key', value: Buffer.from('x') })) });
    } finally {
      await producer.disconnect();
    }
    poisonMessages += n;
    // Behind them on the same partition (same key), a good event.
    const after = sampleEvent(type);
    await ctx.publishRaw(topic, 'same-key', encodeWire(await ctx.schemaId(type), getContract(type).avroType.toBuffer(after)));
    published.push(after.eventId);
    const projector = start(uniqueName('bulk-poison-test'), { schema, topics: ['sns.minex.guatemalans-abroad.v1'] });
    await projector.start();
    await waitFor(async () => (await ctx.query(`SELECT 1 FROM bulkpoison.event_log WHERE event_id = $1`, [after.eventId])).length === 1, 30_000, 'the good event behind them');
    expect(await ctx.query(`SELECT reason, count(*)::int AS n FROM bulkpoison.dead_letters GROUP BY reason`)).toEqual([{ reason: 'magic-byte', n }]);
  }, 90_000);

  // Regression: a topic that takes bigger messages than the dead-letter topic (max.message.bytes per topic) let a
  // poison message through whose letter Kafka refused as too large; the send failed for ever and the partition stopped.
  it('a poison message too large for the dead-letter topic is dead-lettered without its value, and the partition goes on', async () => {
    const schema = 'bigpoison';
    const type = 'mingob.vehicle.reported-stolen' as const;
    const topic = ctx.topicOf(type);
    await ctx.admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'max.message.bytes', value: String(4 * 1024 * 1024) }] }] });
    const big = Buffer.alloc(1_200_000, 0x78); // 'xxx…': not Avro, and past the dead-letter topic's 1 MiB
    await ctx.publishRaw(topic, 'big-key', big, { ce_type: type });
    poisonMessages += 1;
    const after = sampleEvent(type);
    await ctx.publishRaw(topic, 'big-key', encodeWire(await ctx.schemaId(type), getContract(type).avroType.toBuffer(after)));
    published.push(after.eventId);
    const projector = start(uniqueName('big-poison-test'), { schema, topics: ['sns.mingob.stolen-vehicles.v1'] });
    await projector.start();
    try {
      await waitFor(async () => (await ctx.query(`SELECT 1 FROM bigpoison.event_log WHERE event_id = $1`, [after.eventId])).length === 1, 30_000, 'the good event behind it');
      expect(await ctx.query(`SELECT reason FROM bigpoison.dead_letters`)).toEqual([{ reason: 'magic-byte' }]);
      const dlq: KafkaMessage[] = [];
      const consumer = createKafka({ clientId: 'test-big-dlq' }).consumer({ groupId: `big-poison-dlq-${Date.now()}` });
      await consumer.connect();
      await consumer.subscribe({ topic: ctx.prefix + DEAD_LETTER_TOPIC, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void (message.headers?.[DEAD_LETTER_HEADERS.valueOmitted] && dlq.push(message)) });
      try {
        await waitFor(async () => dlq.length >= 1, 30_000, 'the letter without its value');
      } finally {
        await consumer.disconnect();
      }
      const letter = dlq[0]!;
      expect(letter.value).toBeNull();
      expect(letter.headers?.[DEAD_LETTER_HEADERS.valueOmitted]?.toString()).toBe(String(big.length));
      expect(letter.headers?.[DEAD_LETTER_HEADERS.topic]?.toString()).toBe(topic);
      expect(letter.headers?.ce_type?.toString()).toBe(type);
    } finally {
      await projector.stop();
    }
  }, 90_000);

  // A dead-letter topic that takes smaller messages than a chunk's request: the request is refused on some of its
  // partitions and may be written on others. Every letter must still reach the topic, and letters after it too
  // (the idempotent producer must not be left with sequences the broker refuses).
  it('a dead-letter request refused as too large on some partitions: every letter arrives, and later ones too', async () => {
    const schema = 'smalldlq';
    const type = 'conred.incident.reported' as const;
    const topic = ctx.topicOf(type);
    const dlqTopic = ctx.prefix + DEAD_LETTER_TOPIC;
    const setDlqMax = (value: string | null) =>
      ctx.admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: dlqTopic, configEntries: [{ name: 'max.message.bytes', value: value ?? String(1024 * 1024 + 12) }] }] });
    await setDlqMax(String(64 * 1024));
    try {
      // Twelve 30 KiB poison messages with six keys: one chunk, one request, two or more letters on some partitions.
      const producer = createKafka({ clientId: 'test-small-dlq' }).producer();
      await producer.connect();
      try {
        await producer.send({ topic, acks: -1, messages: Array.from({ length: 12 }, (_, i) => ({ key: `small-dlq-${i % 6}`, value: Buffer.alloc(30 * 1024, 0x79) })) });
      } finally {
        await producer.disconnect();
      }
      poisonMessages += 12;
      const after = sampleEvent(type);
      await ctx.publishRaw(topic, 'small-dlq-0', encodeWire(await ctx.schemaId(type), getContract(type).avroType.toBuffer(after)));
      published.push(after.eventId);
      const projector = start(uniqueName('small-dlq-test'), { schema, topics: ['sns.conred.incidents.v1'] });
      await projector.start();
      try {
        await waitFor(async () => (await ctx.query(`SELECT 1 FROM smalldlq.event_log WHERE event_id = $1`, [after.eventId])).length === 1, 60_000, 'the good event behind them');
        // The poison messages are on several partitions: the good event's partition can be done before the others.
        await waitFor(async () => (await ctx.query<{ n: number }>(`SELECT count(*)::int AS n FROM smalldlq.dead_letters`))[0]!.n === 12, 60_000, 'twelve dead letters');
        // A later poison message still gets through the producer.
        await ctx.publishRaw(topic, 'small-dlq-1', Buffer.from('late poison'));
        poisonMessages += 1;
        await waitFor(async () => (await ctx.query(`SELECT 1 FROM smalldlq.dead_letters`)).length === 13, 30_000, 'the later dead letter');
        const seen = new Set<string>();
        const consumer = createKafka({ clientId: 'test-small-dlq-read' }).consumer({ groupId: `small-dlq-read-${Date.now()}` });
        await consumer.connect();
        await consumer.subscribe({ topic: dlqTopic, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            if (message.headers?.[DEAD_LETTER_HEADERS.topic]?.toString() === topic) seen.add(message.headers[DEAD_LETTER_HEADERS.offset]!.toString());
          },
        });
        try {
          const offsets = (await ctx.query<{ offset: string }>(`SELECT "offset"::text AS offset FROM smalldlq.dead_letters`)).map((r) => r.offset);
          await waitFor(async () => offsets.every((o) => seen.has(o)), 30_000, 'every letter in the dead-letter topic');
        } finally {
          await consumer.disconnect();
        }
      } finally {
        await projector.stop();
      }
    } finally {
      await setDlqMax(null);
    }
  }, 150_000);

  // A consumer kafkajs will not restart left the process up with its lag frozen: the projector now says so
  // (`npm run projector` exits on it). The fault: a TypeError thrown inside eachBatch, after the DB commit.
  it('a consumer crash kafkajs does not restart from is reported through onFatal', async () => {
    let fatal: Error | undefined;
    const projector = start(uniqueName('fatal-test'), {
      schema: 'fatal',
      topics: ['sns.mingob.arrest-warrants.v1'],
      afterDbCommit: () => {
        throw new TypeError('injected fault');
      },
      onFatal: (err) => {
        fatal = err;
      },
    });
    await projector.start();
    const ev = sampleEvent('mingob.arrest-warrant.issued');
    await ctx.publish('mingob.arrest-warrant.issued', ev);
    published.push(ev.eventId);
    await waitFor(async () => fatal !== undefined, 30_000, 'onFatal');
    expect(fatal!.message).toContain('injected fault');
  }, 60_000);

  it('a row PostgreSQL refuses (constraint) is isolated and dead-lettered as store-rejected; its neighbours are projected', async () => {
    const schema = 'refusal';
    const group = uniqueName('refusal-test');
    await migrate({ databaseUrl: ctx.databaseUrl, schema });
    await ctx.query(`ALTER TABLE refusal.arrest_warrants ADD CONSTRAINT refuse_marked CHECK (warrant_id <> 'refuse-me')`);
    const refused = sampleEvent('mingob.arrest-warrant.issued', { warrantId: 'refuse-me' });
    const neighbour = sampleEvent('mingob.arrest-warrant.issued');
    await ctx.publish('mingob.arrest-warrant.issued', refused);
    await ctx.publish('mingob.arrest-warrant.issued', neighbour);
    // Only this schema's constraint refuses it: every other store projects it.
    published.push(refused.eventId, neighbour.eventId);
    const projector = start(group, { schema, topics: ['sns.mingob.arrest-warrants.v1'] });
    await projector.start();
    await waitFor(() => drained(ctx, group, [ctx.topicOf('mingob.arrest-warrant.issued')], schema), 30_000, 'the warrants topic to drain');
    expect(await ctx.query('SELECT 1 FROM refusal.arrest_warrants WHERE warrant_id = $1', [neighbour.warrantId])).toHaveLength(1);
    const letters = await ctx.query<{ reason: string; message: string }>(`SELECT reason, message FROM refusal.dead_letters WHERE reason = 'store-rejected'`);
    expect(letters).toEqual([{ reason: 'store-rejected', message: 'PostgreSQL refused the projected row (SQLSTATE 23514)' }]);
    expect(await ctx.query('SELECT 1 FROM refusal.event_log WHERE event_id = $1', [refused.eventId])).toHaveLength(0);
    await projector.stop();
  }, 60_000);

  it('PostgreSQL outage mid-stream: no offset advances and nothing is dead-lettered; after recovery the lag drains to 0 with every event', async () => {
    const schema = 'outage';
    const group = uniqueName('outage-test');
    const proxy = await createPgProxy();
    try {
      const projector = start(group, { schema, databaseUrl: proxy.url(ctx.database), storeRetryInitialMs: 100, storeRetryMaxMs: 1_000 });
      await projector.start();
      const first = mixedEvents(500);
      await ctx.publishMany(first);
      published.push(...first.map((e) => e.data.eventId));
      await waitFor(() => drained(ctx, group, sourceTopics(), schema), 30_000, 'first drain');

      // Kill the projector's backends, then keep the server unreachable while events keep coming.
      await ctx.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND client_addr IS NOT NULL AND application_name = ''`, [ctx.database]);
      await proxy.down();
      const before = await ctx.query('SELECT topic, partition, next_offset::text FROM outage.consumer_offsets WHERE group_id = $1 ORDER BY 1, 2', [group]);
      const second = mixedEvents(1_000);
      await ctx.publishMany(second);
      published.push(...second.map((e) => e.data.eventId));
      await new Promise((r) => setTimeout(r, 4_000));
      expect(await ctx.query('SELECT topic, partition, next_offset::text FROM outage.consumer_offsets WHERE group_id = $1 ORDER BY 1, 2', [group])).toEqual(before);
      expect((await projector.metrics.getSingleMetricAsString('sns_projector_store_retries_total')).match(/ (\d+)$/m)?.[1]).not.toBe('0');

      await proxy.up();
      await waitFor(async () => (await projector.lag()).every((p) => p.lag === 0), 60_000, 'lag 0 after recovery');
      expect(await distinctLogged(group, published, schema)).toBe(published.length);
      expect(await countRows(ctx, 'event_log', schema)).toBe(published.length);
      // Only the earlier poison messages were dead-lettered; the outage added none.
      expect(await countRows(ctx, 'dead_letters', schema)).toBe(poisonMessages);
      const dead = await projector.metrics.getSingleMetricAsString('sns_projector_dead_letters_total');
      expect([...dead.matchAll(/ (\d+)$/gm)].reduce((sum, x) => sum + Number(x[1]), 0)).toBe(poisonMessages);
    } finally {
      await proxy.close();
    }
  }, 120_000);

  // Regression: a claim held up by a store outage (after a rebalance) waited without heartbeats, so the member
  // was evicted after its session timeout and the group rebalanced again for nothing.
  it('a store outage while a rebalance\'s partitions are claimed: the waiting member keeps heartbeating, is not evicted, and drains after recovery', async () => {
    const schema = 'claimoutage';
    const group = uniqueName('claim-outage-test');
    const proxy = await createPgProxy();
    const joins: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void (line.includes('"joined group"') && joins.push(line)) });
    try {
      const a = start(group, { schema, databaseUrl: proxy.url(ctx.database), sessionTimeoutMs: 6_000, storeRetryInitialMs: 100, storeRetryMaxMs: 1_000, logger });
      await a.start();
      await waitFor(() => drained(ctx, group, sourceTopics(), schema), 60_000, 'first drain');
      expect(joins).toHaveLength(1);
      // Cut a off from PostgreSQL, then make the group rebalance: a's new claims wait for the store.
      await ctx.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND client_addr IS NOT NULL AND application_name = ''`, [ctx.database]);
      await proxy.down();
      const b = start(group, { schema, migrate: false, sessionTimeoutMs: 6_000, logger });
      await b.start();
      const events = mixedEvents(300);
      await ctx.publishMany(events);
      published.push(...events.map((e) => e.data.eventId));
      await waitFor(async () => joins.length >= 3, 30_000, 'both members in the new generation');
      // Twice a's session timeout: evicted, a would make b join once more.
      await new Promise((r) => setTimeout(r, 12_000));
      expect(joins).toHaveLength(3);
      await proxy.up();
      await waitFor(() => drained(ctx, group, sourceTopics(), schema), 60_000, 'drain after recovery');
      expect(await distinctLogged(group, published, schema)).toBe(published.length);
    } finally {
      await proxy.close();
    }
  }, 150_000);

  it('rebalance churn: members join and leave while N events are produced; exactly N rows', async () => {
    const schema = 'churn';
    const group = uniqueName('churn-test');
    const events = mixedEvents(6_000);
    published.push(...events.map((e) => e.data.eventId));
    const a = start(group, { schema });
    await a.start();
    const producing = (async () => {
      for (let i = 0; i < events.length; i += 300) {
        await ctx.publishMany(events.slice(i, i + 300));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const b = start(group, { schema, migrate: false });
    await b.start();
    await new Promise((r) => setTimeout(r, 2_000));
    const c = start(group, { schema, migrate: false });
    await c.start();
    await new Promise((r) => setTimeout(r, 2_000));
    await a.stop();
    await new Promise((r) => setTimeout(r, 1_000));
    await b.stop();
    await producing;
    await waitFor(() => drained(ctx, group, sourceTopics(), schema), 60_000, 'drain after churn');
    expect(await countRows(ctx, 'event_log', schema)).toBe(published.length);
    expect(await distinctLogged(group, published, schema)).toBe(published.length);
    const movements = await ctx.query<{ n: number }>('SELECT count(*)::int AS n FROM churn.event_log WHERE event_type = $1', ['igm.migratory-movement.recorded']);
    expect(await countRows(ctx, 'migratory_movements', schema)).toBe(movements[0]!.n);
  }, 120_000);
});
