import type { Admin, ConfigResourceTypes } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTopics, type TopicSpec } from '../../catalog/index.ts';
import { createKafka } from '../../core/index.ts';
import { uniqueName } from '../support/names.ts';

const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

function spec(name: string, partitions: number, overrides: Partial<TopicSpec> = {}): TopicSpec {
  return {
    name,
    owner: 'CONRED',
    description: 'apply test',
    eventTypes: [],
    keyField: null,
    partitions,
    replicationFactor: 3,
    retentionMs: -1,
    cleanupPolicy: 'delete',
    configs: { 'min.insync.replicas': '2' },
    ...overrides,
  };
}

describe('applyTopics against the real Kafka', () => {
  const prefix = `${uniqueName('test-catalog-apply')}.`;
  const incidents = 'sns.conred.incidents.v1';
  const alerts = 'sns.st.alerts.v1';
  let admin: Admin;

  beforeAll(async () => {
    admin = createKafka({ clientId: 'test-catalog-apply' }).admin();
    await admin.connect();
  });

  afterAll(async () => {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    await admin.disconnect();
  });

  async function partitionsOf(topic: string): Promise<number> {
    const { topics } = await admin.fetchTopicMetadata({ topics: [prefix + topic] });
    return topics[0]!.partitions.length;
  }

  async function configsOf(topic: string): Promise<Record<string, string>> {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: TOPIC_RESOURCE, name: prefix + topic }],
    });
    return Object.fromEntries(resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
  }

  it('creates missing topics with their configs, clamping replication to the one local broker', async () => {
    const report = await applyTopics({ topics: [spec(incidents, 3), spec(alerts, 2)] }, { admin, prefix });

    expect(report.brokerCount).toBe(1);
    expect(report.created).toEqual([
      { topic: prefix + incidents, partitions: 3, replicationFactor: 1 },
      { topic: prefix + alerts, partitions: 2, replicationFactor: 1 },
    ]);
    expect(report.notes[0]).toContain('replicationFactor 3 → 1, min.insync.replicas 2 → 1');
    expect(await partitionsOf(incidents)).toBe(3);
    expect(await configsOf(incidents)).toMatchObject({
      'retention.ms': '-1',
      'cleanup.policy': 'delete',
      'min.insync.replicas': '1',
    });
  });

  it('changes nothing when applied a second time', async () => {
    const report = await applyTopics({ topics: [spec(incidents, 3), spec(alerts, 2)] }, { admin, prefix });

    expect(report).toMatchObject({
      created: [],
      partitionsRaised: [],
      configsFixed: [],
      refused: [],
      unchanged: [prefix + incidents, prefix + alerts],
    });
  });

  it('raises partitions', async () => {
    const report = await applyTopics({ topics: [spec(incidents, 5), spec(alerts, 2)] }, { admin, prefix });

    expect(report.partitionsRaised).toEqual([{ topic: prefix + incidents, from: 3, to: 5 }]);
    expect(report.unchanged).toEqual([prefix + alerts]);
    expect(await partitionsOf(incidents)).toBe(5);
  });

  it('refuses fewer partitions with BUS_ERR_TOPIC_APPLY and changes nothing', async () => {
    const catalog = { topics: [spec(incidents, 2), spec(alerts, 2)] };

    await expect(applyTopics(catalog, { admin, prefix })).rejects.toMatchObject({
      code: 'BUS_ERR_TOPIC_APPLY',
      message: expect.stringContaining(
        `/topics/0: ${prefix}${incidents}: has 5 partitions in Kafka but topics.yaml declares 2; Kafka cannot remove partitions`,
      ),
    });
    const report = await applyTopics(catalog, { admin, prefix, throwOnRefused: false });
    expect(report.refused).toEqual([{ topic: prefix + incidents, reason: expect.stringContaining('cannot remove partitions') }]);
    expect(report.unchanged).toEqual([prefix + alerts]);
    expect(await partitionsOf(incidents)).toBe(5);
  });

  it('reports config drift, including an undeclared override, and fixes it', async () => {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: TOPIC_RESOURCE,
          name: prefix + alerts,
          configEntries: [
            { name: 'retention.ms', value: '3600000' },
            { name: 'cleanup.policy', value: 'delete' },
            { name: 'min.insync.replicas', value: '1' },
            { name: 'max.message.bytes', value: '2000000' },
          ],
        },
      ],
    });

    const report = await applyTopics({ topics: [spec(incidents, 5), spec(alerts, 2)] }, { admin, prefix });

    expect(report.configsFixed).toEqual([
      {
        topic: prefix + alerts,
        drift: [
          { name: 'retention.ms', actual: '3600000', desired: '-1' },
          { name: 'max.message.bytes', actual: '2000000', desired: null },
        ],
      },
    ]);
    expect(report.unchanged).toEqual([prefix + incidents]);
    const configs = await configsOf(alerts);
    expect(configs['retention.ms']).toBe('-1');
    expect(configs['max.message.bytes']).not.toBe('2000000');

    const again = await applyTopics({ topics: [spec(incidents, 5), spec(alerts, 2)] }, { admin, prefix });
    expect(again.unchanged).toEqual([prefix + incidents, prefix + alerts]);
  });

  it('applies a subset, and a dry run changes nothing', async () => {
    const extra = 'sns.igm.migratory-movements.v1';
    const catalog = { topics: [spec(incidents, 5), spec(alerts, 2), spec(extra, 1)] };

    const dry = await applyTopics(catalog, { admin, prefix, only: [extra], dryRun: true });
    expect(dry.created).toEqual([{ topic: prefix + extra, partitions: 1, replicationFactor: 1 }]);
    expect(await admin.listTopics()).not.toContain(prefix + extra);

    // No admin given: applyTopics opens and closes its own client.
    const real = await applyTopics(catalog, { prefix, only: [extra] });
    expect(real.created.map((c) => c.topic)).toEqual([prefix + extra]);
    expect(real.unchanged).toEqual([]);
  });
});
