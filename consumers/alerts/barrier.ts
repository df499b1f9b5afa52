/**
 * The correlation barrier: before a movement is joined with the store's
 * current state, wait until the projector has stored everything that was on
 * the state topics (Alba-Keneth, warrants, stolen vehicles) when the movement
 * was read.
 *
 * Why: the movement and the alert/warrant/theft it must match travel on
 * different topics and are consumed by different services. Without the
 * barrier a movement read a few milliseconds after an Alba-Keneth activation
 * could be checked before the projector wrote the activation, and the child
 * would cross unnoticed. The high watermarks read after the movement arrived
 * bound everything published before it (acks=all), so once the projector's
 * stored offsets (in PostgreSQL, committed with the rows) reach them, the
 * store holds every earlier fact. If the projector is further behind than
 * `maxWaitMs`, the movement is correlated against the state as it is and a
 * warning is logged: an alert late is better than an alert never.
 */
import type { Admin } from 'kafkajs';
import type pg from 'pg';
import type { Logger } from '../../core/index.ts';

export interface ProjectorBarrier {
  /** Resolves true once the projector caught up with the state topics as of now; false after `maxWaitMs`. */
  waitCaughtUp(): Promise<boolean>;
}

export interface ProjectorBarrierOptions {
  admin: Admin;
  pool: pg.Pool;
  storeSchema: string;
  projectorGroupId: string;
  /** Prefixed names of the topics whose state correlation reads. */
  topics: readonly string[];
  maxWaitMs: number;
  pollMs: number;
  logger?: Logger;
}

/** Creates the barrier; concurrent callers share one watermark fetch when it started after they arrived. */
export function createProjectorBarrier(o: ProjectorBarrierOptions): ProjectorBarrier {
  let fetch: { startedAt: number; promise: Promise<Map<string, string>> } | undefined;
  let warnedMissing = false;

  async function watermarks(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const all = await Promise.all(o.topics.map(async (topic) => ({ topic, parts: await o.admin.fetchTopicOffsets(topic) })));
    for (const { topic, parts } of all) for (const p of parts) if (p.high !== p.low) out.set(`${topic}:${p.partition}`, p.high);
    return out;
  }

  function sharedWatermarks(arrivedAt: number): Promise<Map<string, string>> {
    if (fetch && fetch.startedAt >= arrivedAt) return fetch.promise;
    const f = { startedAt: Date.now(), promise: watermarks() };
    fetch = f;
    f.promise.catch(() => {
      if (fetch === f) fetch = undefined;
    });
    return f.promise;
  }

  async function stored(): Promise<Map<string, string> | null> {
    try {
      const r = await o.pool.query<{ topic: string; partition: number; next_offset: string | null }>(
        `SELECT topic, partition, next_offset::text FROM "${o.storeSchema}".consumer_offsets WHERE group_id = $1 AND topic = ANY($2::text[])`,
        [o.projectorGroupId, o.topics],
      );
      return new Map(r.rows.filter((x) => x.next_offset !== null).map((x) => [`${x.topic}:${x.partition}`, x.next_offset!]));
    } catch (err) {
      if ((err as { code?: string }).code === '42P01') {
        if (!warnedMissing) o.logger?.warn({ schema: o.storeSchema }, 'store has no consumer_offsets table; correlation does not wait for the projector');
        warnedMissing = true;
        return null;
      }
      throw err;
    }
  }

  return {
    async waitCaughtUp() {
      const arrivedAt = Date.now();
      const targets = await sharedWatermarks(arrivedAt);
      if (targets.size === 0) return true;
      const until = arrivedAt + o.maxWaitMs;
      for (;;) {
        const at = await stored();
        if (at === null) return false;
        let behind = 0;
        for (const [k, high] of targets) if (BigInt(at.get(k) ?? '0') < BigInt(high)) behind++;
        if (behind === 0) return true;
        if (Date.now() >= until) {
          o.logger?.warn({ partitionsBehind: behind, waitedMs: Date.now() - arrivedAt }, 'projector still behind; correlating against the current store');
          return false;
        }
        await new Promise((r) => setTimeout(r, o.pollMs));
      }
    },
  };
}
