/**
 * What a replay reads: topics (or the topics of event types), a time range
 * resolved per partition with Kafka's offsets-for-times, and explicit offsets
 * per partition. The result is a plan of half-open offset ranges
 * `[start, end)` fixed once, so a resumed run reads exactly what the first
 * run would have read, however much the topics grew since.
 *
 * Operator-facing messages are in Spanish.
 */
import type { Admin } from 'kafkajs';
import type { Catalog } from '../../catalog/index.ts';
import { EVENT_TYPES, type EventType } from '../../contracts/index.ts';
import { BusError, ConfigError, type Violation } from '../../core/index.ts';

/** An explicit offset range of one partition (`[topic:]partition:from[-to]`, `to` exclusive). */
export interface OffsetSpec {
  /** Catalog topic name (without prefix); optional when one topic is selected. */
  readonly topic?: string;
  readonly partition: number;
  readonly from: bigint;
  /** Exclusive end; the partition's end when omitted. */
  readonly to?: bigint;
}

/** What to replay, as the operator gives it. */
export interface ReplaySelection {
  /** Catalog topic names (without the prefix). */
  readonly topics?: readonly string[];
  /** Event types; their topics are read and only these types kept. */
  readonly eventTypes?: readonly string[];
  /** Inclusive start of the time range (Kafka record timestamp). */
  readonly from?: Date;
  /** Exclusive end of the time range. */
  readonly to?: Date;
  readonly offsets?: readonly OffsetSpec[];
}

/** One partition's share of a plan. */
export interface PartitionRange {
  /** Topic name as in Kafka (prefixed). */
  readonly topic: string;
  readonly partition: number;
  /** First offset to read. */
  readonly start: string;
  /** Offset to stop before. */
  readonly end: string;
  /** Oldest offset Kafka keeps, and the high watermark, when the plan was made. */
  readonly low: string;
  readonly high: string;
}

/** A resolved selection: serialisable, so checkpoints keep it. */
export interface ReplayPlan {
  /** Kafka topic names (prefixed). */
  readonly topics: readonly string[];
  /** Event types to keep; null keeps every message. */
  readonly eventTypes: readonly EventType[] | null;
  /** Record timestamps kept: `fromMs <= ts < toMs` (null: unbounded). */
  readonly fromMs: number | null;
  readonly toMs: number | null;
  readonly ranges: readonly PartitionRange[];
}

/** Offsets (not events: a type filter or timestamps out of order may keep fewer) a plan spans. */
export function planSize(plan: ReplayPlan): number {
  return plan.ranges.reduce((n, r) => n + Math.max(0, Number(BigInt(r.end) - BigInt(r.start))), 0);
}

/** Parses `[topic:]partition:from[-to]` items (comma-separated); throws BUS_ERR_CONFIG listing every bad item. */
export function parseOffsets(text: string): OffsetSpec[] {
  const out: OffsetSpec[] = [];
  const violations: Violation[] = [];
  text.split(',').map((s) => s.trim()).filter(Boolean).forEach((item, i) => {
    const m = /^(?:(.+):)?(\d+):(\d+)(?:-(\d+))?$/.exec(item);
    if (!m) {
      violations.push({ path: `/offsets/${i}`, message: `«${item}» no tiene la forma [tópico:]partición:desde[-hasta]` });
      return;
    }
    const spec: OffsetSpec = { ...(m[1] ? { topic: m[1] } : {}), partition: Number(m[2]), from: BigInt(m[3]!), ...(m[4] ? { to: BigInt(m[4]) } : {}) };
    if (spec.to !== undefined && spec.to <= spec.from) violations.push({ path: `/offsets/${i}`, message: `en «${item}» el fin debe ser mayor que el inicio (el fin es exclusivo)` });
    out.push(spec);
  });
  if (violations.length) throw new ConfigError(`--offsets: ${violations.map((v) => `${v.path}: ${v.message}`).join('; ')}`, violations);
  return out;
}

