/**
 * The alert service (`npm run alerts`): consumes the institutions' topics,
 * runs the rules engine, stores each alert once in PostgreSQL and publishes
 * it to the ST alerts topic as Avro through the producer SDK. It also raises
 * the escalation of Extreme alerts nobody acknowledged in time.
 *
 * Order of effects per batch: evaluate every event (in log order, so an
 * activation and its deactivation in one batch see each other) → one
 * PostgreSQL transaction inserts the alerts (unique identifier: duplicates
 * vanish) → publish what is not yet published → mark published → commit the
 * Kafka offsets. A crash anywhere repeats the batch harmlessly: inserts are
 * no-ops and only unpublished alerts are published again.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type pg from 'pg';
import { loadCatalog, type Catalog } from '../../catalog/index.ts';
import { getContract, LOGICAL_TYPES, type AlertIssued, type CapStatus, type EventType } from '../../contracts/index.ts';
import { BusError, createKafka, readEndpoints, type Logger } from '../../core/index.ts';
import { createProducer, type Producer } from '../../producers/index.ts';
import { createDecoder, createRegistry, DecodeError } from '../../registry/index.ts';
import { createCurrentState, createStorePool, DEFAULT_STORE_SCHEMA, PROJECTED_EVENT_TYPES } from '../index.ts';
import { createProjectorBarrier } from './barrier.ts';
import { createAlertEngine, type AlertEngine, type AlertHistory, type PriorAlert, type RaisedAlert, type SourceEvent, type StateLookups } from './engine.ts';
import { ALERT_DEFAULTS, assertPositiveInts } from './options.ts';
import { loadAlertRules, type AlertRules } from './rules.ts';
import { createAlertStore, migrateAlerts, type AlertStore } from './store.ts';

/** The CloudEvents extension header that marks a source event as a drill. */
export const EXERCISE_HEADER = 'ce_snsexercise';

/** Topics whose state the correlations read (the barrier waits for the projector on them). */
const STATE_TOPICS = ['sns.pgn.alba-keneth.v1', 'sns.mingob.arrest-warrants.v1', 'sns.mingob.stolen-vehicles.v1'];

export interface AlertServiceOptions {
  /** PostgreSQL of the alerts schema and the store; defaults to DATABASE_URL. */
  databaseUrl?: string;
  /** Schema of alerts and webhooks; default ALERTS_SCHEMA or `alerts`. */
  schema?: string;
  /** Schema of the central store; default STORE_SCHEMA or `store`. */
  storeSchema?: string;
  /** Consumer group; default ALERTS_GROUP_ID or `sns-st-alerts`. A replay re-drive uses its own or none. */
  groupId?: string;
  /** The projector's group (correlation barrier); default PROJECTOR_GROUP_ID or `sns-st-projector`. */
  projectorGroupId?: string;
  topicPrefix?: string;
  registryUrl?: string;
  kafka?: Kafka;
  catalog?: Catalog;
  /** The rules; default loaded from ALERTS_RULES_FILE or alert-rules.yaml. */
  rules?: AlertRules;
  logger?: Logger;
  /** Every alert is Exercise (replay re-drive, drills). */
  forceExercise?: boolean;
  /** Publish alerts to the alerts topic (default true). */
  publish?: boolean;
  /** Register the alert schema if missing (default: not in production). */
  autoRegister?: boolean;
  /** A new group starts at the beginning of the topics (default false: only new events raise alerts). */
  fromBeginning?: boolean;
  /** Run the alerts migrations at start (default true). */
  migrate?: boolean;
  raceWaitMs?: number;
  racePollMs?: number;
  escalateAfterMs?: number;
  escalationCheckMs?: number;
  partitionsConsumedConcurrently?: number;
}

export interface AlertService {
  readonly engine: AlertEngine;
  /** Migrates, connects, starts consuming and the escalation check. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Evaluates, stores and publishes alerts for decoded events, as the consumer
   * does (the replay re-drive calls this). Returns the alerts newly raised.
   */
  processEvents(events: readonly SourceEvent[], opts?: { waitForProjector?: boolean }): Promise<AlertIssued[]>;
  /** Raises the escalations that are due now; returns how many. */
  escalate(): Promise<number>;
  /** The consumed topics (prefixed). */
  readonly topics: readonly string[];
}

