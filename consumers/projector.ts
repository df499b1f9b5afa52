/**
 * The projector: consumes the institutions' topics and keeps the central
 * store exactly-once in effect.
 *
 * - Each chunk of a kafkajs batch is written with its partition's offset in
 *   ONE PostgreSQL transaction; PostgreSQL's offsets are the truth, Kafka's are
 *   committed afterwards only so that lag tools see progress.
 * - On assignment the member claims each partition in PostgreSQL (bumping its
 *   fence, so a stale member can no longer commit there) and seeks to the
 *   stored offset; messages below it are skipped.
 * - Undecodable or invalid messages go to the dead-letter topic with their
 *   coordinates and the error in headers, and the partition moves on.
 * - When PostgreSQL is away, the batch waits and retries with backoff while
 *   heartbeating: offsets never advance and nothing is dead-lettered for it.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Batch, Consumer, EachBatchPayload, IHeaders, Kafka, Message, Producer } from 'kafkajs';
import pg from 'pg';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { loadCatalog, type Catalog } from '../catalog/index.ts';
import { getContract, LOGICAL_TYPES, validateEvent } from '../contracts/index.ts';
import { BusError, ConfigError, createKafka, readEndpoints, type Logger, type Violation } from '../core/index.ts';
import { DEFAULT_STORE_SCHEMA, assertSchemaName, migrate } from '../migrations/index.ts';
import { createDecoder, createRegistry, DecodeError } from '../registry/index.ts';
import { PROJECTED_EVENT_TYPES, type ProjectedEventType, type StoredEvent } from './projection.ts';
import {
  FencedError,
  claimPartition,
  isTransientStoreError,
  writeBatch,
  type DeadLetterRow,
  type WriteObserver,
} from './store.ts';

/** The dead-letter topic of the catalog (prefixable). */
export const DEAD_LETTER_TOPIC = 'sns.st.dead-letter.v1';

/** Headers the projector puts on a dead letter, beside the original message's own headers. */
export const DEAD_LETTER_HEADERS = {
  topic: 'dlq_original_topic',
  partition: 'dlq_original_partition',
  offset: 'dlq_original_offset',
  code: 'dlq_error_code',
  reason: 'dlq_error_reason',
  message: 'dlq_error_message',
  group: 'dlq_consumer_group',
  /** Set when the letter could not carry the original value (larger than the dead-letter topic takes): its size in bytes. */
  valueOmitted: 'dlq_value_omitted_bytes',
} as const;

/** True when Kafka refused a produce request as larger than the topic's maximum message size. */
function isTooLarge(err: unknown): boolean {
  const e = err as { type?: unknown; cause?: { type?: unknown } } | undefined;
  return e?.type === 'MESSAGE_TOO_LARGE' || e?.cause?.type === 'MESSAGE_TOO_LARGE';
}

/**
 * Bytes of dead letters per produce request, well under the broker's default maximum message size
 * (1 MiB per record batch), with room for the headers added to each letter.
 */
const DEAD_LETTER_REQUEST_BYTES = 256 * 1024;

/** A dead letter's size, roughly: its key, value and headers plus the headers added to it. */
function letterBytes(message: Batch['messages'][number]): number {
  let n = 512 + (message.key?.length ?? 0) + (message.value?.length ?? 0);
  for (const [k, v] of Object.entries(message.headers ?? {})) n += k.length + (Array.isArray(v) ? v.reduce((a, x) => a + (x?.length ?? 0), 0) : (v?.length ?? 0));
  return n;
}

