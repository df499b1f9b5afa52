import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../contracts/index.ts';
import { isBusError } from '../../core/index.ts';
import { createProducer } from '../../producers/index.ts';
import { startChaosProxy, type ChaosProxy } from '../support/chaos-proxy.ts';
import { catalog, endpoints, prefixedTopics, readTopic } from '../support/bus.ts';

// Regressions found in review: close() returned before accepted publishes were sent;
// the API broke when destructured; publishBatch could send half a batch; a connect that
// finished after its batch had been rejected sent that batch anyway.
const VEHICLES = 'sns.mingob.stolen-vehicles.v1';
let env: Awaited<ReturnType<typeof prefixedTopics>>;
let proxy: ChaosProxy;

beforeAll(async () => {
  env = await prefixedTopics([VEHICLES]); // the warrants topic is deliberately missing
  proxy = await startChaosProxy();
});
afterAll(async () => {
  await proxy.close();
  await env.cleanup();
});

const ids = async (): Promise<string[]> => (await readTopic(env.admin, env.prefix + VEHICLES)).map((m) => m.headers.ce_id!);

describe('producer lifecycle', () => {
  it('close() sends a publish accepted before it, still waiting for its first schema and metadata look-ups', async () => {
    const { publish, close } = createProducer({ institution: 'MINGOB', topicPrefix: env.prefix, autoRegister: true, registryUrl: endpoints.registryUrl });
    const event = sampleEvent('mingob.vehicle.reported-stolen');
    const published = publish('mingob.vehicle.reported-stolen', event);
    const report = await close();
    await expect(published).resolves.toMatchObject({ id: event.eventId });
    expect(report).toEqual({ flushed: 1, failedIds: [] });
    expect(await ids()).toContain(event.eventId);
    await expect(publish('mingob.vehicle.reported-stolen', sampleEvent('mingob.vehicle.reported-stolen'))).rejects.toMatchObject({ code: 'BUS_ERR_PRODUCER_CLOSED' });
  });

  it('publishBatch publishes nothing when one item’s topic is missing', async () => {
    const producer = createProducer({ institution: 'MINGOB', topicPrefix: env.prefix, autoRegister: true, registryUrl: endpoints.registryUrl });
    await producer.publish('mingob.vehicle.reported-stolen', sampleEvent('mingob.vehicle.reported-stolen')); // warm route
    const before = (await ids()).length;
    const stolen = sampleEvent('mingob.vehicle.reported-stolen');
    const err = await producer
      .publishBatch([
        { type: 'mingob.vehicle.reported-stolen', data: stolen },
        { type: 'mingob.arrest-warrant.issued', data: sampleEvent('mingob.arrest-warrant.issued') },
      ])
      .catch((e: unknown) => e);
    expect(isBusError(err, 'BUS_ERR_TOPIC_UNDECLARED')).toBe(true);
    await producer.close();
    expect((await ids()).length).toBe(before);
    expect(catalog.topicOf('mingob.arrest-warrant.issued').name).not.toBe(VEHICLES);
  });

  it('a batch rejected while the connection was still being made is never sent later', async () => {
    const producer = createProducer({ institution: 'MINGOB', brokers: proxy.brokers, topicPrefix: env.prefix, autoRegister: true, registryUrl: endpoints.registryUrl, deliveryTimeoutMs: 800 });
    await producer.publish('mingob.vehicle.reported-stolen', sampleEvent('mingob.vehicle.reported-stolen')); // route and connection warm
    await proxy.cut();
    // The first batch fails on the open connection and resets the producer; the second
    // one then has to connect again, and is rejected while that connect is still retrying.
    await producer.publish('mingob.vehicle.reported-stolen', sampleEvent('mingob.vehicle.reported-stolen')).catch(() => undefined);
    const event = sampleEvent('mingob.vehicle.reported-stolen');
    const err = await producer.publish('mingob.vehicle.reported-stolen', event).catch((e: unknown) => e);
    expect(isBusError(err, 'BUS_ERR_BROKER_UNAVAILABLE')).toBe(true);
    await proxy.restore();
    await new Promise((r) => setTimeout(r, 4_000)); // the stale connect's retries reach the broker again
    await producer.close();
    expect(await ids()).not.toContain(event.eventId);
  });
});