/** Parses an ISO-8601 instant with an offset or `Z`; throws BUS_ERR_CONFIG in Spanish. */
export function parseInstant(name: string, text: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text)) {
    throw new ConfigError(`${name}: «${text}» no es una fecha ISO-8601 (p. ej. 2026-03-01 o 2026-03-01T06:00:00-06:00; con hora, indique la zona)`);
  }
  const d = new Date(text.length === 10 ? `${text}T00:00:00-06:00` : text);
  if (Number.isNaN(d.getTime())) throw new ConfigError(`${name}: «${text}» no es una fecha válida`);
  return d;
}

const fmt = (ms: number) => new Date(ms).toISOString();

/**
 * Resolves a selection against Kafka. Throws (Spanish messages)
 * BUS_ERR_REPLAY_TOPIC_NOT_FOUND, BUS_ERR_UNKNOWN_EVENT_TYPE, BUS_ERR_CONFIG,
 * BUS_ERR_REPLAY_OUT_OF_RETENTION, and BUS_ERR_REPLAY_EMPTY_RANGE unless
 * `allowEmpty`.
 */
export async function resolvePlan(
  admin: Admin,
  catalog: Catalog,
  selection: ReplaySelection,
  options: { topicPrefix?: string; allowEmpty?: boolean } = {},
): Promise<ReplayPlan> {
  const prefix = options.topicPrefix ?? '';
  const unknown = (selection.eventTypes ?? []).filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (unknown.length) {
    throw new BusError('BUS_ERR_UNKNOWN_EVENT_TYPE', `Tipo de evento desconocido: ${unknown.map((t) => `«${t}»`).join(', ')}. Tipos válidos: ${EVENT_TYPES.join(', ')}.`);
  }
  const eventTypes = selection.eventTypes?.length ? (selection.eventTypes as EventType[]) : null;
  const names = [...new Set([...(selection.topics ?? []), ...(eventTypes ?? []).map((t) => catalog.topicOf(t).name)])];
  if (names.length === 0) throw new ConfigError('Indique al menos un tópico (--topic) o un tipo de evento (--type).');
  const from = selection.from?.getTime() ?? null;
  const to = selection.to?.getTime() ?? null;
  if (from !== null && to !== null && to <= from) throw new ConfigError(`El fin del rango (--to ${fmt(to)}) debe ser posterior a su inicio (--from ${fmt(from)}).`);

  const existing = new Set(await admin.listTopics());
  const missing = names.filter((n) => !existing.has(prefix + n));
  if (missing.length) {
    const available = [...existing].filter((t) => t.startsWith(prefix) && !t.startsWith('__')).map((t) => t.slice(prefix.length)).sort();
    throw new BusError(
      'BUS_ERR_REPLAY_TOPIC_NOT_FOUND',
      `El tópico ${missing.map((m) => `«${prefix}${m}»`).join(', ')} no existe en Kafka. ` +
        (available.length ? `Tópicos disponibles: ${available.join(', ')}.` : 'No hay tópicos con ese prefijo.'),
    );
  }
  const topics = names.map((n) => prefix + n);
  const offsets = selection.offsets ?? [];
  if (offsets.length) {
    const violations: Violation[] = [];
    offsets.forEach((o, i) => {
      if (o.topic === undefined && names.length > 1) violations.push({ path: `/offsets/${i}`, message: 'con varios tópicos, cada rango de offsets debe nombrar su tópico (tópico:partición:desde-hasta)' });
      if (o.topic !== undefined && !names.includes(o.topic)) violations.push({ path: `/offsets/${i}`, message: `el tópico «${o.topic}» no está en la selección` });
    });
    if (violations.length) throw new ConfigError(`--offsets: ${violations.map((v) => `${v.path}: ${v.message}`).join('; ')}`, violations);
  }

  const ranges: PartitionRange[] = [];
  const outside: string[] = [];
  for (const [i, topic] of topics.entries()) {
    const name = names[i]!;
    const marks = await admin.fetchTopicOffsets(topic);
    const starts = from !== null ? new Map((await admin.fetchTopicOffsetsByTimestamp(topic, from)).map((p) => [p.partition, BigInt(p.offset)])) : null;
    const ends = to !== null ? new Map((await admin.fetchTopicOffsetsByTimestamp(topic, to)).map((p) => [p.partition, BigInt(p.offset)])) : null;
    const explicit = offsets.filter((o) => (o.topic ?? names[0]) === name);
    for (const mark of marks.sort((a, b) => a.partition - b.partition)) {
      const low = BigInt(mark.low);
      const high = BigInt(mark.high);
      const spec = explicit.find((o) => o.partition === mark.partition);
      if (offsets.length && !spec) continue;
      let start = starts?.get(mark.partition) ?? low;
      let end = ends?.get(mark.partition) ?? high;
      if (spec) {
        if (spec.from < low) outside.push(`${topic}/${mark.partition}: pidió desde el offset ${spec.from}, el más antiguo conservado es ${low}`);
        start = spec.from > start ? spec.from : start;
        if (spec.to !== undefined && spec.to < end) end = spec.to;
      } else if (from !== null && low > 0n && start === low) {
        // Kafka deleted offsets below `low`; some of them may have fallen inside the range.
        outside.push(`${topic}/${mark.partition}: el rango empieza (${fmt(from)}) antes del offset más antiguo conservado (${low})`);
      }
      if (start < low) start = low;
      if (end > high) end = high;
      if (end < start) end = start;
      ranges.push({ topic, partition: mark.partition, start: start.toString(), end: end.toString(), low: mark.low, high: mark.high });
    }
    if (offsets.length) {
      const absent = explicit.filter((o) => !marks.some((m) => m.partition === o.partition));
      if (absent.length) throw new ConfigError(`--offsets: el tópico «${topic}» no tiene la partición ${absent.map((a) => a.partition).join(', ')} (tiene ${marks.length}).`);
    }
  }
  if (outside.length) {
    throw new BusError(
      'BUS_ERR_REPLAY_OUT_OF_RETENTION',
      `El rango pedido está fuera de la retención de Kafka: esos eventos ya fueron borrados.\n  ${outside.join('\n  ')}\n` +
        'Empiece el rango después del offset más antiguo conservado (vea --dry-run) o restaure los datos desde un respaldo.',
    );
  }
  const plan: ReplayPlan = { topics, eventTypes, fromMs: from, toMs: to, ranges };
  if (!options.allowEmpty && planSize(plan) === 0) {
    const range = from !== null || to !== null ? ` entre ${from !== null ? fmt(from) : 'el inicio'} y ${to !== null ? fmt(to) : 'el final'}` : '';
    throw new BusError('BUS_ERR_REPLAY_EMPTY_RANGE', `No hay eventos que reproducir en ${topics.join(', ')}${range}${offsets.length ? ' con los offsets indicados' : ''}. Revise --from/--to u --offsets; --dry-run muestra los offsets por partición.`);
  }
  return plan;
}