/** Projector defaults, with units in the names. */
export const PROJECTOR_DEFAULTS = {
  groupId: 'sns-st-projector',
  /** Partitions in flight at once: PostgreSQL works on one while Node decodes the next (measured best on 2 cores). */
  partitionsConsumedConcurrently: 6,
  maxEventsPerTransaction: 5_000,
  storeRetryInitialMs: 200,
  storeRetryMaxMs: 5_000,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3_000,
  /**
   * Per partition per fetch. With a fetch of up to 8 of these (maxBytes), one
   * fetch spans several partitions in a few thousand events each, so the
   * concurrent slots stay busy and no one partition's batch runs alone at the
   * end of a fetch. Measured on the 200,000-event backlog, one bench run of
   * 3 rounds each, back to back on 2 cores: 1 MiB / 8 MiB 27.0k–28.0k
   * events/s and 290 MiB peak RSS, against 24.1k–26.6k and 312 MiB for
   * 2 MiB / 8 MiB, and 24.2k–28.3k and 371 MiB for 2 MiB / 16 MiB. (The
   * machine's speed drifts: later runs of 1 MiB / 8 MiB ranged 18.9k–28.9k.)
   */
  maxBytesPerPartition: 1024 * 1024,
} as const;

export interface ProjectorOptions {
  /** PostgreSQL connection string; defaults to DATABASE_URL. */
  databaseUrl?: string;
  /** Schema of the store (all tables, offsets included); default `store`. A replay projects into a fresh one. */
  schema?: string;
  /** Consumer group; default `sns-st-projector`. A replay must use its own. */
  groupId?: string;
  /** Prefix of every topic name (tests). Default SNS_TOPIC_PREFIX or none. */
  topicPrefix?: string;
  /** Catalog topic names to project (without prefix); default every topic carrying a projected event type. */
  topics?: readonly string[];
  /** Registry URL; defaults to REGISTRY_URL. */
  registryUrl?: string;
  /** A kafkajs client to use instead of one from the environment. */
  kafka?: Kafka;
  catalog?: Catalog;
  logger?: Logger;
  /** Run the migrations of `schema` at start (default true). */
  migrate?: boolean;
  partitionsConsumedConcurrently?: number;
  maxEventsPerTransaction?: number;
  storeRetryInitialMs?: number;
  storeRetryMaxMs?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  maxBytesPerPartition?: number;
  /** Metrics registry to register in; a fresh one by default. */
  metricsRegistry?: Registry;
  /** Fault injection for tests: called after each DB commit, before the Kafka commit. */
  afterDbCommit?: () => void;
  /**
   * Called when the consumer has crashed and kafkajs will not restart it (the projector then consumes
   * nothing more); `npm run projector` exits, so the failure shows instead of a process that serves
   * metrics with its lag frozen.
   */
  onFatal?: (err: Error) => void;
}

/** Lag of one partition from the store's point of view. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** Next offset stored in PostgreSQL (null: never committed). */
  storedOffset: string | null;
  highWatermark: string;
  lag: number;
}

export interface Projector {
  /** Migrates (unless disabled), connects and starts consuming; resolves once running. */
  start(): Promise<void>;
  /** Stops consuming and closes every connection; in-flight transactions finish or roll back. */
  stop(): Promise<void>;
  /** Lag per partition: high watermark minus the offset stored in PostgreSQL. */
  lag(): Promise<PartitionLag[]>;
  /** Prometheus metrics of this projector. */
  readonly metrics: Registry;
  /** The topics consumed (with prefix). */
  readonly topics: readonly string[];
}

interface Claim {
  fence: string;
  /** Messages below it are already in the store. */
  nextOffset: bigint | null;
}

