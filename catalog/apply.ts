/**
 * `topics:apply`: makes Kafka match the topics declared in topics.yaml.
 *
 * It creates missing topics, raises partition counts, and rewrites a topic's
 * configs when they drifted. It refuses what Kafka cannot do in place (fewer
 * partitions, another replication factor) with BUS_ERR_TOPIC_APPLY. Applying
 * an unchanged catalog a second time changes nothing.
 *
 * topics.yaml states production replication (3 brokers). Here the factor is
 * clamped to the brokers the cluster has, and min.insync.replicas to that
 * factor, so the same file serves the one-broker local stack; the report says
 * when it clamped.
 */
import type { Admin, ConfigEntries, ConfigResourceTypes, IResourceConfig } from 'kafkajs';
import { BrokerUnavailableError, BusError, createKafka, type Logger, type Violation } from '../core/index.ts';
import type { TopicSpec } from './types.ts';

/** kafkajs' `ConfigResourceTypes.TOPIC`; the enum is not an ESM named export of the CJS package. */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;
/** kafkajs' `ConfigSource.TOPIC_CONFIG`: a value set on the topic itself. */
const TOPIC_CONFIG_SOURCE = 1;

export interface ApplyTopicsOptions {
  /** A connected admin client; when omitted one is created with `createKafka` and closed afterwards. */
  admin?: Admin;
  /** Prepended to every topic name (tests use a unique prefix). */
  prefix?: string;
  /** Apply only these catalog topic names (without prefix). */
  only?: readonly string[];
  /** Report what would change without changing anything. */
  dryRun?: boolean;
  /** Throw BUS_ERR_TOPIC_APPLY when something was refused (default true); false returns it in the report only. */
  throwOnRefused?: boolean;
  /** For kafkajs logs of the admin client created here. */
  logger?: Logger;
}

/** A config whose value in Kafka differs from the declared one; null = not set on the topic (default). */
export interface ConfigDrift {
  readonly name: string;
  readonly actual: string | null;
  readonly desired: string | null;
}

/** What `applyTopics` did, per topic (names include the prefix). */
export interface ApplyReport {
  readonly brokerCount: number;
  readonly dryRun: boolean;
  readonly created: readonly { topic: string; partitions: number; replicationFactor: number }[];
  readonly partitionsRaised: readonly { topic: string; from: number; to: number }[];
  readonly configsFixed: readonly { topic: string; drift: readonly ConfigDrift[] }[];
  readonly unchanged: readonly string[];
  readonly refused: readonly { topic: string; reason: string }[];
  /** Replication clamped to the cluster size, one line per topic. */
  readonly notes: readonly string[];
}

/** Replication a topic gets on a cluster of `brokerCount` brokers. */
export interface EffectiveReplication {
  readonly replicationFactor: number;
  /** Clamped `min.insync.replicas`, or undefined when the topic does not set it. */
  readonly minInsyncReplicas: number | undefined;
  /** True when either value was lowered from the declared one. */
  readonly clamped: boolean;
}

/**
 * Clamps the declared (production) replication factor to `brokerCount` and
 * `min.insync.replicas` to the resulting factor; used by `applyTopics`.
 */
export function effectiveReplication(topic: TopicSpec, brokerCount: number): EffectiveReplication {
  const replicationFactor = Math.max(1, Math.min(topic.replicationFactor, brokerCount));
  const declaredMinIsr = topic.configs['min.insync.replicas'];
  const minInsyncReplicas =
    declaredMinIsr === undefined ? undefined : Math.min(Number(declaredMinIsr), replicationFactor);
  const clamped =
    replicationFactor !== topic.replicationFactor ||
    (minInsyncReplicas !== undefined && String(minInsyncReplicas) !== declaredMinIsr);
  return { replicationFactor, minInsyncReplicas, clamped };
}

/** The full set of topic-level configs `applyTopics` keeps on `topic` for a cluster of `brokerCount` brokers. */
export function desiredTopicConfigs(topic: TopicSpec, brokerCount: number): Record<string, string> {
  const { minInsyncReplicas } = effectiveReplication(topic, brokerCount);
  const configs: Record<string, string> = {
    ...topic.configs,
    'retention.ms': String(topic.retentionMs),
    'cleanup.policy': topic.cleanupPolicy,
  };
  if (minInsyncReplicas !== undefined) configs['min.insync.replicas'] = String(minInsyncReplicas);
  return configs;
}

/**
 * Makes Kafka match `catalog.topics` (or the `only` subset). Throws
 * BUS_ERR_TOPIC_APPLY listing what Kafka cannot do, after applying everything
 * else, unless `throwOnRefused` is false; BUS_ERR_BROKER_UNAVAILABLE when it cannot connect.
 */
