/**
 * Rebuilding the central store from the topics, and swapping it in.
 *
 * 1. A projector with its own group (`sns-replay-rebuild-<schema>`) projects
 *    every topic from the beginning into a fresh schema (`store_rebuild`).
 *    Its offsets live in that schema, so running the same command again
 *    resumes it.
 * 2. When it has caught up (lag 0 once), it stops: its offsets are the
 *    rebuilt positions.
 * 3. One PostgreSQL transaction swaps the schemas:
 *    - `LOCK consumer_offsets` of the live schema (EXCLUSIVE): a live
 *      projector's transaction now waits at its offset update;
 *    - the live groups' rows are carried into the rebuilt schema at the
 *      rebuilt positions, each with a fence above the live one;
 *    - `ALTER SCHEMA store RENAME TO store_old_<stamp>`, then
 *      `ALTER SCHEMA store_rebuild RENAME TO store`; commit.
 *    Readers resolve `store.<table>` per statement, so a query sees the old
 *    store or the new one, never a mix. A live write blocked during the swap
 *    either lands in the old schema or finds the new fence and rolls back;
 *    either way the live projector is fenced at its next write, claims the
 *    partition again, reads the rebuilt position from PostgreSQL and seeks
 *    there. Events between the rebuilt position and where it was are
 *    projected again into the new store: idempotent by event id. No gap.
 * 4. The old schema stays until `confirm` drops it; `rollback` swaps it back
 *    the same way (its own positions, fenced again).
 */
import type { Admin, Kafka } from 'kafkajs';
import pg from 'pg';
import { BusError, type Logger } from '../../core/index.ts';
import { assertSchemaName } from '../../migrations/index.ts';
import { createProjector, partitionLag, type PartitionLag } from '../index.ts';

/** Rebuild defaults, with units in the names. */
export const REBUILD_DEFAULTS = {
  schema: 'store_rebuild',
  pollMs: 500,
  /** How long the swap waits for a lock before giving up (the live store is then untouched). */
  swapLockTimeoutMs: 10_000,
  /** How long the swap keeps waiting for the rebuild to reach the live positions. */
  swapCatchUpMs: 60_000,
} as const;

/** The rebuild is behind the live store on some partition: the swap waits (the rebuild keeps projecting). */
class BehindLiveError extends BusError {
  constructor(partitions: string[]) {
    super('BUS_ERR_REPLAY_SWAP', `La reconstrucción aún no alcanza al almacén vivo en ${partitions.join(', ')}; no se intercambió nada.`);
  }
}

/** The rebuild's consumer group: derived from the schema, so the same command resumes. */
export const rebuildGroupOf = (schema: string): string => `sns-replay-rebuild-${schema}`;

export interface RebuildOptions {
  kafka: Kafka;
  databaseUrl: string;
  registryUrl?: string;
  topicPrefix: string;
  /** The live schema (default `store`). */
  liveSchema: string;
  /** The schema to build (default `store_rebuild`). */
  schema?: string;
  /** Swap it in once caught up (default true). */
  swap?: boolean;
  signal?: AbortSignal;
  /** Offsets projected so far / to project. */
  onProgress?(done: number, total: number): void;
  /** Called once caught up, before the swap (tests hold the swap here). */
  beforeSwap?(): Promise<void>;
  logger?: Logger;
}

export interface RebuildResult {
  status: 'swapped' | 'built' | 'interrupted';
  schema: string;
  /** The renamed old store, when swapped. */
  oldSchema?: string;
  positions: PartitionLag[];
}

async function caughtUp(admin: Admin, pool: pg.Pool, schema: string, group: string, topics: readonly string[]): Promise<{ lag: PartitionLag[]; done: number; total: number }> {
  const lag = await partitionLag(admin, pool, schema, group, topics);
  let done = 0;
  let total = 0;
  for (const p of lag) {
    total += Number(p.highWatermark);
    done += Number(p.highWatermark) - p.lag;
  }
  return { lag, done, total };
}