function resolveOptions(options: ProjectorOptions) {
  const violations: Violation[] = [];
  const schema = options.schema ?? process.env.STORE_SCHEMA ?? DEFAULT_STORE_SCHEMA;
  try {
    assertSchemaName(schema);
  } catch {
    violations.push({ path: '/options/schema', message: 'must be a lower-case PostgreSQL identifier' });
  }
  const ints = ['partitionsConsumedConcurrently', 'maxEventsPerTransaction', 'storeRetryInitialMs', 'storeRetryMaxMs', 'sessionTimeoutMs', 'heartbeatIntervalMs', 'maxBytesPerPartition'] as const;
  for (const k of ints) {
    const v = options[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) violations.push({ path: `/options/${k}`, message: 'must be an integer ≥ 1' });
  }
  if (violations.length) {
    throw new ConfigError(`createProjector: ${violations.map((v) => `${v.path} ${v.message}`).join('; ')}`, violations);
  }
  return {
    schema,
    groupId: options.groupId ?? PROJECTOR_DEFAULTS.groupId,
    topicPrefix: options.topicPrefix ?? process.env.SNS_TOPIC_PREFIX ?? '',
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? PROJECTOR_DEFAULTS.partitionsConsumedConcurrently,
    maxEventsPerTransaction: options.maxEventsPerTransaction ?? PROJECTOR_DEFAULTS.maxEventsPerTransaction,
    storeRetryInitialMs: options.storeRetryInitialMs ?? PROJECTOR_DEFAULTS.storeRetryInitialMs,
    storeRetryMaxMs: options.storeRetryMaxMs ?? PROJECTOR_DEFAULTS.storeRetryMaxMs,
    sessionTimeoutMs: options.sessionTimeoutMs ?? PROJECTOR_DEFAULTS.sessionTimeoutMs,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? PROJECTOR_DEFAULTS.heartbeatIntervalMs,
    maxBytesPerPartition: options.maxBytesPerPartition ?? PROJECTOR_DEFAULTS.maxBytesPerPartition,
  };
}

/**
 * Creates a projector. Throws BUS_ERR_CONFIG at once for bad options; connects on `start()`.
 */
