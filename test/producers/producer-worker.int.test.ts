import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../contracts/index.ts';
import { isBusError } from '../../core/index.ts';
import { createProducer, type PublishResult } from '../../producers/index.ts';
import { ROOT } from '../../scripts/stack/stack.ts';
import { startChaosProxy, type ChaosProxy } from '../support/chaos-proxy.ts';
import { endpoints, prefixedTopics, readTopic } from '../support/bus.ts';

// The producer's kafkajs producer runs on a worker thread unless the caller passes its
// own `kafka` client (the other producer tests cover both: only this file checks that
// the worker is the one in use, and what only a worker can get wrong).
const TOPIC = 'sns.conred.incidents.v1';
const TYPE = 'conred.incident.reported';
const run = promisify(execFile);
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

function capturingLogger(level: 'debug' | 'warn') {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { lines, logger };
}

describe('producer sending from a worker thread', () => {
  it('publishes through the worker: every acknowledged offset is where the event is; close() reports what it flushed', async () => {
    const { lines, logger } = capturingLogger('debug');
    const producer = createProducer({ institution: 'CONRED', topicPrefix: env.prefix, autoRegister: true, registryUrl: endpoints.registryUrl, logger, lingerMs: 2, batchMaxEvents: 100 });
    const events = Array.from({ length: 500 }, () => sampleEvent(TYPE));
    // Accepted before close() (the route is still cold): close() sends them and counts them.
    const accepted = events.slice(0, 300).map((e) => producer.publish(TYPE, e));
    const report = await producer.close();
    expect(report).toEqual({ flushed: 300, failedIds: [] });
    const results: PublishResult[] = await Promise.all(accepted);

    const second = createProducer({ institution: 'CONRED', topicPrefix: env.prefix, autoRegister: true, registryUrl: endpoints.registryUrl, logger });
    results.push(...(await second.publishBatch(events.slice(300).map((data) => ({ type: TYPE, data })))));
    expect(await second.close()).toEqual({ flushed: 0, failedIds: [] });

    const inTopic = new Map((await readTopic(env.admin, env.prefix + TOPIC)).map((m) => [m.headers.ce_id!, m]));
    expect(inTopic.size).toBe(events.length);
    for (const [i, r] of results.entries()) {
      const e = events[i]!;
      expect(r.id).toBe(e.eventId);
      const m = inTopic.get(e.eventId)!;
      expect({ topic: r.topic, partition: r.partition, offset: r.offset }).toEqual({ topic: env.prefix + TOPIC, partition: m.partition, offset: m.offset });
      expect(m.key).toBe(e.incidentId);
      expect(m.headers).toMatchObject({ ce_type: TYPE, ce_source: 'CONRED', ce_subject: e.incidentId, ce_time: e.occurredAt, 'content-type': 'application/avro' });
    }
    expect(new Set(results.map((r) => r.partition)).size).toBeGreaterThan(1);
    expect(lines.filter((l) => l.msg === 'send worker ready')).toHaveLength(2);
    expect(lines.some((l) => String(l.msg).startsWith('send worker unavailable'))).toBe(false);
  });

  it('a broker outage past deliveryTimeoutMs rejects with BUS_ERR_BROKER_UNAVAILABLE; after the reset a later publish is acknowledged; kafkajs logs reach the logger, event data does not', async () => {
    const { lines, logger } = capturingLogger('warn');
    const personal = 'Reportado por María Tzul Cuxil, DPI 2473 81920 0101';
    const producer = createProducer({ institution: 'CONRED', brokers: proxy.brokers, topicPrefix: env.prefix, autoRegister: true, registryUrl: endpoints.registryUrl, logger, deliveryTimeoutMs: 1_500, lingerMs: 2 });
    await producer.publish(TYPE, sampleEvent(TYPE)); // route and connection warm
    await proxy.cut();
    const lost = sampleEvent(TYPE, { description: personal });
    const err = await producer.publish(TYPE, lost).catch((e: unknown) => e);
    expect(isBusError(err, 'BUS_ERR_BROKER_UNAVAILABLE')).toBe(true);
    await proxy.restore();
    // The reset dropped the worker's producer; the next publish connects a new one.
    const later = sampleEvent(TYPE, { description: personal });
    let result: PublishResult | undefined;
    for (let attempt = 0; attempt < 5 && !result; attempt++) {
      result = await producer.publish(TYPE, later).catch((e: unknown) => {
        expect(isBusError(e, 'BUS_ERR_BROKER_UNAVAILABLE')).toBe(true);
        return undefined;
      });
    }
    expect(result).toMatchObject({ id: later.eventId, topic: env.prefix + TOPIC });
    expect(await producer.close()).toEqual({ flushed: 0, failedIds: [] });
    expect(lines.some((l) => l.msg === 'batch not acknowledged')).toBe(true);
    expect(lines.some((l) => l.component === 'kafkajs'), 'kafkajs log entries of the worker reach the logger').toBe(true);
    const logged = lines.map((l) => JSON.stringify(l)).join('\n');
    expect(logged).not.toContain('Tzul');
    expect(logged).not.toContain('2473');
  });

  it('close() during an outage reports the events it could not send', async () => {
    const producer = createProducer({ institution: 'CONRED', brokers: proxy.brokers, topicPrefix: env.prefix, autoRegister: true, registryUrl: endpoints.registryUrl, deliveryTimeoutMs: 1_000, lingerMs: 2 });
    await producer.publish(TYPE, sampleEvent(TYPE));
    await proxy.cut();
    try {
      const events = Array.from({ length: 3 }, () => sampleEvent(TYPE));
      const settled = Promise.allSettled(events.map((e) => producer.publish(TYPE, e)));
      const report = await producer.close();
      expect(report.flushed).toBe(0);
      expect([...report.failedIds].sort()).toEqual(events.map((e) => e.eventId).sort());
      for (const s of await settled) expect(s.status === 'rejected' && isBusError(s.reason, 'BUS_ERR_BROKER_UNAVAILABLE')).toBe(true);
    } finally {
      await proxy.restore();
    }
  });

  it('with an unreachable broker address publish rejects with BUS_ERR_BROKER_UNAVAILABLE and close() still returns', async () => {
    const producer = createProducer({ institution: 'CONRED', brokers: ['127.0.0.1:1'], topicPrefix: env.prefix, autoRegister: true, registryUrl: endpoints.registryUrl, deliveryTimeoutMs: 1_000 });
    const err = await producer.publish(TYPE, sampleEvent(TYPE)).catch((e: unknown) => e);
    expect(isBusError(err, 'BUS_ERR_BROKER_UNAVAILABLE')).toBe(true);
    expect(await producer.close()).toEqual({ flushed: 0, failedIds: [] });
  });

  it('a process that publishes and closes exits on its own (no worker thread keeps it alive)', async () => {
    const { stdout } = await run('npx', ['tsx', 'test/producers/fixtures/publish-and-exit.ts'], {
      cwd: ROOT,
      env: { ...process.env, SNS_TOPIC_PREFIX: env.prefix, REGISTRY_URL: endpoints.registryUrl, LOG_LEVEL: 'warn' },
      timeout: 30_000,
    });
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as { result: PublishResult; report: unknown };
    expect(out.result.topic).toBe(env.prefix + TOPIC);
    expect(out.report).toEqual({ flushed: 0, failedIds: [] });
  });

  it('a producer dropped without close() does not leak its worker: once it is collected the worker is terminated', async () => {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/producers/fixtures/dropped-producer.ts'], {
      cwd: ROOT,
      env: { ...process.env, SNS_TOPIC_PREFIX: env.prefix, REGISTRY_URL: endpoints.registryUrl },
      timeout: 30_000,
    });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ started: true, exited: true });
  });
});