/** Creates the alert service. Throws BUS_ERR_CONFIG / BUS_ERR_ALERT_RULES_FILE at once; connects on `start()`. */
export function createAlertService(options: AlertServiceOptions = {}): AlertService {
  const env = process.env;
  // ALERTS_ESCALATE_AFTER_MS is checked like the options (a typo was NaN, and escalation never happened).
  const escalateAfterOption = options.escalateAfterMs ?? (env.ALERTS_ESCALATE_AFTER_MS === undefined ? undefined : Number(env.ALERTS_ESCALATE_AFTER_MS));
  assertPositiveInts(
    'createAlertService',
    {
      raceWaitMs: options.raceWaitMs,
      racePollMs: options.racePollMs,
      escalateAfterMs: escalateAfterOption,
      escalationCheckMs: options.escalationCheckMs,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
    },
    1,
    ['raceWaitMs', 'racePollMs', 'escalationCheckMs'],
  );
  const endpoints = readEndpoints();
  const databaseUrl = options.databaseUrl ?? endpoints.databaseUrl;
  const schema = options.schema ?? env.ALERTS_SCHEMA ?? ALERT_DEFAULTS.schema;
  const storeSchema = options.storeSchema ?? env.STORE_SCHEMA ?? DEFAULT_STORE_SCHEMA;
  const groupId = options.groupId ?? env.ALERTS_GROUP_ID ?? ALERT_DEFAULTS.groupId;
  const projectorGroupId = options.projectorGroupId ?? env.PROJECTOR_GROUP_ID ?? ALERT_DEFAULTS.projectorGroupId;
  const topicPrefix = options.topicPrefix ?? env.SNS_TOPIC_PREFIX ?? '';
  const raceWaitMs = options.raceWaitMs ?? ALERT_DEFAULTS.raceWaitMs;
  const escalateAfterMs = escalateAfterOption ?? ALERT_DEFAULTS.escalateAfterMs;
  const escalationCheckMs = options.escalationCheckMs ?? ALERT_DEFAULTS.escalationCheckMs;
  const publish = options.publish ?? true;
  const rules = options.rules ?? loadAlertRules(env.ALERTS_RULES_FILE ?? 'alert-rules.yaml');
  const engine = createAlertEngine({ rules });
  const catalog = options.catalog ?? loadCatalog();
  const log = options.logger?.child({ component: 'alerts', group: groupId });

  const sourceTypes = PROJECTED_EVENT_TYPES.filter((t) => rules.rulesFor(t).length > 0);
  const topics = [...new Set(sourceTypes.map((t) => topicPrefix + catalog.topicOf(t).name))];
  const correlatedTypes = new Set(rules.rules.filter((r) => r.correlate).flatMap((r) => r.on));
  const typeByRecord = new Map<string, EventType>();
  const readerTypes = new Map<string, ReturnType<typeof getContract>['avroType']>();
  for (const type of PROJECTED_EVENT_TYPES) {
    const c = getContract(type);
    typeByRecord.set(c.subjectRecordName, type);
    readerTypes.set(c.subjectRecordName, c.avroType);
  }
  const decoder = createDecoder({ registry: createRegistry(options.registryUrl ?? endpoints.registryUrl), readerTypes, logicalTypes: LOGICAL_TYPES as never });

  const kafka = options.kafka ?? createKafka({ clientId: `sns-alerts-${groupId}`, logger: options.logger });
  let pool: pg.Pool | undefined;
  let store: AlertStore | undefined;
  let state: StateLookups | undefined;
  let admin: Admin | undefined;
  let consumer: Consumer | undefined;
  let producer: Producer | undefined;
  let barrier: ReturnType<typeof createProjectorBarrier> | undefined;
  let escalationTimer: NodeJS.Timeout | undefined;
  let started = false;
  let outboxRunning: Promise<void> | undefined;
  let outboxAgain = false;
  let outboxTimer: NodeJS.Timeout | undefined;
  /** Alerts the alerts topic refused (a bug, logged once); not retried by this process. */
  const refused = new Set<string>();

  async function connect(): Promise<void> {
    if (started) return;
    started = true;
    if (options.migrate ?? true) await migrateAlerts({ databaseUrl, schema, logger: options.logger });
    pool = createStorePool(databaseUrl, 8);
    store = createAlertStore(pool, schema);
    state = createCurrentState(pool, { schema: storeSchema, nameFallback: rules.correlation.nameFallback });
    admin = kafka.admin();
    await admin.connect();
    barrier = createProjectorBarrier({
      admin,
      pool,
      storeSchema,
      projectorGroupId,
      topics: STATE_TOPICS.map((t) => topicPrefix + t),
      maxWaitMs: raceWaitMs,
      pollMs: options.racePollMs ?? ALERT_DEFAULTS.racePollMs,
      logger: log,
    });
    if (publish) {
      producer = createProducer({
        institution: 'ST-CNS',
        topicPrefix,
        catalog,
        kafka,
        registryUrl: options.registryUrl ?? endpoints.registryUrl,
        autoRegister: options.autoRegister ?? env.NODE_ENV !== 'production',
        lingerMs: 1,
        // `info.expires` lies in the future by design; the producer's clock-skew rule would refuse it.
        maxFutureSkewMs: Math.ceil(rules.expiresAfterHours * 3_600_000) + 3_600_000,
        logger: options.logger,
      });
    }
  }

  /** Alerts raised in one batch, not yet stored, indexed so each look-up is O(1) however large the batch. */
  interface PendingAlerts {
    readonly list: RaisedAlert[];
    readonly ids: Set<string>;
    readonly cancelled: Set<string>;
    readonly byEntity: Map<string, RaisedAlert[]>;
  }

  function pendingAlerts(): PendingAlerts {
    return { list: [], ids: new Set(), cancelled: new Set(), byEntity: new Map() };
  }

  /** Adds `r` unless its identifier is already pending (a producer retry duplicated the event): raised once. */
  function addPending(p: PendingAlerts, r: RaisedAlert): void {
    if (p.ids.has(r.alert.identifier)) return;
    p.ids.add(r.alert.identifier);
    p.list.push(r);
    for (const c of r.cancels) p.cancelled.add(c);
    const k = `${r.alert.status}\u0000${r.entityKey}`;
    const same = p.byEntity.get(k);
    if (same) same.push(r);
    else p.byEntity.set(k, [r]);
  }

  /** History that also sees the alerts raised earlier in the same batch (not yet stored). */
  function overlayHistory(base: AlertHistory, pending: PendingAlerts): AlertHistory {
    return {
      async activeFor(entityKey: string, status: CapStatus): Promise<PriorAlert[]> {
        const cancelled = pending.cancelled;
        const stored = (await base.activeFor(entityKey, status)).filter((p) => !cancelled.has(p.identifier));
        const seen = new Set(stored.map((p) => p.identifier));
        const mine = (pending.byEntity.get(`${status}\u0000${entityKey}`) ?? [])
          .filter((p) => p.alert.msgType !== 'Cancel' && !cancelled.has(p.alert.identifier) && !seen.has(p.alert.identifier))
          .map((p) => ({ identifier: p.alert.identifier, sender: p.alert.sender, sent: p.alert.sent, rule: p.alert.rule }));
        return [...stored, ...mine];
      },
    };
  }

  async function publishAlerts(alerts: readonly AlertIssued[]): Promise<void> {
    if (!producer || alerts.length === 0) return;
    const results = await Promise.allSettled(alerts.map((a) => producer!.publish('st.alert.issued', a, { subject: a.identifier })));
    const published = alerts.filter((_, i) => results[i]!.status === 'fulfilled');
    await store!.markPublished(published.map((a) => a.identifier));
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ alert: alerts[i]!, err: r.reason as unknown }] : []));
    // A retriable failure (broker away) is retried by the outbox loop; a refused alert stays stored and delivered by the push server.
    for (const f of failures) {
      const retriable = !(f.err instanceof BusError) || f.err.retriable;
      if (!retriable) refused.add(f.alert.identifier);
      log?.[retriable ? 'warn' : 'error']({ identifier: f.alert.identifier, code: (f.err as BusError).code, err: (f.err as Error).message }, retriable ? 'alert not yet published; will retry' : 'alert stored but refused by the alerts topic');
    }
  }

  /**
   * The outbox: alerts are committed to PostgreSQL first (that is what the push
   * server delivers), then published to the alerts topic in the background, so
   * a Kafka round trip never delays the next batch. Unpublished alerts are
   * found again after a crash (published_at IS NULL).
   */
  function flushOutbox(): Promise<void> {
    if (!producer) return Promise.resolve();
    if (outboxRunning) {
      outboxAgain = true;
      return outboxRunning;
    }
    outboxRunning = (async () => {
      try {
        do {
          outboxAgain = false;
          const batch = (await store!.unpublished(2_000)).filter((a) => !refused.has(a.identifier));
          await publishAlerts(batch);
          if (batch.length === 2_000) outboxAgain = true;
        } while (outboxAgain && started);
      } catch (err) {
        log?.warn({ err: (err as Error).message }, 'publishing alerts failed; retrying');
      } finally {
        outboxRunning = undefined;
      }
    })();
    return outboxRunning;
  }

  /** Earlier alerts of the entities a batch touches, fetched in one query (correlations still query on a match). */
  async function prefetchedHistory(events: readonly SourceEvent[], status: (e: SourceEvent) => CapStatus): Promise<AlertHistory> {
    const keys = [...new Set(events.flatMap((e) => engine.entityKeysOf(e).map((k) => `${status(e)}\u0000${k}`)))];
    const base = store!.history();
    if (keys.length === 0) return base;
    const asked = new Set(keys);
    const known = await store!.activeForMany(keys.map((k) => k.split('\u0000') as [CapStatus, string]));
    return {
      async activeFor(entityKey, st) {
        const hit = known.get(`${st}\u0000${entityKey}`);
        if (hit) return hit;
        if (asked.has(`${st}\u0000${entityKey}`)) return [];
        return base.activeFor(entityKey, st);
      },
    };
  }

  /** Batches waiting for the next group, with their callers. */
  let batchQueue: { events: readonly SourceEvent[]; resolve: () => void; reject: (err: unknown) => void }[] = [];
  let grouping = false;

  /**
   * Group commit of the consumer's batches: the partitions of one fetch,
   * handed over concurrently, are processed as one — one barrier wait, one
   * history query, one evaluation pass in log order per partition, one insert
   * transaction — instead of six queueing for the PostgreSQL round trips and
   * the seq lock one after the other. Groups run one at a time; each caller
   * returns once its events are committed; a failure fails every batch of the
   * group (each is retried, and a retried insert is a no-op).
   */
  function processBatch(events: readonly SourceEvent[]): Promise<void> {
    const done = new Promise<void>((resolve, reject) => batchQueue.push({ events, resolve, reject }));
    if (!grouping) {
      grouping = true;
      // setImmediate: the other partitions of the same fetch arrive in this turn of the event loop.
      setImmediate(() => void drainBatches());
    }
    return done;
  }

  async function drainBatches(): Promise<void> {
    try {
      while (batchQueue.length > 0) {
        const group = batchQueue;
        batchQueue = [];
        try {
          await processEvents(group.flatMap((c) => c.events));
          for (const c of group) c.resolve();
        } catch (err) {
          for (const c of group) c.reject(err);
        }
      }
    } finally {
      grouping = false;
    }
  }

  async function processEvents(events: readonly SourceEvent[], opts: { waitForProjector?: boolean } = {}): Promise<AlertIssued[]> {
    await connect();
    if ((opts.waitForProjector ?? true) && events.some((e) => correlatedTypes.has(e.type))) await barrier!.waitCaughtUp();
    const pending = pendingAlerts();
    const statusOf = (e: SourceEvent): CapStatus => (options.forceExercise || e.exercise ? 'Exercise' : 'Actual');
    const history = overlayHistory(await prefetchedHistory(events, statusOf), pending);
    for (const event of events) {
      const raised = await engine.evaluate(event, { state: state!, history, forceExercise: options.forceExercise ?? false });
      for (const r of raised) addPending(pending, r);
    }
    if (pending.list.length === 0) return [];
    const unpublished = await store!.insert(pending.list);
    for (const a of unpublished) log?.info({ identifier: a.identifier, rule: a.rule, status: a.status, msgType: a.msgType, severity: a.info.severity }, 'alert issued');
    if (unpublished.length > 0) void flushOutbox();
    return unpublished;
  }

  async function eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary }: EachBatchPayload): Promise<void> {
    const events: SourceEvent[] = [];
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) return;
      try {
        const decoded = (message.value && decoder.decodeCached(message.value)) || (await decoder.decode(message.value));
        const type = typeByRecord.get(decoded.recordName);
        if (!type) continue;
        const data = decoded.data as Record<string, unknown>;
        const header = (k: string) => (message.headers?.[k] === undefined ? undefined : String(message.headers[k]));
        events.push({
          type,
          data,
          exercise: header(EXERCISE_HEADER) === 'true',
          ref: { eventId: String(data.eventId), type, source: header('ce_source') ?? catalog.ownerOf(type), topic: batch.topic, partition: batch.partition, offset: message.offset },
        });
      } catch (err) {
        // The projector dead-letters poison; the alert service only skips it.
        if (!(err instanceof DecodeError)) throw err;
        log?.warn({ topic: batch.topic, partition: batch.partition, offset: message.offset, code: err.code, reason: err.reason }, 'undecodable message skipped');
      }
    }
    await processBatch(events);
    const last = batch.messages[batch.messages.length - 1];
    if (last) resolveOffset(last.offset);
    await commitOffsetsIfNecessary();
    await heartbeat();
  }

  async function escalate(): Promise<number> {
    await connect();
    const due = await store!.dueEscalations(escalateAfterMs, 100);
    let n = 0;
    for (const original of due) {
      const raised = engine.escalation(original, escalateAfterMs);
      const unpublished = await store!.insert([{ ...raised, sourceInstitution: original.sourceEvents[0]?.source ?? 'ST-CNS' }], { escalationOf: original.identifier });
      if (unpublished.length > 0) void flushOutbox();
      if (unpublished.length) log?.warn({ identifier: raised.alert.identifier, original: original.identifier }, 'unacknowledged Extreme alert escalated');
      n += unpublished.length;
    }
    return n;
  }

  return {
    engine,
    topics,
    processEvents,
    escalate,
    async start() {
      await connect();
      consumer = kafka.consumer({ groupId, retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 }, maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: options.fromBeginning ?? false });
      await consumer.run({
        autoCommit: true,
        autoCommitInterval: 1_000,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 6,
        eachBatch,
      });
      const tick = () => {
        escalationTimer = setTimeout(() => {
          escalate()
            .catch((err: Error) => log?.warn({ err: err.message }, 'escalation check failed'))
            .finally(() => {
              if (escalationTimer) tick();
            });
        }, escalationCheckMs);
      };
      tick();
      const outboxTick = () => {
        outboxTimer = setTimeout(() => void flushOutbox().finally(() => outboxTimer && outboxTick()), 1_000);
      };
      outboxTick();
      void flushOutbox();
      log?.info({ topics, schema, storeSchema }, 'alert service started');
    },
    async stop() {
      const timer = escalationTimer;
      escalationTimer = undefined;
      clearTimeout(timer);
      const outbox = outboxTimer;
      outboxTimer = undefined;
      clearTimeout(outbox);
      await consumer?.disconnect().catch(() => undefined);
      await flushOutbox();
      await producer?.close().catch(() => undefined);
      await admin?.disconnect().catch(() => undefined);
      await pool?.end().catch(() => undefined);
      log?.info('alert service stopped');
    },
  };
}