export function createProjector(options: ProjectorOptions = {}): Projector {
  const opts = resolveOptions(options);
  const endpoints = readEndpoints();
  const databaseUrl = options.databaseUrl ?? endpoints.databaseUrl;
  const catalog = options.catalog ?? loadCatalog();
  const log = options.logger?.child({ component: 'projector', group: opts.groupId, schema: opts.schema });
  const catalogTopics = options.topics ?? catalog.topics.filter((t) => t.eventTypes.some((e) => (PROJECTED_EVENT_TYPES as readonly string[]).includes(e))).map((t) => t.name);
  const topics = catalogTopics.map((t) => opts.topicPrefix + t);
  const deadLetterTopic = opts.topicPrefix + DEAD_LETTER_TOPIC;

  const typeByRecord = new Map<string, ProjectedEventType>();
  const readerTypes = new Map<string, ReturnType<typeof getContract>['avroType']>();
  for (const type of PROJECTED_EVENT_TYPES) {
    const c = getContract(type);
    typeByRecord.set(c.subjectRecordName, type);
    readerTypes.set(c.subjectRecordName, c.avroType);
  }
  const decoder = createDecoder({
    registry: createRegistry(options.registryUrl ?? endpoints.registryUrl),
    readerTypes,
    logicalTypes: LOGICAL_TYPES as never,
  });

  const metrics = options.metricsRegistry ?? new Registry();
  const m = {
    lag: new Gauge({ name: 'sns_projector_lag', help: 'Messages between the stored offset and the high watermark', labelNames: ['topic', 'partition'], registers: [metrics] }),
    batchSize: new Histogram({ name: 'sns_projector_batch_size', help: 'Messages per transaction', buckets: [1, 10, 100, 500, 1000, 2000, 5000, 10000], registers: [metrics] }),
    events: new Counter({ name: 'sns_projector_events_total', help: 'Events newly projected', labelNames: ['topic'], registers: [metrics] }),
    rows: new Counter({ name: 'sns_projector_rows_total', help: 'Rows written to state and history tables', registers: [metrics] }),
    rowsPerS: new Gauge({ name: 'sns_projector_rows_per_second', help: 'Rows per second of the last transaction', registers: [metrics] }),
    deadLetters: new Counter({ name: 'sns_projector_dead_letters_total', help: 'Messages sent to the dead-letter topic', labelNames: ['code', 'reason'], registers: [metrics] }),
    storeRetries: new Counter({ name: 'sns_projector_store_retries_total', help: 'Transactions retried because PostgreSQL was unavailable', registers: [metrics] }),
    stateWrites: new Counter({ name: 'sns_projector_state_writes_total', help: 'State-table row batches by write path: direct COPY (all entities new) or staging + upsert (counted in the transaction, before its commit)', labelNames: ['table', 'path'], registers: [metrics] }),
    fenced: new Counter({ name: 'sns_projector_fenced_total', help: 'Transactions refused because a newer member owns the partition', registers: [metrics] }),
    valueOmitted: new Counter({ name: 'sns_projector_dead_letters_value_omitted_total', help: 'Dead letters sent without the original value (larger than the dead-letter topic takes)', registers: [metrics] }),
  };

  const observer: WriteObserver = { stateWrite: (table, path) => m.stateWrites.inc({ table, path }) };

  const kafka = options.kafka ?? createKafka({ clientId: `sns-projector-${opts.groupId}`, logger: options.logger });
  let pool: pg.Pool | undefined;
  let consumer: Consumer | undefined;
  let producer: Producer | undefined;
  let admin: Admin | undefined;
  const memberId = randomUUID();
  const claims = new Map<string, Promise<Claim>>();
  /**
   * Dead letters sent for chunks not yet committed, so a store retry (or the isolation of a
   * refused chunk) does not send them twice; a chunk's keys go once its transaction commits.
   */
  const sentDeadLetters = new Set<string>();
  let stopping = false;

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const backoffMs = (attempt: number) =>
    Math.min(opts.storeRetryMaxMs, opts.storeRetryInitialMs * 2 ** Math.min(attempt, 10)) * (0.8 + Math.random() * 0.4);

  /** Waits `ms` while keeping the group session alive. */
  async function waitBeating(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until && !stopping) {
      await sleep(Math.min(1_000, until - Date.now()));
      await heartbeat();
    }
  }

  /**
   * The partition's claim, heartbeating every second while it is not there:
   * a store outage can hold a claim longer than the session timeout, and
   * without heartbeats the group would evict this member and rebalance again.
   */
  async function claimBeating(topic: string, partition: number, heartbeat: () => Promise<void>): Promise<Claim> {
    const p = claim(topic, partition);
    let settled = false;
    p.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled && !stopping) {
      await Promise.race([p.catch(() => undefined), sleep(1_000)]);
      if (!settled) await heartbeat();
    }
    return p;
  }

  function claim(topic: string, partition: number): Promise<Claim> {
    const key = `${topic}:${partition}`;
    let p = claims.get(key);
    if (!p) {
      p = (async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            const c = await claimPartition(pool!, opts.schema, opts.groupId, topic, partition, memberId);
            // The store is the truth: read from where it stands (from the beginning when it never committed).
            consumer?.seek({ topic, partition, offset: c.nextOffset ?? '-2' });
            log?.debug({ topic, partition, fence: c.fence, nextOffset: c.nextOffset }, 'partition claimed');
            return { fence: c.fence, nextOffset: c.nextOffset === null ? null : BigInt(c.nextOffset) };
          } catch (err) {
            if (stopping || !isTransientStoreError(err)) throw err;
            m.storeRetries.inc();
            await sleep(backoffMs(attempt));
          }
        }
      })();
      claims.set(key, p);
      p.catch(() => claims.delete(key));
    }
    return p;
  }

  async function sendDeadLetters(batch: Batch, letters: { message: Batch['messages'][number]; row: DeadLetterRow }[]): Promise<void> {
    const pending = letters.filter((l) => !sentDeadLetters.has(`${batch.topic}:${batch.partition}:${l.row.offset}`));
    if (pending.length === 0) return;
    const letter = ({ message, row }: (typeof pending)[number], omitValue = false): Message => ({
      key: message.key,
      value: omitValue ? null : message.value,
      headers: {
        ...(message.headers as IHeaders),
        [DEAD_LETTER_HEADERS.topic]: batch.topic,
        [DEAD_LETTER_HEADERS.partition]: String(batch.partition),
        [DEAD_LETTER_HEADERS.offset]: row.offset,
        [DEAD_LETTER_HEADERS.code]: row.errorCode,
        [DEAD_LETTER_HEADERS.reason]: row.reason,
        [DEAD_LETTER_HEADERS.message]: row.message,
        [DEAD_LETTER_HEADERS.group]: opts.groupId,
        ...(omitValue ? { [DEAD_LETTER_HEADERS.valueOmitted]: String(message.value?.length ?? 0) } : {}),
      },
    });
    // One request per DEAD_LETTER_REQUEST_BYTES at most: a chunk's letters in one request (thousands of
    // poison messages with one key land in one record batch) passed the broker's maximum message size.
    let group: typeof pending = [];
    let bytes = 0;
    const produce = (messages: Message[]) => producer!.send({ topic: deadLetterTopic, acks: -1, messages });
    const send = async () => {
      try {
        await produce(group.map((l) => letter(l)));
      } catch (err) {
        if (!isTooLarge(err)) throw err;
        // A request refused on some partitions may have been written on others: the letters go again one by one
        // (a letter can then be in the topic twice; a test checks that every one arrives, and later ones too).
        // A letter larger than the dead-letter topic takes (the original topic allows bigger messages, or the added
        // headers tipped it over) goes without its value: it still names the original's position, which keeps the value.
        for (const l of group) {
          const alone = group.length > 1 ? produce([letter(l)]) : Promise.reject(err);
          await alone.catch(async (e: unknown) => {
            if (!isTooLarge(e)) throw e;
            log?.warn({ topic: batch.topic, partition: batch.partition, offset: l.row.offset, bytes: l.message.value?.length ?? 0 }, 'dead letter too large for the dead-letter topic; sent without its value');
            await produce([letter(l, true)]);
            m.valueOmitted.inc();
          });
        }
      }
      for (const l of group) {
        sentDeadLetters.add(`${batch.topic}:${batch.partition}:${l.row.offset}`);
        m.deadLetters.inc({ code: l.row.errorCode, reason: l.row.reason });
        log?.warn({ topic: batch.topic, partition: batch.partition, offset: l.row.offset, code: l.row.errorCode, reason: l.row.reason, err: l.row.message }, 'message dead-lettered');
      }
      group = [];
      bytes = 0;
    };
    for (const l of pending) {
      const size = letterBytes(l.message);
      if (group.length > 0 && bytes + size > DEAD_LETTER_REQUEST_BYTES) await send();
      group.push(l);
      bytes += size;
    }
    await send();
  }

  /** Decodes and validates a chunk; poison becomes dead letters, a registry outage throws (retried). */
  async function decodeChunk(batch: Batch, messages: Batch['messages'], refused: ReadonlyMap<string, string>) {
    const events: StoredEvent[] = [];
    const letters: { message: Batch['messages'][number]; row: DeadLetterRow }[] = [];
    const dead = (message: Batch['messages'][number], errorCode: string, reason: string, text: string) =>
      letters.push({ message, row: { topic: batch.topic, partition: batch.partition, offset: message.offset, errorCode, reason, message: text } });
    // The producer checked the clock; here only the rules matter, so the future check uses the event's own time.
    const rules = { nowMs: Date.now(), maxFutureSkewMs: 366 * 86_400_000 };
    for (const message of messages) {
      const refusal = refused.get(message.offset);
      if (refusal !== undefined) {
        dead(message, 'BUS_ERR_VALIDATION', 'store-rejected', refusal);
        continue;
      }
      let decoded;
      try {
        decoded = (message.value && decoder.decodeCached(message.value)) || (await decoder.decode(message.value));
      } catch (err) {
        if (err instanceof DecodeError) {
          dead(message, err.code, err.reason, err.message);
          continue;
        }
        throw err;
      }
      const type = typeByRecord.get(decoded.recordName)!;
      const data = decoded.data as StoredEvent['data'] & { eventId: string; occurredAt: string };
      const violations = validateEvent(type, data, rules);
      if (violations.length > 0) {
        dead(message, 'BUS_ERR_VALIDATION', 'rule', `${type}: ${violations.length} violation(s): ${violations.map((v) => `${v.path}: ${v.rule ?? v.message}`).join('; ')}`);
        continue;
      }
      const source = message.headers?.ce_source;
      events.push({
        envelope: {
          eventId: data.eventId,
          eventType: type,
          source: source === undefined ? catalog.ownerOf(type) : String(source),
          occurredAt: data.occurredAt,
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          schemaId: decoded.schemaId,
          entityKey: message.key?.toString() ?? '',
        },
        data,
      });
    }
    return { events, letters };
  }

  /**
   * Projects one chunk in one transaction, retrying while the store is away.
   * Returns false when the chunk was not committed (stopping, stale, fenced).
   */
  async function projectChunk(payload: EachBatchPayload, messages: Batch['messages'], c: Claim, refused: ReadonlyMap<string, string>): Promise<boolean> {
    const { batch, heartbeat, isRunning, isStale } = payload;
    const next = (BigInt(messages[messages.length - 1]!.offset) + 1n).toString();
    for (let attempt = 0; ; attempt++) {
      if (!isRunning() || isStale() || stopping) return false;
      try {
        const started = Date.now();
        const { events, letters } = await decodeChunk(batch, messages, refused);
        await sendDeadLetters(batch, letters);
        const client = await pool!.connect();
        let result;
        try {
          result = await writeBatch(client, opts.schema, events, letters.map((l) => l.row), {
            groupId: opts.groupId, topic: batch.topic, partition: batch.partition, nextOffset: next, fence: c.fence,
          }, observer);
        } catch (err) {
          client.release(isTransientStoreError(err) ? (err as Error) : undefined);
          throw err;
        }
        client.release();
        c.nextOffset = BigInt(next);
        // Committed: the store now holds these dead letters and the offsets are past them.
        for (const l of letters) sentDeadLetters.delete(`${batch.topic}:${batch.partition}:${l.row.offset}`);
        options.afterDbCommit?.();
        if (attempt > 0) log?.info({ topic: batch.topic, partition: batch.partition, attempts: attempt + 1 }, 'store is back; resumed');
        const seconds = Math.max(1, Date.now() - started) / 1000;
        m.batchSize.observe(messages.length);
        m.events.inc({ topic: batch.topic }, result.newEvents);
        m.rows.inc(result.rows);
        m.rowsPerS.set(result.rows / seconds);
        m.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(next))));
        return true;
      } catch (err) {
        if (err instanceof FencedError) {
          m.fenced.inc();
          log?.warn({ topic: batch.topic, partition: batch.partition }, err.message);
          claims.delete(`${batch.topic}:${batch.partition}`);
          return false;
        }
        const transient = isTransientStoreError(err) || (err instanceof BusError && err.retriable);
        if (!transient) throw err;
        m.storeRetries.inc();
        const wait = backoffMs(attempt);
        log?.warn(
          { topic: batch.topic, partition: batch.partition, attempt: attempt + 1, retryInMs: Math.round(wait), code: err instanceof BusError ? err.code : 'BUS_ERR_STORE_UNAVAILABLE', err: (err as Error).message },
          'store or registry unavailable; partition paused, offsets unchanged',
        );
        await waitBeating(wait, heartbeat);
      }
    }
  }

  /**
   * Projects a chunk; when PostgreSQL refuses its data (SQLSTATE class 22 or
   * 23, not an outage), finds the refused messages one by one and
   * dead-letters them, so one bad row never stalls the partition.
   */
  async function projectIsolating(payload: EachBatchPayload, messages: Batch['messages'], c: Claim, refused = new Map<string, string>()): Promise<boolean> {
    try {
      return await projectChunk(payload, messages, c, refused);
    } catch (err) {
      const sqlState = (err as { code?: unknown }).code;
      if (typeof sqlState !== 'string' || !/^(22|23)/.test(sqlState)) throw err;
      if (messages.length === 1) {
        refused.set(messages[0]!.offset, `PostgreSQL refused the projected row (SQLSTATE ${sqlState})`);
        return projectChunk(payload, messages, c, refused);
      }
      log?.warn({ topic: payload.batch.topic, partition: payload.batch.partition, sqlState }, 'store refused a chunk; isolating the refused messages');
      for (const message of messages) if (!(await projectIsolating(payload, [message], c, refused))) return false;
      return true;
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const c = await claimBeating(batch.topic, batch.partition, heartbeat);
    let messages = batch.messages;
    if (c.nextOffset !== null) {
      const from = c.nextOffset;
      messages = messages.filter((msg) => BigInt(msg.offset) >= from);
    }
    for (let i = 0; i < messages.length; i += opts.maxEventsPerTransaction) {
      if (!isRunning() || isStale()) return;
      const chunk = messages.slice(i, i + opts.maxEventsPerTransaction);
      if (!(await projectIsolating(payload, chunk, c))) return;
      const last = chunk[chunk.length - 1]!.offset;
      resolveOffset(last);
      // Lag visibility only: the store's offsets are the truth.
      consumer!
        .commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }])
        .catch((err: Error) => log?.debug({ err: err.message }, 'kafka offset commit failed (the store holds the truth)'));
      await heartbeat();
    }
  }

  return {
    metrics,
    topics,
    async start() {
      if (options.migrate ?? true) await migrate({ databaseUrl, schema: opts.schema, logger: options.logger });
      pool = new pg.Pool({ connectionString: databaseUrl, max: opts.partitionsConsumedConcurrently + 2, connectionTimeoutMillis: 5_000 });
      // An idle client whose backend died must not crash the process: the next query retries.
      pool.on('error', (err) => log?.warn({ err: err.message }, 'idle PostgreSQL connection lost'));
      producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      admin = kafka.admin();
      await admin.connect();
      consumer = kafka.consumer({
        groupId: opts.groupId,
        sessionTimeout: opts.sessionTimeoutMs,
        heartbeatInterval: opts.heartbeatIntervalMs,
        maxBytesPerPartition: opts.maxBytesPerPartition,
        maxBytes: opts.maxBytesPerPartition * 8,
        retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 },
      });
      consumer.on(consumer.events.CRASH, (e) => {
        if (e.payload.restart) return;
        log?.error({ err: e.payload.error.message, group: opts.groupId }, 'consumer crashed and will not restart');
        options.onFatal?.(e.payload.error);
      });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        // A new generation: every assigned partition is claimed again, fencing whoever had it.
        claims.clear();
        for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
          for (const partition of partitions) claim(topic, partition).catch((err: Error) => log?.error({ err: err.message, topic, partition }, 'claim failed'));
        }
        log?.info({ assignment: e.payload.memberAssignment }, 'joined group');
      });
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      await consumer.run({ autoCommit: false, partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently, eachBatchAutoResolve: false, eachBatch });
      log?.info({ topics, deadLetterTopic }, 'projector started');
    },
    async stop() {
      stopping = true;
      await consumer?.disconnect().catch(() => undefined);
      await producer?.disconnect().catch(() => undefined);
      await admin?.disconnect().catch(() => undefined);
      await pool?.end().catch(() => undefined);
      log?.info('projector stopped');
    },
    async lag() {
      const ownAdmin = admin ?? kafka.admin();
      if (!admin) await ownAdmin.connect();
      const p = pool ?? new pg.Pool({ connectionString: databaseUrl, max: 1 });
      try {
        return await partitionLag(ownAdmin, p, opts.schema, opts.groupId, topics);
      } finally {
        if (!admin) await ownAdmin.disconnect();
        if (!pool) await p.end();
      }
    },
  };
}

/** Lag per partition of `groupId` over `topics`: high watermark minus the offset stored in `schema`. */
export async function partitionLag(admin: Admin, pool: pg.Pool, schema: string, groupId: string, topics: readonly string[]): Promise<PartitionLag[]> {
  assertSchemaName(schema);
  const r = await pool.query<{ topic: string; partition: number; next_offset: string | null }>(
    `SELECT topic, partition, next_offset FROM "${schema}".consumer_offsets WHERE group_id = $1`,
    [groupId],
  );
  const stored = new Map(r.rows.map((x) => [`${x.topic}:${x.partition}`, x.next_offset === null ? null : String(x.next_offset)]));
  const out: PartitionLag[] = [];
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      const s = stored.get(`${topic}:${p.partition}`) ?? null;
      const base = s === null ? BigInt(p.low) : BigInt(s);
      out.push({ topic, partition: p.partition, storedOffset: s, highWatermark: p.high, lag: Number(BigInt(p.high) - base) });
    }
  }
  return out;
}