/** The plan as the lines `--dry-run` prints (Spanish, one per partition). */
export function describePlan(plan: ReplayPlan): string[] {
  const lines = [`${'tópico'.padEnd(40)} part.  ${'desde'.padStart(10)}  ${'hasta'.padStart(10)}  ${'eventos'.padStart(9)}  (conservados ${'desde'.padStart(6)} … ${'fin'.padStart(6)})`];
  for (const r of plan.ranges) {
    const n = BigInt(r.end) - BigInt(r.start);
    lines.push(`${r.topic.padEnd(40)} ${String(r.partition).padStart(5)}  ${r.start.padStart(10)}  ${r.end.padStart(10)}  ${n.toString().padStart(9)}  (${r.low.padStart(19)} … ${r.high.padStart(6)})`);
  }
  lines.push(`Total: ${planSize(plan)} eventos en ${plan.ranges.filter((r) => r.end !== r.start).length} particiones` +
    (plan.eventTypes ? ` (antes de filtrar por tipo: ${plan.eventTypes.join(', ')})` : '') +
    (plan.fromMs !== null || plan.toMs !== null ? `; rango de tiempo ${plan.fromMs !== null ? fmt(plan.fromMs) : '—'} … ${plan.toMs !== null ? fmt(plan.toMs) : '—'}` : '') + '.');
  return lines;
}
