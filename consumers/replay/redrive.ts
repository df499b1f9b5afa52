/**
 * Re-driving the alert rules over a replayed range, for drills and rule
 * testing. Every alert is Exercise (the engine's `forceExercise`); the run
 * refuses to go on if anything else came out.
 *
 * By default nothing reaches a subscriber: alerts are stored in a schema of
 * their own (`alerts_exercise`), which no push server reads, and nothing is
 * published to the alerts topic. With `push: true` they go to the live alerts
 * schema and topic, so SSE and webhook subscribers receive them (as Exercise).
 *
 * Correlations read the store as it is now, not as it was when the events
 * happened. Alert identifiers are deterministic, so a resumed or repeated
 * re-drive raises nothing twice.
 */
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Catalog } from '../../catalog/index.ts';
import { getContract, LOGICAL_TYPES, type AlertIssued, type EventType } from '../../contracts/index.ts';
import { BusError, type Logger } from '../../core/index.ts';
import { createDecoder, createRegistry, DecodeError } from '../../registry/index.ts';
import { createAlertService, EXERCISE_HEADER, type SourceEvent } from '../alerts/index.ts';
import { PROJECTED_EVENT_TYPES } from '../index.ts';
import { loadCheckpoint, removeCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { readPlan, type RangeBatch } from './reader.ts';
import type { ReplayPlan } from './selection.ts';

/** Schema of re-driven alerts unless they are pushed. */
export const EXERCISE_ALERTS_SCHEMA = 'alerts_exercise';

export interface RedriveOptions {
  kafka: Kafka;
  catalog: Catalog;
  plan: ReplayPlan;
  databaseUrl: string;
  registryUrl: string;
  topicPrefix: string;
  /** The store the correlations read (default `store`). */
  storeSchema: string;
  /** Deliver to real subscribers: the live alerts schema and topic (default false). */
  push?: boolean;
  /** The live alerts schema (used only with `push`). */
  liveAlertsSchema: string;
  /** Where re-driven alerts go without `push` (default `alerts_exercise`). */
  exerciseSchema?: string;
  checkpointPath: string;
  fingerprint: string;
  restart?: boolean;
  signal?: AbortSignal;
  onProgress?(offsets: number, events: number): void;
  logger?: Logger;
}

export interface RedriveResult {
  status: 'done' | 'interrupted';
  /** Source events evaluated (this run). */
  events: number;
  /** Alerts raised (this run), by CAP status: only `Exercise`. */
  alertsByStatus: Record<string, number>;
  alertsSchema: string;
  published: boolean;
}

/** Re-drives the rules over the plan's events; resumable from its checkpoint. */
export async function redriveAlerts(options: RedriveOptions): Promise<RedriveResult> {
  if (options.restart) removeCheckpoint(options.checkpointPath);
  const cp = loadCheckpoint(options.checkpointPath, 'redrive', options.fingerprint);
  const plan = cp?.plan ?? options.plan;
  const positions = new Map(Object.entries(cp?.positions ?? {}));
  const push = options.push ?? false;
  const alertsSchema = push ? options.liveAlertsSchema : (options.exerciseSchema ?? EXERCISE_ALERTS_SCHEMA);
  const service = createAlertService({
    kafka: options.kafka,
    catalog: options.catalog,
    databaseUrl: options.databaseUrl,
    registryUrl: options.registryUrl,
    topicPrefix: options.topicPrefix,
    schema: alertsSchema,
    storeSchema: options.storeSchema,
    forceExercise: true,
    publish: push,
    logger: options.logger,
  });
  const typeByRecord = new Map<string, EventType>();
  const readerTypes = new Map<string, ReturnType<typeof getContract>['avroType']>();
  for (const type of PROJECTED_EVENT_TYPES) {
    const c = getContract(type);
    typeByRecord.set(c.subjectRecordName, type);
    readerTypes.set(c.subjectRecordName, c.avroType);
  }
  const decoder = createDecoder({ registry: createRegistry(options.registryUrl), readerTypes, logicalTypes: LOGICAL_TYPES as never });
  const wanted = plan.eventTypes ? new Set<string>(plan.eventTypes) : null;
  const header = (m: KafkaMessage, k: string): string | undefined => (m.headers?.[k] === undefined ? undefined : String(m.headers[k]));
  const alertsByStatus: Record<string, number> = {};
  let events = cp?.events ?? 0;
  let thisRun = 0;

  async function onBatch(batch: RangeBatch): Promise<boolean> {
    const sources: SourceEvent[] = [];
    for (const m of batch.messages) {
      let decoded;
      try {
        decoded = (m.value && decoder.decodeCached<Record<string, unknown>>(m.value)) || (await decoder.decode<Record<string, unknown>>(m.value));
      } catch (err) {
        if (err instanceof DecodeError) continue;
        throw err;
      }
      const type = typeByRecord.get(decoded.recordName);
      if (!type || (wanted && !wanted.has(type))) continue;
      sources.push({
        type,
        data: decoded.data,
        exercise: header(m, EXERCISE_HEADER) === 'true',
        ref: { eventId: String(decoded.data.eventId), type, source: header(m, 'ce_source') ?? options.catalog.ownerOf(type), topic: batch.topic, partition: batch.partition, offset: m.offset },
      });
    }
    if (options.signal?.aborted) return false;
    const raised: AlertIssued[] = sources.length ? await service.processEvents(sources, { waitForProjector: false }) : [];
    for (const a of raised) alertsByStatus[a.status] = (alertsByStatus[a.status] ?? 0) + 1;
    const wrong = raised.filter((a) => a.status !== 'Exercise');
    if (wrong.length) throw new BusError('BUS_ERR_INTERNAL', `re-drive produced ${wrong.length} non-Exercise alert(s); stopped`);
    events += sources.length;
    thisRun += sources.length;
    options.onProgress?.(0, sources.length);
    return true;
  }

  let status: 'done' | 'interrupted';
  try {
    // One partition at a time: the engine sees each entity's events in log order.
    status = await readPlan(options.kafka, plan, { positions, onBatch, onProgress: (n) => options.onProgress?.(n, 0), concurrency: 1, signal: options.signal, logger: options.logger });
  } finally {
    await service.stop();
  }
  if (status === 'interrupted') saveCheckpoint(options.checkpointPath, { command: 'redrive', fingerprint: options.fingerprint, plan, positions: Object.fromEntries(positions), events });
  else removeCheckpoint(options.checkpointPath);
  return { status, events: thisRun, alertsByStatus, alertsSchema, published: push };
}