/** Rebuilds the store into a fresh schema and (unless `swap: false`) swaps it in. */
export async function rebuildStore(options: RebuildOptions): Promise<RebuildResult> {
  const schema = options.schema ?? REBUILD_DEFAULTS.schema;
  assertSchemaName(schema);
  assertSchemaName(options.liveSchema);
  if (schema === options.liveSchema) throw new BusError('BUS_ERR_REPLAY_SWAP', `El esquema de reconstrucción no puede ser el esquema vivo «${schema}».`);
  const group = rebuildGroupOf(schema);
  const projector = createProjector({
    kafka: options.kafka,
    databaseUrl: options.databaseUrl,
    registryUrl: options.registryUrl,
    schema,
    groupId: group,
    topicPrefix: options.topicPrefix,
    logger: options.logger,
  });
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
  pool.on('error', () => undefined);
  const admin = options.kafka.admin();
  await admin.connect();
  try {
    await projector.start();
    let state = await caughtUp(admin, pool, schema, group, projector.topics);
    while (!options.signal?.aborted) {
      options.onProgress?.(state.done, state.total);
      if (state.lag.every((p) => p.lag <= 0)) break;
      await new Promise((r) => setTimeout(r, REBUILD_DEFAULTS.pollMs));
      state = await caughtUp(admin, pool, schema, group, projector.topics);
    }
    if (options.signal?.aborted) return { status: 'interrupted', schema, positions: state.lag };
    if (options.swap === false) {
      await projector.stop();
      state = await caughtUp(admin, pool, schema, group, projector.topics);
      return { status: 'built', schema, positions: state.lag };
    }
    await options.beforeSwap?.();
    // The rebuild keeps projecting while the swap waits until it is at or past every live position.
    const deadline = Date.now() + REBUILD_DEFAULTS.swapCatchUpMs;
    for (;;) {
      try {
        const oldSchema = await swapSchemas(pool, { liveSchema: options.liveSchema, incomingSchema: schema, positionsGroup: group, logger: options.logger });
        await projector.stop();
        return { status: 'swapped', schema, oldSchema, positions: state.lag };
      } catch (err) {
        if (!(err instanceof BehindLiveError) || Date.now() > deadline || options.signal?.aborted) throw err;
        await new Promise((r) => setTimeout(r, REBUILD_DEFAULTS.pollMs / 2));
      }
    }
  } finally {
    await projector.stop().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}

/** `store_old_20260301T120000`: when the old store was swapped out. */
function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase();
}

export interface SwapOptions {
  liveSchema: string;
  incomingSchema: string;
  /**
   * The group whose positions the live groups take in the incoming schema (the
   * rebuild's group). When omitted the incoming schema's own rows for the live
   * groups stay (rollback) and are only fenced.
   */
  positionsGroup?: string;
  /** What the outgoing schema is renamed to (default `<live>_old_<stamp>`). */
  outgoingName?: string;
  lockTimeoutMs?: number;
  logger?: Logger;
}

/**
 * Swaps `incomingSchema` in under the live name in one transaction, carrying
 * and fencing the live groups' offsets (see the module comment). Returns the
 * outgoing schema's new name. Throws BUS_ERR_REPLAY_SWAP (nothing changed)
 * when a schema is missing or a lock is not granted in time.
 */
