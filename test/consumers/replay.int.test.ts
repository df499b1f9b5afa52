/**
 * Replay against the real Kafka, registry and PostgreSQL: time-range
 * selection on every partition, Spanish errors, export of mixed schema
 * versions, interrupt and resume, and the Exercise-only re-drive.
 */
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getContract, LOGICAL_TYPES, sampleEvent, type EventDataMap, type EventType } from '../../contracts/index.ts';
import { createKafka, isBusError, readEndpoints } from '../../core/index.ts';
import { createRegistry, encodeWire, subjectFor } from '../../registry/index.ts';
import { exportEvents, fingerprintOf, redriveAlerts, resolvePlan, type ExportedEvent } from '../../consumers/replay/index.ts';
import { runCli } from '../../consumers/replay/cli.ts';
import { uniqueName } from '../support/names.ts';
import { catalog, createTestContext, type TestContext } from './support.ts';

const kafka = createKafka({ clientId: 'test-replay' });
const registryUrl = readEndpoints().registryUrl;
const MOVEMENT: EventType = 'igm.migratory-movement.recorded';
const movementsTopic = catalog.topicOf(MOVEMENT).name;

type Sent = { eventId: string; ts: number };

describe('replay', () => {
  let ctx: TestContext;
  const dir = join(tmpdir(), uniqueName('replay'));
  const sent: Sent[] = [];
  let t1 = 0;
  let t2 = 0;

  beforeAll(async () => {
    ctx = await createTestContext('replay');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    // Three time bands of movements, with explicit record timestamps, spread over every partition by key.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const c = getContract(MOVEMENT);
    const id = await ctx.schemaId(MOVEMENT);
    const base = Date.now() - 3 * 3_600_000;
    t1 = base + 3_600_000;
    t2 = base + 2 * 3_600_000;
    for (let band = 0; band < 3; band++) {
      const messages = Array.from({ length: 60 }, (_, i) => {
        const data = sampleEvent(MOVEMENT) as EventDataMap[EventType] & Record<string, unknown>;
        const ts = base + band * 3_600_000 + i * 1_000;
        sent.push({ eventId: String(data.eventId), ts });
        return {
          key: `k-${band}-${i}`,
          value: encodeWire(id, c.avroType.toBuffer(data)),
          timestamp: String(ts),
          headers: { ce_id: String(data.eventId), ce_type: MOVEMENT, ce_source: 'IGM', ce_time: String(data.occurredAt), ce_specversion: '1.0' },
        };
      });
      await producer.send({ topic: ctx.prefix + movementsTopic, acks: -1, messages });
    }
    await producer.disconnect();
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await ctx?.close();
  });

  it('a time range yields exactly the events whose timestamps fall in it, on every partition', async () => {
    const admin = ctx.admin;
    const plan = await resolvePlan(admin, catalog, { topics: [movementsTopic], from: new Date(t1), to: new Date(t2) }, { topicPrefix: ctx.prefix });
    const partitions = (await admin.fetchTopicOffsets(ctx.prefix + movementsTopic)).length;
    expect(plan.ranges.length).toBe(partitions);
    const out = join(dir, 'range.ndjson');
    const r = await exportEvents({ kafka, catalog, plan, topicPrefix: ctx.prefix, registryUrl, out, format: 'ndjson', fingerprint: 'range' });
    expect(r.status).toBe('done');
    const got = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ExportedEvent);
    const expected = sent.filter((s) => s.ts >= t1 && s.ts < t2).map((s) => s.eventId).sort();
    expect(got.map((e) => e.id).sort()).toEqual(expected);
    expect(new Set(got.map((e) => e.kafkapartition)).size).toBeGreaterThan(1);
    for (const e of got) expect(Date.parse(e.kafkatimestamp)).toBeGreaterThanOrEqual(t1);
  });

  it('dry-run prints offsets and counts per partition and changes nothing; errors are clear Spanish', async () => {
    const lines: string[] = [];
    const errs: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => errs.push(l) };
    const out = join(dir, 'dry.ndjson');
    expect(await runCli(['export', '--prefix', ctx.prefix, '--topic', movementsTopic, '--from', new Date(t1).toISOString(), '--out', out, '--dry-run'], io)).toBe(0);
    expect(lines.join('\n')).toMatch(/Total: 120 eventos/);
    expect(() => readFileSync(out)).toThrow();

    expect(await runCli(['export', '--prefix', ctx.prefix, '--topic', 'sns.no.existe.v1', '--out', out], io)).toBe(1);
    expect(errs.pop()).toMatch(/BUS_ERR_REPLAY_TOPIC_NOT_FOUND: El tópico «.*sns\.no\.existe\.v1» no existe en Kafka/);
    const future = new Date(Date.now() + 86_400_000).toISOString();
    expect(await runCli(['export', '--prefix', ctx.prefix, '--topic', movementsTopic, '--from', future, '--out', out], io)).toBe(1);
    expect(errs.pop()).toMatch(/BUS_ERR_REPLAY_EMPTY_RANGE: No hay eventos que reproducir/);
  });

  it('a range that starts before what Kafka still keeps is refused as outside retention', async () => {
    const topic = ctx.prefix + catalog.topicOf('mingob.vehicle.recovered').name;
    await ctx.publishMany(Array.from({ length: 12 }, () => ({ type: 'mingob.vehicle.recovered' as EventType, data: sampleEvent('mingob.vehicle.recovered') as EventDataMap[EventType] })));
    const marks = await ctx.admin.fetchTopicOffsets(topic);
    const p = marks.find((m) => Number(m.high) >= 2)!;
    await ctx.admin.deleteTopicRecords({ topic, partitions: [{ partition: p.partition, offset: '1' }] });
    const err = await resolvePlan(ctx.admin, catalog, { topics: [catalog.topicOf('mingob.vehicle.recovered').name], from: new Date(0) }, { topicPrefix: ctx.prefix }).catch((e: unknown) => e);
    expect(isBusError(err, 'BUS_ERR_REPLAY_OUT_OF_RETENTION')).toBe(true);
    expect((err as Error).message).toMatch(/fuera de la retención/);
  });

  it('export decodes a topic mixing schema v1 and v2 through the current reader schema (CSV with BOM)', async () => {
    const type: EventType = 'mingob.vehicle.reported-stolen';
    const c = getContract(type);
    const schema = c.schema as { fields: { name: string; default?: unknown }[] } & Record<string, unknown>;
    const optional = schema.fields.find((f) => f.default !== undefined)!;
    expect(optional).toBeDefined();
    const v1Schema = { ...schema, fields: schema.fields.filter((f) => f !== optional) };
    const v1Type = avro.Type.forSchema(v1Schema as avro.Schema, { logicalTypes: LOGICAL_TYPES as never });
    const topicName = `${uniqueName('mixed')}.sns.mingob.stolen-vehicles.v1`;
    await ctx.admin.createTopics({ topics: [{ topic: ctx.prefix + topicName, numPartitions: 2 }], waitForLeaders: true });
    const registry = createRegistry(registryUrl);
    const subject = subjectFor(ctx.prefix + topicName, c.subjectRecordName);
    const { id: id1 } = await registry.register(subject, v1Schema);
    const { id: id2 } = await registry.register(subject, c.schema);
    expect(id2).not.toBe(id1);
    const producer = kafka.producer();
    await producer.connect();
    const events = Array.from({ length: 10 }, (_, i) => ({ v: i % 2 ? 2 : 1, data: sampleEvent(type) as unknown as Record<string, unknown> }));
    await producer.send({
      topic: ctx.prefix + topicName,
      acks: -1,
      messages: events.map((e, i) => {
        const old = Object.fromEntries(Object.entries(e.data).filter(([k]) => k !== optional.name));
        return { key: `p${i}`, value: e.v === 1 ? encodeWire(id1, v1Type.toBuffer(old)) : encodeWire(id2, c.avroType.toBuffer(e.data)), headers: { ce_type: type } };
      }),
    });
    await producer.disconnect();
    const plan = await resolvePlan(ctx.admin, catalog, { topics: [topicName] }, { topicPrefix: ctx.prefix });
    const nd = join(dir, 'mixed.ndjson');
    await exportEvents({ kafka, catalog, plan, topicPrefix: ctx.prefix, registryUrl, out: nd, format: 'ndjson', fingerprint: 'mixed' });
    const got = readFileSync(nd, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ExportedEvent);
    expect(got).toHaveLength(10);
    expect(new Set(got.map((e) => e.schemaid))).toEqual(new Set([id1, id2]));
    for (const e of got) {
      expect(e.type).toBe(type);
      expect(e.data).toHaveProperty(optional.name);
      if (e.schemaid === id1) expect(e.data[optional.name]).toEqual(optional.default);
    }
    const csv = join(dir, 'mixed.csv');
    await exportEvents({ kafka, catalog, plan: { ...plan, eventTypes: [type] }, topicPrefix: ctx.prefix, registryUrl, out: csv, format: 'csv', bom: true, fingerprint: 'mixed-csv' });
    const text = readFileSync(csv, 'utf8');
    expect(text.charCodeAt(0)).toBe(0xfeff);
    const rows = text.slice(1).trim().split('\r\n');
    expect(rows[0]!.startsWith('id,type,source,time')).toBe(true);
    expect(rows).toHaveLength(11);
  });

  it('the worker thread and the main thread write the same bytes and skip the same undecodable messages', async () => {
    const type: EventType = 'mingob.vehicle.reported-stolen';
    const c = getContract(type);
    const topicName = `${uniqueName('threads')}.sns.mingob.stolen-vehicles.v1`;
    await ctx.admin.createTopics({ topics: [{ topic: ctx.prefix + topicName, numPartitions: 3 }], waitForLeaders: true });
    const registry = createRegistry(registryUrl);
    const { id } = await registry.register(subjectFor(ctx.prefix + topicName, c.subjectRecordName), c.schema);
    const producer = kafka.producer();
    await producer.connect();
    const messages = Array.from({ length: 40 }, (_, i) => {
      const data = sampleEvent(type) as unknown as Record<string, unknown>;
      const value = encodeWire(id, c.avroType.toBuffer(data));
      if (i % 10 === 3) return { key: `k${i}`, value: Buffer.from([0, 0xff, 0xff, 0xff, 0xf0, 1, 2]), headers: { ce_type: type } };
      if (i % 10 === 5) return { key: null, value, headers: { ce_type: type, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', ce_source: ['PNC', 'MINGOB'] } };
      if (i % 10 === 7) return { key: `ñandú-${i}`, value, headers: { ce_type: type, ce_id: 'id "entre comillas"', ce_subject: '' } };
      return { key: `k${i}`, value, headers: { ce_type: type } };
    });
    await producer.send({ topic: ctx.prefix + topicName, acks: -1, messages });
    await producer.disconnect();
    const plan = await resolvePlan(ctx.admin, catalog, { topics: [topicName] }, { topicPrefix: ctx.prefix });
    for (const format of ['ndjson', 'csv'] as const) {
      const files: Record<string, string> = {};
      const results = [];
      for (const encodeIn of ['worker', 'main'] as const) {
        const out = join(dir, `threads-${encodeIn}.${format}`);
        results.push(await exportEvents({ kafka, catalog, plan, topicPrefix: ctx.prefix, registryUrl, out, format, fingerprint: `threads-${encodeIn}-${format}`, encodeIn }));
        // Partitions are read concurrently: compare the lines, not their order across partitions.
        files[encodeIn] = readFileSync(out, 'utf8').split(/(?<=\n)/).sort().join('');
      }
      expect(results.map((r) => [r.encodedIn, r.events, r.undecodable, r.bytes])).toEqual([['worker', 36, 4, results[0]!.bytes], ['main', 36, 4, results[0]!.bytes]]);
      expect(files.worker).toEqual(files.main);
      expect(files.worker!.length).toBeGreaterThan(0);
    }
  });

  // Encoded in the worker thread (the default) and in the main thread: the checkpoint must match the file either way.
  it.each(['worker', 'main'] as const)('interrupted, then resumed with the same command: no event missing or duplicated (encoded in the %s thread)', async (encodeIn) => {
    const plan = await resolvePlan(ctx.admin, catalog, { topics: [movementsTopic] }, { topicPrefix: ctx.prefix });
    const out = join(dir, `resume-${encodeIn}.ndjson`);
    const fingerprint = fingerprintOf({ out, topics: [movementsTopic] });
    const controller = new AbortController();
    // Stopped as soon as the first batch has been read: the batches already handed to the worker are written first.
    const first = await exportEvents({
      kafka, catalog, plan, topicPrefix: ctx.prefix, registryUrl, out, format: 'ndjson', fingerprint, signal: controller.signal, encodeIn,
      onProgress: (offsets) => {
        if (offsets > 0) controller.abort();
      },
    });
    expect(first.status).toBe('interrupted');
    expect(first.events).toBeGreaterThan(0);
    expect(first.events).toBeLessThan(180);
    // Garbage after the checkpointed size (a write that raced the stop) is cut on resume.
    const { appendFileSync } = await import('node:fs');
    appendFileSync(out, '{"partial":');
    const second = await exportEvents({ kafka, catalog, plan, topicPrefix: ctx.prefix, registryUrl, out, format: 'ndjson', fingerprint, encodeIn });
    expect(second.status).toBe('done');
    expect(second.resumed).toBe(true);
    const ids = readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as ExportedEvent).id);
    expect(ids).toHaveLength(180);
    expect(new Set(ids)).toEqual(new Set(sent.map((s) => s.eventId)));
  });

  it('a re-drive produces Exercise alerts only, in its own schema, published nowhere', async () => {
    const ak: EventType = 'pgn.alba-keneth.activated';
    await ctx.publishMany(Array.from({ length: 3 }, () => ({ type: ak, data: sampleEvent(ak) as EventDataMap[EventType] })));
    const plan = await resolvePlan(ctx.admin, catalog, { eventTypes: [ak] }, { topicPrefix: ctx.prefix });
    const r = await redriveAlerts({
      kafka, catalog, plan, databaseUrl: ctx.databaseUrl, registryUrl, topicPrefix: ctx.prefix, storeSchema: 'store', liveAlertsSchema: 'alerts',
      checkpointPath: join(dir, 'redrive.json'), fingerprint: 'redrive',
    });
    expect(r.status).toBe('done');
    expect(r.events).toBe(3);
    expect(r.published).toBe(false);
    expect(Object.keys(r.alertsByStatus)).toEqual(['Exercise']);
    const rows = await ctx.query<{ status: string; n: string }>(`SELECT status, count(*)::text AS n FROM alerts_exercise.alerts GROUP BY status`);
    expect(rows.map((x) => x.status)).toEqual(['Exercise']);
    const live = await ctx.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_namespace WHERE nspname = 'alerts'`);
    expect(live[0]!.n).toBe('0');
    const alertsTopic = await ctx.admin.fetchTopicOffsets(ctx.prefix + catalog.topicOf('st.alert.issued').name);
    expect(alertsTopic.every((p) => p.high === '0')).toBe(true);
  });
});
