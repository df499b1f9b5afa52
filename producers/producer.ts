/**
 * The producer SDK: how an institution publishes to the bus.
 *
 * Every event is checked against its contract and the data-entry rules,
 * encoded as Avro in the Confluent wire format with CloudEvents binary-mode
 * headers, batched per linger window and sent by an idempotent kafkajs
 * producer with acks=all. `publish` resolves only when Kafka has
 * acknowledged that event; a full buffer makes `publish` wait instead of
 * growing memory.
 */
import type { RecordMetadata } from 'kafkajs';
import { assertValidEvent, compileFieldPath, getContract, type EventDataMap, type EventType, type FieldGetter } from '../contracts/index.ts';
import { loadCatalog, type Catalog } from '../catalog/index.ts';
import { BrokerUnavailableError, BusError, NotOwnerError, createKafka } from '../core/index.ts';
import { compileEncoder, type Encoder } from '../contracts/avro-encoder.ts';
import { createRegistry, encodeFramed, subjectFor } from '../registry/index.ts';
import { resolveProducerOptions, type ProducerOptions } from './options.ts';
import { partitionOfKey } from './partitioner.ts';
import { PRODUCER_RETRY, createInProcessSender, type BatchSender, type OutgoingMessage } from './sender.ts';
import { createWorkerSender } from './worker-sender.ts';
import { isCanonicalUtc } from '../contracts/time.ts';

/** Where an acknowledged event was written. */
export interface PublishResult {
  /** The event id (CloudEvents `ce_id`). */
  id: string;
  topic: string;
  partition: number;
  offset: string;
}

/** Per-event publishing options. */
export interface PublishOptions {
  /** W3C trace context to propagate (`traceparent` header). */
  traceparent?: string;
  /** CloudEvents `ce_subject`; defaults to the entity key. */
  subject?: string;
}

/** One item of `publishBatch`. */
export interface BatchItem<T extends EventType = EventType> {
  type: T;
  data: EventDataMap[T];
  opts?: PublishOptions;
}

/** What `close()` reports: events it flushed and events it could not send. */
export interface CloseReport {
  flushed: number;
  failedIds: string[];
}

export interface Producer {
  /** Validates, encodes and publishes one event; resolves once Kafka acknowledged it. */
  publish<T extends EventType>(type: T, data: EventDataMap[T], opts?: PublishOptions): Promise<PublishResult>;
  /**
   * Validates every item first (nothing is sent when any is invalid: one
   * BUS_ERR_VALIDATION lists each violation under `/<index>/…`), then publishes all.
   */
  publishBatch(items: readonly BatchItem[]): Promise<PublishResult[]>;
  /** Sends everything buffered and waits for its acknowledgement. */
  flush(): Promise<void>;
  /** Flushes, then disconnects; reports what could not be sent. */
  close(): Promise<CloseReport>;
}

interface Route {
  topic: string;
  /** Reads the Kafka key (topics.yaml's key field) of an event. */
  keyOf: FieldGetter;
  contract: ReturnType<typeof getContract>;
  /** The contract's Avro type, compiled for the hot path (same bytes). */
  encoder: Encoder;
  schemaId?: number;
  schemaIdPromise: Promise<number>;
  partitions?: number;
  partitionsPromise: Promise<number>;
  /** When the partition count was last read (ms since epoch). */
  partitionsReadAt: number;
  refreshing: boolean;
}

/** How long a topic's partition count is trusted before it is read again. */
const PARTITIONS_MAX_AGE_MS = 5 * 60_000;

