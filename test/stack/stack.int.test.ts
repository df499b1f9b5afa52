import { spawnSync } from 'node:child_process';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka, readEndpoints } from '../../core/index.ts';
import { PORTS, REGISTRY_RULES, readRegistryRules, runningPid, stackStatus, stackUp, startRegistry, stopComponent } from '../../scripts/stack/stack.ts';
import { uniqueName } from '../support/names.ts';

const endpoints = readEndpoints();

function listeners(port: number): number {
  const r = spawnSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.trim()).length;
}

describe('local stack', () => {
  it('is idempotent: stack:up twice leaves one broker and one registry running', async () => {
    const pidsBefore = [runningPid('kafka'), runningPid('registry')];
    expect(await stackUp()).toBe(false);
    expect(await stackUp()).toBe(false);
    expect([runningPid('kafka'), runningPid('registry')]).toEqual(pidsBefore);
    expect(listeners(PORTS.kafka)).toBe(1);
    expect(listeners(PORTS.registry)).toBe(1);
    const status = await stackStatus();
    expect(status.map((s) => [s.name, s.state])).toEqual([
      ['kafka', 'ready'],
      ['registry', 'ready'],
      ['postgres', 'ready'],
    ]);
  });

  it('serves kafkajs on the pinned broker: create topic, produce, join a group, commit, fetch', async () => {
    const kafka = createKafka({ clientId: 'stack-smoke' });
    const topic = uniqueName('smoke');
    const groupId = uniqueName('smoke-group');
    const admin = kafka.admin();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
    const consumer = kafka.consumer({ groupId });
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: 'a', value: 'uno' }, { key: 'b', value: 'dos' }, { key: 'c', value: 'tres' }] });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const seen: string[] = [];
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              seen.push(message.value!.toString());
              await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
              if (seen.length === 3) resolve();
            },
          })
          .catch(reject);
      });
      expect(seen.sort()).toEqual(['dos', 'tres', 'uno']);
      await consumer.stop();
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      const total = committed[0]!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
      expect(total).toBe(3);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it('runs the registry with the global rules BACKWARD_TRANSITIVE and FULL', async () => {
    expect(await readRegistryRules(endpoints.registryUrl)).toEqual(REGISTRY_RULES);
  });

  it('registers and fetches by id through the Confluent-compatible API, and rejects an incompatible change', async () => {
    const registry = new SchemaRegistry({ host: endpoints.registryUrl });
    const subject = `${uniqueName('smoke')}-gt.sns.Smoke`;
    const v1 = { type: 'record', name: 'Smoke', namespace: 'gt.sns', doc: 'smoke', fields: [{ name: 'nombre', type: 'string', doc: 'a name' }] };
    const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
    expect(await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject })).toEqual({ id });
    const fetched = JSON.parse(await registry.getSchema(id).then((s) => JSON.stringify(s)));
    expect(fetched).toMatchObject({ type: 'record', name: expect.stringMatching(/Smoke$/) });
    const encoded = await registry.encode(id, { nombre: 'Peñón de Ñuñoa' });
    expect(encoded[0]).toBe(0);
    expect(encoded.readInt32BE(1)).toBe(id);
    expect(await registry.decode(encoded)).toEqual({ nombre: 'Peñón de Ñuñoa' });
    const incompatible = { ...v1, fields: [{ name: 'nombre', type: 'int', doc: 'now a number' }] };
    await expect(registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(incompatible) }, { subject })).rejects.toMatchObject({ status: 409 });
  });
});

describe.runIf(runningPid('registry') !== undefined)('registry restart', () => {
  const kafka = createKafka({ clientId: 'stack-restart' });
  const admin = kafka.admin();
  const topic = uniqueName('registry-restart');
  afterAll(async () => {
    await startRegistry();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('keeps schema ids: messages written before a restart decode after it', async () => {
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const before = new SchemaRegistry({ host: endpoints.registryUrl });
    const schema = { type: 'record', name: 'Persisted', namespace: 'gt.sns', doc: 'restart', fields: [{ name: 'n', type: 'long', doc: 'n' }] };
    const { id } = await before.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject: `${topic}-gt.sns.Persisted` });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: await before.encode(id, { n: 42 }) }] });
    await producer.disconnect();

    expect(await stopComponent('registry')).toBe(true);
    await startRegistry();

    const after = new SchemaRegistry({ host: endpoints.registryUrl });
    const consumer = kafka.consumer({ groupId: uniqueName('restart') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const decoded = await new Promise<unknown>((resolve, reject) => {
      consumer.run({ eachMessage: async ({ message }) => resolve(await after.decode(message.value!)) }).catch(reject);
    });
    await consumer.disconnect();
    expect(decoded).toEqual({ n: 42 });
  });
});