export async function applyTopics(
  catalog: { readonly topics: readonly TopicSpec[] },
  options: ApplyTopicsOptions = {},
): Promise<ApplyReport> {
  const prefix = options.prefix ?? '';
  const selected = selectTopics(catalog.topics, options.only);
  const ownAdmin = options.admin === undefined;
  const admin =
    options.admin ??
    createKafka({ clientId: 'sns-topics-apply', ...(options.logger ? { logger: options.logger } : {}) }).admin();
  if (ownAdmin) {
    try {
      await admin.connect();
    } catch (cause) {
      throw new BrokerUnavailableError(`topics:apply could not connect to Kafka: ${(cause as Error).message}`, cause);
    }
  }
  try {
    const report = await reconcile(admin, selected, prefix, options.dryRun ?? false);
    if (report.refused.length > 0 && (options.throwOnRefused ?? true)) throw refusedError(report, catalog.topics, prefix);
    return report;
  } finally {
    if (ownAdmin) await admin.disconnect();
  }
}

/** The report as a table for a terminal. */
export function formatApplyReport(report: ApplyReport): string {
  const rows: [string, string, string][] = [
    ...report.created.map((c): [string, string, string] => [
      c.topic,
      'created',
      `${c.partitions} partitions, replication ${c.replicationFactor}`,
    ]),
    ...report.partitionsRaised.map((p): [string, string, string] => [p.topic, 'partitions raised', `${p.from} → ${p.to}`]),
    ...report.configsFixed.map((c): [string, string, string] => [
      c.topic,
      'configs fixed',
      c.drift.map((d) => `${d.name}: ${d.actual ?? '(default)'} → ${d.desired ?? '(default)'}`).join('; '),
    ]),
    ...report.refused.map((r): [string, string, string] => [r.topic, 'REFUSED', r.reason]),
    ...report.unchanged.map((t): [string, string, string] => [t, 'unchanged', '']),
  ];
  const header: [string, string, string] = ['topic', 'action', 'detail'];
  const widths = [0, 1].map((i) => Math.max(header[i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: [string, string, string]) => `${r[0].padEnd(widths[0]!)}  ${r[1].padEnd(widths[1]!)}  ${r[2]}`.trimEnd();
  const out = [
    `topics:apply${report.dryRun ? ' (dry run: nothing changed)' : ''} on ${report.brokerCount} broker(s)`,
    line(header),
    line(['-'.repeat(widths[0]!), '-'.repeat(widths[1]!), '------']),
    ...rows.map(line),
  ];
  if (report.notes.length > 0) out.push('', 'notes:', ...report.notes.map((n) => `  ${n}`));
  return out.join('\n');
}

function selectTopics(topics: readonly TopicSpec[], only: readonly string[] | undefined): readonly TopicSpec[] {
  if (only === undefined) return topics;
  const names = new Set(topics.map((t) => t.name));
  const unknown = only.filter((name) => !names.has(name));
  if (unknown.length > 0) {
    throw new BusError('BUS_ERR_TOPIC_UNDECLARED', `topics:apply: not declared in topics.yaml: ${unknown.join(', ')}`);
  }
  return topics.filter((t) => only.includes(t.name));
}

async function reconcile(admin: Admin, topics: readonly TopicSpec[], prefix: string, dryRun: boolean): Promise<ApplyReport> {
  const { brokers } = await admin.describeCluster();
  const brokerCount = brokers.length;
  const existing = new Set(await admin.listTopics());
  const report = {
    brokerCount,
    dryRun,
    created: [] as { topic: string; partitions: number; replicationFactor: number }[],
    partitionsRaised: [] as { topic: string; from: number; to: number }[],
    configsFixed: [] as { topic: string; drift: ConfigDrift[] }[],
    unchanged: [] as string[],
    refused: [] as { topic: string; reason: string }[],
    notes: [] as string[],
  };

  for (const spec of topics) {
    const name = prefix + spec.name;
    const replication = effectiveReplication(spec, brokerCount);
    const desired = desiredTopicConfigs(spec, brokerCount);
    if (replication.clamped) {
      const isr = spec.configs['min.insync.replicas'];
      report.notes.push(
        `${name}: replicationFactor ${spec.replicationFactor} → ${replication.replicationFactor}` +
          (isr === undefined ? '' : `, min.insync.replicas ${isr} → ${replication.minInsyncReplicas}`) +
          ` (the cluster has ${brokerCount} broker(s); topics.yaml keeps production values)`,
      );
    }

    await attempt(name, 'create or alter', async () => {
      if (!existing.has(name)) {
        if (!dryRun) {
          await admin.createTopics({
            waitForLeaders: true,
            topics: [
              {
                topic: name,
                numPartitions: spec.partitions,
                replicationFactor: replication.replicationFactor,
                configEntries: Object.entries(desired).map(([key, value]) => ({ name: key, value })),
              },
            ],
          });
        }
        report.created.push({ topic: name, partitions: spec.partitions, replicationFactor: replication.replicationFactor });
        return;
      }

      let changed = false;
      const metadata = (await admin.fetchTopicMetadata({ topics: [name] })).topics[0];
      const partitionCount = metadata?.partitions.length ?? 0;
      const actualRf = metadata?.partitions[0]?.replicas.length ?? 0;
      if (actualRf !== replication.replicationFactor) {
        report.refused.push({
          topic: name,
          reason:
            `replication factor is ${actualRf} in Kafka but ${replication.replicationFactor} is wanted ` +
            `(declared ${spec.replicationFactor}, ${brokerCount} broker(s)); topics:apply does not reassign replicas: ` +
            'use kafka-reassign-partitions or a new topic version',
        });
      }
      if (partitionCount > spec.partitions) {
        report.refused.push({
          topic: name,
          reason:
            `has ${partitionCount} partitions in Kafka but topics.yaml declares ${spec.partitions}; ` +
            'Kafka cannot remove partitions: revert the change or move to a new topic version',
        });
      } else if (partitionCount < spec.partitions) {
        if (!dryRun) await admin.createPartitions({ topicPartitions: [{ topic: name, count: spec.partitions }] });
        report.partitionsRaised.push({ topic: name, from: partitionCount, to: spec.partitions });
        changed = true;
      }

      const drift = await configDrift(admin, name, desired);
      if (drift.length > 0) {
        if (!dryRun) {
          // Legacy AlterConfigs (kafkajs has no incremental variant) replaces every
          // topic-level override, so send the full desired set, never just the drift.
          const resource: IResourceConfig = {
            type: TOPIC_RESOURCE,
            name,
            configEntries: Object.entries(desired).map(([key, value]) => ({ name: key, value })),
          };
          await admin.alterConfigs({ validateOnly: false, resources: [resource] });
        }
        report.configsFixed.push({ topic: name, drift });
        changed = true;
      }
      if (!changed && !report.refused.some((r) => r.topic === name)) report.unchanged.push(name);
    });
  }
  return report;
}

/** Declared configs whose effective value differs, plus topic overrides topics.yaml does not declare. */
async function configDrift(admin: Admin, topic: string, desired: Record<string, string>): Promise<ConfigDrift[]> {
  const response = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: TOPIC_RESOURCE, name: topic }],
  });
  const entries: ConfigEntries[] = response.resources[0]?.configEntries ?? [];
  const byName = new Map(entries.map((e) => [e.configName, e]));
  const drift: ConfigDrift[] = [];
  for (const [name, value] of Object.entries(desired)) {
    const actual = byName.get(name);
    if (actual?.configValue !== value) drift.push({ name, actual: actual?.configValue ?? null, desired: value });
  }
  for (const entry of entries) {
    const override =
      entry.configSource === undefined ? !entry.isDefault : entry.configSource === TOPIC_CONFIG_SOURCE;
    if (override && !entry.readOnly && !(entry.configName in desired)) {
      drift.push({ name: entry.configName, actual: entry.configValue, desired: null });
    }
  }
  return drift;
}

/** Wraps a Kafka failure on one topic in BUS_ERR_TOPIC_APPLY naming the topic. */
async function attempt(topic: string, what: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (cause) {
    if (cause instanceof BusError) throw cause;
    throw new BusError('BUS_ERR_TOPIC_APPLY', `topics:apply: could not ${what} ${topic}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

function refusedError(report: ApplyReport, declared: readonly TopicSpec[], prefix: string): BusError {
  const violations: Violation[] = report.refused.map((r) => {
    const index = declared.findIndex((t) => prefix + t.name === r.topic);
    return { path: index < 0 ? `/topics` : `/topics/${index}`, message: `${r.topic}: ${r.reason}`, rule: 'topic.apply' };
  });
  return new BusError(
    'BUS_ERR_TOPIC_APPLY',
    `topics:apply refused ${violations.length} change(s) Kafka cannot make:\n` +
      violations.map((v) => `  ${v.path}: ${v.message}`).join('\n'),
    { violations },
  );
}