interface Pending {
  topic: string;
  message: OutgoingMessage;
  id: string;
  resolve: (r: PublishResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Creates a producer for one institution. Throws BUS_ERR_CONFIG at once for
 * bad options; connects lazily on the first publish.
 */
export function createProducer(options: ProducerOptions & { topicPrefix?: string }): Producer {
  const opts = resolveProducerOptions(options);
  const topicPrefix = options.topicPrefix ?? process.env.SNS_TOPIC_PREFIX ?? '';
  const catalog: Catalog = opts.catalog ?? loadCatalog();
  const registry = createRegistry(opts.registryUrl);
  const log = opts.logger?.child({ component: 'producer', institution: opts.institution });
  const clientId = `sns-producer-${opts.institution.toLowerCase()}`;
  const kafka = opts.kafka ?? createKafka({ clientId, brokers: opts.brokers, logger: opts.logger, retry: { ...PRODUCER_RETRY } });
  // The kafkajs producer runs on a worker thread (its request encoding overlaps with
  // validation and encoding here); a caller's own client cannot cross threads, so it
  // is used in-process. The admin (partition counts) stays on this thread either way.
  const sender: BatchSender = opts.kafka
    ? createInProcessSender(opts.kafka)
    : createWorkerSender({ clientId, brokers: opts.brokers, logger: opts.logger, kafka });

  const routes = new Map<string, Route>();
  const validateOptions = { maxFutureSkewMs: opts.maxFutureSkewMs } as const;
  let queue: Pending[] = [];
  let inFlight = 0; // accepted and not yet settled
  // FIFO of publishes waiting for a buffer slot; a head index instead of Array#shift,
  // which is O(n) on long arrays and would make a large backlog quadratic.
  let slotWaiters: Array<() => void> = [];
  let slotHead = 0;
  let flushWaiters: Array<() => void> = [];
  let sending = false;
  let lingerTimer: NodeJS.Timeout | undefined;
  let closed = false;
  const failedIds: string[] = [];
  let closing = false;
  let flushedCount = 0;

  let admin: ReturnType<typeof kafka.admin> | undefined;
  async function partitionCount(topic: string): Promise<number> {
    admin ??= kafka.admin();
    let n = 0;
    try {
      await admin.connect();
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      n = md.topics[0]?.partitions.length ?? 0;
    } catch (err) {
      const type = (err as { type?: string }).type;
      if (type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw new BrokerUnavailableError(`could not read the metadata of ${topic}`, err);
    }
    if (n < 1) throw new BusError('BUS_ERR_TOPIC_UNDECLARED', `topic ${topic} does not exist in Kafka; run \`npm run topics:apply\``);
    return n;
  }

  function route(type: string): Route {
    const r = routes.get(type);
    if (r) return r;
    if (!catalog.isDeclaredEventType(type)) {
      throw new BusError('BUS_ERR_UNKNOWN_EVENT_TYPE', `unknown event type "${type}"; known: ${catalog.eventTypes.join(', ')}`);
    }
    const spec = catalog.topicOf(type);
    if (spec.owner !== opts.institution) throw new NotOwnerError(opts.institution, type, spec.owner);
    const contract = getContract(type as EventType);
    const topic = topicPrefix + spec.name;
    const subject = subjectFor(topic, contract.subjectRecordName);
    const created: Route = {
      topic,
      keyOf: compileFieldPath(catalog.keyFieldOf(type)),
      contract,
      encoder: encoderOf(contract.avroType),
      schemaIdPromise: registry.resolveId(subject, contract.schema, { register: opts.autoRegister }),
      partitionsPromise: partitionCount(topic),
      partitionsReadAt: Date.now(),
      refreshing: false,
    };
    created.schemaIdPromise.then((id) => (created.schemaId = id)).catch(() => routes.delete(type));
    created.partitionsPromise.then((n) => (created.partitions = n)).catch(() => routes.delete(type));
    routes.set(type, created);
    sender.prepare?.();
    return created;
  }

  /** Builds the Kafka message of a valid event; synchronous once the route is warm. */
  function buildMessage(type: string, r: Route, schemaId: number, partitions: number, data: Record<string, unknown>, po: PublishOptions | undefined): Pending['message'] {
    const id = data.eventId as string;
    const key = String(r.keyOf(data));
    const value = encodeFramed(schemaId, r.encoder, data);
    const headers: Record<string, string> = {
      ce_specversion: '1.0',
      ce_id: id,
      ce_source: opts.institution,
      ce_type: type,
      ce_time: utcIso(data.occurredAt as string),
      ce_subject: po?.subject ?? key,
      'content-type': 'application/avro',
    };
    if (po?.traceparent) headers.traceparent = po.traceparent;
    const partition = partitionOfKey(key, partitions);
    return { key, value, headers, partition };
  }

  /** Takes a buffer slot; returns a promise only when the buffer is full (the fast path stays synchronous). */
  function acquireSlot(): Promise<void> | undefined {
    if (inFlight < opts.bufferMaxEvents && slotHead === slotWaiters.length) {
      inFlight++;
      return undefined;
    }
    return new Promise<void>((res) => slotWaiters.push(res));
  }

  function releaseSlot(): void {
    if (slotHead < slotWaiters.length) {
      const next = slotWaiters[slotHead]!;
      slotWaiters[slotHead++] = undefined as never;
      if (slotHead === slotWaiters.length) {
        slotWaiters = [];
        slotHead = 0;
      }
      next(); // the slot passes on directly
    } else inFlight--;
  }

  function enqueue(p: Pending): void {
    queue.push(p);
    if (queue.length >= opts.batchMaxEvents) void drain();
    else if (!lingerTimer && !sending) lingerTimer = setTimeout(() => void drain(), opts.lingerMs);
  }

  async function drain(): Promise<void> {
    if (lingerTimer) {
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
    }
    if (sending) return;
    sending = true;
    try {
      while (queue.length > 0) {
        const batch = queue.length <= opts.batchMaxEvents ? queue : queue.slice(0, opts.batchMaxEvents);
        queue = queue.length <= opts.batchMaxEvents ? [] : queue.slice(opts.batchMaxEvents);
        await send(batch);
        // Let the publishes that were waiting for the slots this batch freed enqueue
        // before deciding whether there is more to send.
        if (slotHead < slotWaiters.length || queue.length < opts.batchMaxEvents) await new Promise((r) => setImmediate(r));
      }
    } finally {
      sending = false;
      const waiters = flushWaiters;
      flushWaiters = [];
      for (const w of waiters) w();
    }
  }

  async function send(batch: Pending[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      // The budget covers connecting too: a broker that is away must not hold a publish past it.
      const metadata = await Promise.race([
        sender.send(batch),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no acknowledgement within ${opts.deliveryTimeoutMs} ms`)), opts.deliveryTimeoutMs);
        }),
      ]);
      settleAcknowledged(batch, metadata);
    } catch (err) {
      const error = new BrokerUnavailableError(
        `Kafka did not acknowledge ${batch.length} event(s) within the retry budget: ${err instanceof Error ? err.message : String(err)}`,
        err,
      );
      log?.warn({ err: error.message, events: batch.length }, 'batch not acknowledged');
      for (const p of batch) {
        if (closing) failedIds.push(p.id);
        p.reject(error);
        releaseSlot();
      }
      // After a failed send the idempotent sequence state is unknown: start a new producer id.
      sender.reset();
    } finally {
      clearTimeout(timer);
    }
  }

  function settleAcknowledged(batch: Pending[], metadata: RecordMetadata[]): void {
    // Next offset per topic and partition; a number while it is exact (always, in practice), a bigint beyond 2^53.
    const next = new Map<string, (number | bigint | undefined)[]>();
    for (const m of metadata) {
      let parts = next.get(m.topicName);
      if (!parts) next.set(m.topicName, (parts = []));
      const base = BigInt(m.baseOffset ?? '0');
      parts[m.partition] = base + BigInt(batch.length) < BigInt(Number.MAX_SAFE_INTEGER) ? Number(base) : base;
    }
    for (const p of batch) {
      const parts = next.get(p.topic);
      const partition = p.message.partition;
      const offset = parts?.[partition];
      if (offset === undefined) {
        p.reject(new BrokerUnavailableError(`Kafka returned no offset for ${p.topic}/${partition}`));
      } else {
        parts![partition] = typeof offset === 'number' ? offset + 1 : offset + 1n;
        p.resolve({ id: p.id, topic: p.topic, partition, offset: String(offset) });
        if (closing) flushedCount++;
      }
      releaseSlot();
    }
  }

  /** Publishes still waiting for their route or a buffer slot; close() waits for them. */
  const preparing = new Set<Promise<void>>();

  /**
   * Not an async function: once the route is warm and a buffer slot is free
   * the whole publish is synchronous and returns the one promise that settles
   * on Kafka's acknowledgement (no wrapper promise per event). Throws are
   * returned as rejections, as before.
   */
  function publish(type: string, data: Record<string, unknown>, po?: PublishOptions): Promise<PublishResult> {
    try {
      if (closed) throw new BusError('BUS_ERR_PRODUCER_CLOSED', 'publish called after close()');
      const r = route(type);
      data = assertValidEvent(type as EventType, data, validateOptions) as unknown as Record<string, unknown>;
      if (r.schemaId === undefined || r.partitions === undefined) {
        return publishWhenReady(type, r, data, po, Promise.all([r.schemaIdPromise, r.partitionsPromise]).then(() => acquireSlot()));
      }
      const slot = acquireSlot();
      if (slot) return publishWhenReady(type, r, data, po, slot);
      return sendValidated(type, r, data, po);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The slow path: waits for the route or a buffer slot (close() waits for it too), then sends. */
  async function publishWhenReady(type: string, r: Route, data: Record<string, unknown>, po: PublishOptions | undefined, ready: Promise<void>): Promise<PublishResult> {
    preparing.add(ready);
    try {
      await ready;
    } finally {
      preparing.delete(ready);
    }
    return sendValidated(type, r, data, po);
  }

  /** Builds and enqueues a validated event that holds a buffer slot. */
  function sendValidated(type: string, r: Route, data: Record<string, unknown>, po: PublishOptions | undefined): Promise<PublishResult> {
    refreshPartitionsIfStale(r);
    let message: ReturnType<typeof buildMessage>;
    try {
      message = buildMessage(type, r, r.schemaId!, r.partitions!, data, po);
    } catch (err) {
      releaseSlot();
      throw err;
    }
    return new Promise<PublishResult>((resolve, reject) => {
      enqueue({ topic: r.topic, message, id: data.eventId as string, resolve, reject });
    });
  }

  /** Partitions can be raised (`topics:apply`): re-read the count now and then, like Java's metadata.max.age.ms. */
  function refreshPartitionsIfStale(r: Route): void {
    const now = Date.now();
    if (now - r.partitionsReadAt < PARTITIONS_MAX_AGE_MS || r.refreshing) return;
    r.refreshing = true;
    r.partitionsReadAt = now;
    partitionCount(r.topic)
      .then((n) => (r.partitions = n))
      .catch((err: unknown) => log?.warn({ topic: r.topic, err: err instanceof Error ? err.message : String(err) }, 'partition count refresh failed'))
      .finally(() => (r.refreshing = false));
  }

  async function flush(): Promise<void> {
    while (queue.length > 0 || sending) {
      const done = new Promise<void>((res) => flushWaiters.push(res));
      void drain();
      await done;
    }
  }

  async function publishBatch(items: readonly BatchItem[]): Promise<PublishResult[]> {
    const violations = [];
    const routesUsed = new Set<Route>();
    for (const [i, item] of items.entries()) {
      try {
        routesUsed.add(route(item.type));
        assertValidEvent(item.type, item.data as never, validateOptions);
      } catch (err) {
        if (err instanceof BusError && err.violations.length) {
          violations.push(...err.violations.map((v) => ({ ...v, path: `/${i}${v.path}` })));
        } else if (err instanceof BusError) {
          violations.push({ path: `/${i}`, message: err.message, rule: err.code });
        } else throw err;
      }
    }
    if (violations.length) {
      throw new BusError('BUS_ERR_VALIDATION', `publishBatch: ${violations.length} violation(s), nothing was published: ${violations.map((v) => `${v.path}: ${v.message}`).join('; ')}`, { violations });
    }
    // Every topic and schema must be ready before the first item goes out: a missing
    // one fails the whole batch here, not half of it later.
    await Promise.all([...routesUsed].map((r) => Promise.all([r.schemaIdPromise, r.partitionsPromise])));
    return Promise.all(items.map((it) => publish(it.type, it.data as unknown as Record<string, unknown>, it.opts)));
  }

  async function close(): Promise<CloseReport> {
    if (closed) return { flushed: 0, failedIds: [] };
    closing = true;
    closed = true;
    // Publishes accepted before close() still waiting for their route or a slot are sent too.
    while (preparing.size > 0) await Promise.allSettled([...preparing]);
    await flush();
    await sender.close();
    await admin?.disconnect().catch(() => undefined);
    return { flushed: flushedCount, failedIds: [...failedIds] };
  }

  // Plain functions, not methods: the API is safe to destructure.
  return { publish: publish as Producer['publish'], publishBatch, flush, close };
}

/** The UTC ISO-8601 form of a validated timestamp (CloudEvents `ce_time`). */
function utcIso(timestamp: string): string {
  return typeof timestamp === 'string' && isCanonicalUtc(timestamp) ? timestamp : new Date(timestamp).toISOString();
}

const encoders = new WeakMap<object, Encoder>();
/** One compiled encoder per Avro type, shared by every producer of the process. */
function encoderOf(type: ReturnType<typeof getContract>['avroType']): Encoder {
  let e = encoders.get(type);
  if (!e) encoders.set(type, (e = compileEncoder(type)));
  return e;
}
