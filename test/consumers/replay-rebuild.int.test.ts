/**
 * Rebuilding the store while the live projector keeps writing: the rebuilt
 * store equals the live one (table checksums), queries served during the
 * swap never see a partial store, and the live projector carries on in the
 * new store without a gap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../core/index.ts';
import { buildQueryApi, createProjector, type Projector } from '../../consumers/index.ts';
import { checksumStore, oldSchemas, rebuildStore } from '../../consumers/replay/index.ts';
import { uniqueName } from '../support/names.ts';
import { createTestContext, drained, mixedEvents, waitFor, type TestContext } from './support.ts';

describe('replay: rebuild the store and swap it in', () => {
  let ctx: TestContext;
  let live: Projector;
  const liveGroup = uniqueName('live');

  beforeAll(async () => {
    ctx = await createTestContext('rebuild');
    await ctx.publishMany(mixedEvents(600));
    live = createProjector({ databaseUrl: ctx.databaseUrl, groupId: liveGroup, topicPrefix: ctx.prefix, partitionsConsumedConcurrently: 3 });
    await live.start();
    await waitFor(() => drained(ctx, liveGroup, live.topics), 60_000, 'live projector drained');
  });

  afterAll(async () => {
    await live?.stop();
    await ctx?.close();
  });

  it('equals the live store, serves no partial state during the swap, and leaves the live projector no gap', async () => {
    const api = await buildQueryApi({ pool: ctx.pool, tokens: ['t0ken-for-rebuild-test'] });
    const total = async () => {
      const r = await api.inject({ url: `/v1/history/events-per-day?from=2020-01-01T00:00:00Z&to=${encodeURIComponent(new Date(Date.now() + 86_400_000).toISOString())}`, headers: { authorization: 'Bearer t0ken-for-rebuild-test' } });
      if (r.statusCode !== 200) throw new Error(`history answered ${r.statusCode}: ${r.body}`);
      return (r.json() as { rows: { count: number }[] }).rows.reduce((n, x) => n + x.count, 0);
    };
    const before = await total();
    expect(before).toBe(600);
    // Readers hammer the store while it is rebuilt and swapped: each answer is a whole store, never fewer events.
    let reading = true;
    const seen: number[] = [];
    const readers = (async () => {
      while (reading) seen.push(await total());
    })();

    const kafka = createKafka({ clientId: 'test-rebuild' });
    const result = await rebuildStore({
      kafka,
      databaseUrl: ctx.databaseUrl,
      topicPrefix: ctx.prefix,
      liveSchema: 'store',
      schema: 'store_rebuild',
      // New events while the swap is pending: the live store gets them first, the rebuild must reach them.
      beforeSwap: () => ctx.publishMany(mixedEvents(100)),
    });
    expect(result.status).toBe('swapped');
    expect(await oldSchemas(ctx.pool, 'store')).toEqual([result.oldSchema]);

    // After the swap, more events: the live projector (fenced, re-seeked from PostgreSQL) writes them into the new store.
    await ctx.publishMany(mixedEvents(50));
    await waitFor(() => drained(ctx, liveGroup, live.topics), 60_000, 'live projector drained into the new store');
    reading = false;
    await readers;
    expect(seen.length).toBeGreaterThan(3);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(600);
    expect(await total()).toBe(750);
    await api.close();

    // The old live store stopped at the swap; top it up (another group, idempotent by event id) to compare like with like.
    const sums = await checksumStore(ctx.pool, 'store');
    expect(sums.event_log!.rows).toBe(750);
    const topUpGroup = uniqueName('topup');
    const topUp = createProjector({ databaseUrl: ctx.databaseUrl, schema: result.oldSchema!, groupId: topUpGroup, topicPrefix: ctx.prefix, migrate: false });
    await topUp.start();
    await waitFor(() => drained(ctx, topUpGroup, live.topics, result.oldSchema!), 60_000, 'old store topped up');
    await topUp.stop();
    expect(await checksumStore(ctx.pool, result.oldSchema!)).toEqual(sums);
  });
});
