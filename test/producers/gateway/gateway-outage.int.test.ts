/**
 * Kafka outage, by fault injection: the gateway's Kafka client opens its
 * sockets through a factory this test controls. "Down" destroys every open
 * socket and refuses new ones; the shared broker keeps running for others.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Kafka, type ISocketFactory } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../../contracts/index.ts';
import { kafkaConfig } from '../../../core/index.ts';
import { buildGateway } from '../../../producers/gateway/index.ts';
import { createGatewayFixture, type GatewayFixture } from './support.ts';

const INCIDENT = 'conred.incident.reported';
const DELIVERY_TIMEOUT_MS = 3_000;

/** A socket factory with a switch: while down, no socket reaches Kafka. */
function switchableSockets(): { factory: ISocketFactory; down(): void; up(): void } {
  let isDown = false;
  const open = new Set<net.Socket>();
  const factory: ISocketFactory = ({ host, port, onConnect }) => {
    // Port 1 on loopback refuses the connection: the same error a stopped broker gives.
    const socket = isDown ? net.connect({ host: '127.0.0.1', port: 1 }) : net.connect({ host, port }, onConnect);
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    return socket;
  };
  return {
    factory,
    down() {
      isDown = true;
      for (const s of open) s.destroy();
    },
    up() {
      isDown = false;
    },
  };
}

let fx: GatewayFixture;
let app: FastifyInstance;
let key: string;
const sockets = switchableSockets();

function post(body: unknown, idempotencyKey: string) {
  return app.inject({
    method: 'POST',
    url: `/v1/events/${INCIDENT}`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'idempotency-key': idempotencyKey },
    payload: JSON.stringify(body),
  });
}

beforeAll(async () => {
  fx = await createGatewayFixture('gateway-outage', ['sns.conred.incidents.v1']);
  key = (await fx.keys.create('CONRED')).key;
  const kafka = new Kafka({
    ...kafkaConfig({ clientId: 'test-gateway-outage', retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 }, connectionTimeoutMs: 1_000 }),
    socketFactory: sockets.factory,
  });
  app = await buildGateway({
    pool: fx.pool,
    schema: fx.schema,
    kafka,
    topicPrefix: fx.prefix,
    autoRegister: true,
    deliveryTimeoutMs: DELIVERY_TIMEOUT_MS,
    readyTimeoutMs: 1_000,
  });
});

afterAll(async () => {
  sockets.up();
  await app?.close();
  await fx?.close();
});

describe('Kafka outage', () => {
  it('answers 503 within its timeout, never 202; after recovery the same Idempotency-Key yields exactly one record', async () => {
    const topic = fx.topicOf(INCIDENT);
    // Warm the route (schema id, partition count) while Kafka is up.
    expect((await post(sampleEvent(INCIDENT), randomUUID())).statusCode).toBe(202);
    expect(await fx.count(topic)).toBe(1);

    sockets.down();
    const event = sampleEvent(INCIDENT);
    const idempotencyKey = randomUUID();
    const started = Date.now();
    const during = await post(event, idempotencyKey);
    const elapsedMs = Date.now() - started;
    expect(during.statusCode).toBe(503);
    expect(during.json()).toEqual({ code: 'BUS_ERR_BROKER_UNAVAILABLE', message: expect.stringContaining('did not acknowledge') });
    expect(during.headers['retry-after']).toBeDefined();
    expect(elapsedMs).toBeLessThan(DELIVERY_TIMEOUT_MS + 2_500);

    const ready = await app.inject('/ready');
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toEqual({ status: 'not-ready', checks: { kafka: 'unreachable', registry: 'ok', database: 'ok' } });
    expect(await fx.count(topic)).toBe(1);

    sockets.up();
    const after = await post(event, idempotencyKey);
    expect(after.statusCode).toBe(202);
    expect(after.json()).toMatchObject({ id: event.eventId, topic });
    const replay = await post(event, idempotencyKey);
    expect(replay.statusCode).toBe(202);
    expect(replay.json()).toEqual(after.json());
    expect(await fx.count(topic)).toBe(2);
    const records = await fx.read(topic, INCIDENT, 2);
    expect(records.filter((r) => r.headers.ce_id === event.eventId)).toHaveLength(1);
    expect((await app.inject('/ready')).statusCode).toBe(200);
  });
});
