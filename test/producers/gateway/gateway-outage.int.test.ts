/**
 * Kafka outage, by fault injection: the gateway's Kafka client opens its
 * sockets through a factory this test controls. "Down" destroys every open
 * socket and refuses new ones; the shared broker keeps running for others.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { Kafka, type ISocketFactory } from 'kafkajs';
import { pino } from 'pino';
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
/** The gateway's warnings (pino JSON lines): `event not acknowledged` names the event id it tried. */
const warnings: Record<string, unknown>[] = [];
const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as Record<string, unknown>) });

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
    logger,
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

  it('idempotency retry without eventId publishes the same event id: a retry after a 503 reuses the id the failed attempt tried', async () => {
    const topic = fx.topicOf(INCIDENT);
    const before = await fx.count(topic);
    const event: Record<string, unknown> = { ...sampleEvent(INCIDENT) };
    delete event.eventId;
    const idempotencyKey = randomUUID();

    sockets.down();
    warnings.length = 0;
    const during = await post(event, idempotencyKey);
    expect(during.statusCode).toBe(503);
    const tried = warnings.find((w) => w.msg === 'event not acknowledged')?.eventId;
    expect(tried).toEqual(expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/));

    sockets.up();
    const after = await post(event, idempotencyKey);
    expect(after.statusCode).toBe(202);
    expect(after.json()).toMatchObject({ id: tried, topic });
    expect(await fx.count(topic)).toBe(before + 1);
    const records = await fx.read(topic, INCIDENT, before + 1);
    expect(records.filter((r) => r.headers.ce_id === tried)).toHaveLength(1);
  });
});
