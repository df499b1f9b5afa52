import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../contracts/index.ts';
import { isBusError } from '../../core/index.ts';
import { createProducer } from '../../producers/index.ts';
import { startChaosProxy, type ChaosProxy } from '../support/chaos-proxy.ts';
import { endpoints, prefixedTopics, readTopic } from '../support/bus.ts';

const TOPIC = 'sns.conred.incidents.v1';
let env: Awaited<ReturnType<typeof prefixedTopics>>;
let proxy: ChaosProxy;

beforeAll(async () => {
  env = await prefixedTopics([TOPIC]);
  proxy = await startChaosProxy();
});
afterAll(async () => {
  await proxy.close();
  await env.cleanup();
});

/** Publishes `n` events, one every `everyMs`, running `fault` after `faultAfter` of them; counts both sides. */
async function publishThrough(n: number, faultAfter: number, fault: () => Promise<void>, deliveryTimeoutMs: number, everyMs = 5) {
  const producer = createProducer({ institution: 'CONRED', brokers: proxy.brokers, topicPrefix: env.prefix, autoRegister: true, registryUrl: endpoints.registryUrl, deliveryTimeoutMs, lingerMs: 2 });
  const resolved = new Set<string>();
  const rejected = new Set<string>();
  /** Why publishes were rejected (distinct messages), so a failing assertion says why. */
  const reasons = new Set<string>();
  const other: unknown[] = [];
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    if (i === faultAfter) await fault();
    const e = sampleEvent('conred.incident.reported');
    all.push(
      producer.publish('conred.incident.reported', e).then(
        () => void resolved.add(e.eventId),
        (err: unknown) => {
          if (!isBusError(err, 'BUS_ERR_BROKER_UNAVAILABLE')) return void other.push(err);
          rejected.add(e.eventId);
          reasons.add((err as Error).message);
        },
      ),
    );
    await new Promise((r) => setTimeout(r, everyMs));
  }
  await Promise.all(all);
  const report = await producer.close();
  return { resolved, rejected, reasons, other, report };
}

async function topicCounts(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const m of await readTopic(env.admin, env.prefix + TOPIC)) counts.set(m.headers.ce_id!, (counts.get(m.headers.ce_id!) ?? 0) + 1);
  return counts;
}

describe('producer with the broker taken away mid-stream', () => {
  it('a short outage within the retry budget: every publish resolves, each event exactly once in the topic', async () => {
    const before = await topicCounts();
    const { resolved, rejected, reasons, other } = await publishThrough(200, 100, async () => {
      await proxy.cut();
      setTimeout(() => void proxy.restore(), 1_500);
    }, 20_000);
    expect(other).toEqual([]);
    // Once in a CI run on a loaded 2-core machine one batch (49 events) was rejected here: the reasons say why next time.
    expect([...reasons]).toEqual([]);
    expect(rejected.size).toBe(0);
    expect(resolved.size).toBe(200);
    const counts = await topicCounts();
    for (const id of resolved) expect(counts.get(id), 'resolved event must be in the topic exactly once').toBe(1);
    expect(counts.size - before.size).toBe(200);
  });

  it('an outage past the retry budget: publishes reject with BUS_ERR_BROKER_UNAVAILABLE, none is lost or doubled', async () => {
    const before = await topicCounts();
    let restoredAt = 0;
    // 240 events 25 ms apart; the broker vanishes after 80 of them for 3.5 s, longer than the 1.5 s budget.
    const { resolved, rejected, other, report } = await publishThrough(240, 80, async () => {
      await proxy.cut();
      setTimeout(() => void proxy.restore().then(() => (restoredAt = Date.now())), 3_500);
    }, 1_500, 25);
    expect(restoredAt).toBeGreaterThan(0);
    expect(other).toEqual([]);
    expect(resolved.size + rejected.size).toBe(240);
    expect(rejected.size).toBeGreaterThan(0);
    // Events before the cut and after the recovery were acknowledged.
    expect(resolved.size).toBeGreaterThan(80);
    expect(report.failedIds).toEqual([]);
    const counts = await topicCounts();
    for (const id of resolved) expect(counts.get(id), 'resolved event must be in the topic exactly once').toBe(1);
    // A rejected event was not acknowledged; it may or may not have reached the log, but never twice.
    for (const id of rejected) expect(counts.get(id) ?? 0).toBeLessThanOrEqual(1);
    for (const [id, c] of counts) if (!before.has(id)) expect(c).toBe(1);
  });
});