export async function swapSchemas(pool: pg.Pool, options: SwapOptions): Promise<string> {
  const live = options.liveSchema;
  const incoming = options.incomingSchema;
  const outgoing = options.outgoingName ?? `${live}_old_${stamp()}`;
  for (const s of [live, incoming, outgoing]) assertSchemaName(s);
  const client = await pool.connect();
  try {
    const present = await client.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)`, [[live, incoming, outgoing]]);
    const names = new Set(present.rows.map((r) => r.nspname));
    if (!names.has(incoming)) throw new BusError('BUS_ERR_REPLAY_SWAP', `El esquema «${incoming}» no existe: no hay nada que poner en servicio.`);
    if (names.has(outgoing)) throw new BusError('BUS_ERR_REPLAY_SWAP', `Ya existe un esquema «${outgoing}»; confirme (borre) o renombre el anterior primero.`);
    await client.query('BEGIN');
    try {
      await client.query(`SET LOCAL lock_timeout = ${Math.round(options.lockTimeoutMs ?? REBUILD_DEFAULTS.swapLockTimeoutMs)}`);
      if (names.has(live)) {
        await client.query(`LOCK TABLE "${live}".consumer_offsets IN EXCLUSIVE MODE`);
        await client.query(`LOCK TABLE "${incoming}".consumer_offsets IN EXCLUSIVE MODE`);
        if (options.positionsGroup) {
          // Only a rebuild at or past every live position can go in: then no live partition can be left with a gap.
          const behind = await client.query<{ topic: string; partition: number }>(
            `SELECT l.topic, l.partition FROM "${live}".consumer_offsets l
               LEFT JOIN "${incoming}".consumer_offsets s ON s.group_id = $1 AND s.topic = l.topic AND s.partition = l.partition
              WHERE l.group_id <> $1 AND l.next_offset IS NOT NULL AND (s.next_offset IS NULL OR s.next_offset < l.next_offset)`,
            [options.positionsGroup],
          );
          if (behind.rows.length) throw new BehindLiveError(behind.rows.map((r) => `${r.topic}/${r.partition}`));
        }
        // Every group of the live store, at the incoming positions, fenced above whatever fence it holds now.
        await client.query(
          `WITH live AS (SELECT group_id, topic, partition, fence FROM "${live}".consumer_offsets WHERE $1::text IS NULL OR group_id <> $1),
                src AS (SELECT topic, partition, next_offset FROM "${incoming}".consumer_offsets WHERE group_id = $1)
           INSERT INTO "${incoming}".consumer_offsets AS o (group_id, topic, partition, next_offset, fence, member_id, updated_at)
           SELECT l.group_id, l.topic, l.partition, s.next_offset, l.fence + 1, 'replay-swap', now()
             FROM live l LEFT JOIN src s USING (topic, partition)
            WHERE $1::text IS NOT NULL
           ON CONFLICT (group_id, topic, partition) DO UPDATE
             SET next_offset = excluded.next_offset, fence = GREATEST(o.fence, excluded.fence) + 1, member_id = 'replay-swap', updated_at = now()`,
          [options.positionsGroup ?? null],
        );
        if (options.positionsGroup) {
          // Live groups not yet in the live store (never ran) start at the rebuilt positions too, once they claim.
          await client.query(`DELETE FROM "${incoming}".consumer_offsets WHERE group_id = $1`, [options.positionsGroup]);
        } else {
          // Rollback: keep the incoming schema's own positions, fenced above the live writers'.
          await client.query(
            `UPDATE "${incoming}".consumer_offsets AS o SET fence = GREATEST(o.fence, l.fence) + 1, member_id = 'replay-swap', updated_at = now()
               FROM "${live}".consumer_offsets l WHERE l.group_id = o.group_id AND l.topic = o.topic AND l.partition = o.partition`,
          );
        }
        await client.query(`ALTER SCHEMA "${live}" RENAME TO "${outgoing}"`);
      }
      await client.query(`ALTER SCHEMA "${incoming}" RENAME TO "${live}"`);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (err instanceof BusError) throw err;
      const code = (err as { code?: string }).code;
      if (code === '55P03' || code === '40P01') {
        throw new BusError('BUS_ERR_REPLAY_SWAP', 'No se obtuvo el bloqueo para intercambiar los esquemas a tiempo; el almacén vivo no cambió. Repita el comando.', { cause: err });
      }
      throw err;
    }
    options.logger?.info({ live, incoming, outgoing }, 'store schemas swapped');
    return outgoing;
  } finally {
    client.release();
  }
}

/** Old stores left by swaps (`<live>_old_*`), newest first. */
export async function oldSchemas(pool: pg.Pool, liveSchema: string): Promise<string[]> {
  assertSchemaName(liveSchema);
  const r = await pool.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 ORDER BY nspname DESC`, [`${liveSchema}\\_old\\_%`]);
  return r.rows.map((x) => x.nspname);
}

/** Drops an old store once the operator confirmed the new one. Refuses the live schema. */
export async function dropOldSchema(pool: pg.Pool, liveSchema: string, schema: string): Promise<void> {
  assertSchemaName(schema);
  if (!(await oldSchemas(pool, liveSchema)).includes(schema)) {
    throw new BusError('BUS_ERR_REPLAY_SWAP', `«${schema}» no es un almacén anterior de «${liveSchema}» (${liveSchema}_old_…); no se borra.`);
  }
  await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
}

/** The tables whose content a rebuild must reproduce, with the columns that depend on when (not what) was written. */
const CHECKSUM_TABLES: Record<string, readonly string[]> = {
  event_log: ['projected_at'],
  incidents: [],
  alba_keneth_alerts: [],
  stolen_vehicles: [],
  arrest_warrants: [],
  citizens_abroad: [],
  migratory_movements: [],
  dead_letters: ['dead_lettered_at'],
};

/** Row count and md5 of every projected table of `schema` (wall-clock columns left out). */
export async function checksumStore(pool: pg.Pool, schema: string): Promise<Record<string, { rows: number; md5: string }>> {
  assertSchemaName(schema);
  const out: Record<string, { rows: number; md5: string }> = {};
  for (const [table, skip] of Object.entries(CHECKSUM_TABLES)) {
    const cols = await pool.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND NOT (column_name = ANY($3)) ORDER BY column_name`,
      [schema, table, skip],
    );
    const list = cols.rows.map((c) => `"${c.column_name}"`).join(', ');
    const r = await pool.query<{ n: string; md5: string }>(
      `SELECT count(*)::text AS n, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS md5 FROM (SELECT ${list} FROM "${schema}"."${table}") x`,
    );
    out[table] = { rows: Number(r.rows[0]!.n), md5: r.rows[0]!.md5 };
  }
  return out;
}
