/**
 * The ingest gateway against the real Kafka, registry and PostgreSQL: every
 * status code with its body, authentication, ownership, idempotency,
 * injection strings, batches, rate limit and the operations endpoints.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getContract, sampleEvent } from '../../../contracts/index.ts';
import { ERROR_CODES, readEndpoints } from '../../../core/index.ts';
import { createRegistry, subjectFor } from '../../../registry/index.ts';
import { buildGateway } from '../../../producers/gateway/index.ts';
import { createGatewayFixture, type GatewayFixture } from './support.ts';

const INCIDENT = 'conred.incident.reported';
let fx: GatewayFixture;
let app: FastifyInstance;
let conredKey: string;
let pgnKey: string;
let incidents: string;

function post(url: string, body: unknown, headers: Record<string, string> = {}, key = conredKey) {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

beforeAll(async () => {
  fx = await createGatewayFixture('gateway', ['sns.conred.incidents.v1', 'sns.pgn.alba-keneth.v1']);
  incidents = fx.topicOf(INCIDENT);
  conredKey = (await fx.keys.create('CONRED', 'test')).key;
  pgnKey = (await fx.keys.create('PGN', 'test')).key;
  app = await buildGateway({
    pool: fx.pool,
    schema: fx.schema,
    topicPrefix: fx.prefix,
    autoRegister: true,
    bodyLimitBytes: 64 * 1024,
    batchMaxItems: 5,
    apiKeyCacheMs: 0,
    deliveryTimeoutMs: 5_000,
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await fx?.close();
});

describe('POST /v1/events/{eventType}', () => {
  it('answers 202 with where Kafka acknowledged the event, and the record is in the topic', async () => {
    const before = await fx.count(incidents);
    const event = sampleEvent(INCIDENT);
    const r = await post(`/v1/events/${INCIDENT}`, event);
    expect(r.statusCode).toBe(202);
    const body = r.json();
    expect(body).toEqual({ id: event.eventId, topic: incidents, partition: expect.any(Number), offset: expect.stringMatching(/^\d+$/) });
    expect(await fx.count(incidents)).toBe(before + 1);
  });

  it('generates the event id when the body has none', async () => {
    const event: Record<string, unknown> = { ...sampleEvent(INCIDENT) };
    delete event.eventId;
    const r = await post(`/v1/events/${INCIDENT}`, event);
    expect(r.statusCode).toBe(202);
    expect(r.json().id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('401 without a key, with an unknown key and with a revoked key', async () => {
    const event = sampleEvent(INCIDENT);
    const none = await app.inject({ method: 'POST', url: `/v1/events/${INCIDENT}`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(event) });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ code: 'BUS_ERR_AUTH', message: expect.stringContaining('missing API key') });
    expect(none.headers['www-authenticate']).toContain('Bearer');

    const wrong = await post(`/v1/events/${INCIDENT}`, event, {}, 'sns_000000000000_notARealKeyAtAllxxxxxxxxxxxxxxxxxxxxxx');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ code: 'BUS_ERR_AUTH', message: 'invalid or revoked API key' });

    const { keyId, key } = await fx.keys.create('CONRED', 'to revoke');
    expect((await post(`/v1/events/${INCIDENT}`, sampleEvent(INCIDENT), {}, key)).statusCode).toBe(202);
    expect(await fx.keys.revoke(keyId)).toBe(true);
    const revoked = await post(`/v1/events/${INCIDENT}`, sampleEvent(INCIDENT), {}, key);
    expect(revoked.statusCode).toBe(401);
    expect(revoked.json().code).toBe('BUS_ERR_AUTH');
  });

  it('stores keys only as hashes', async () => {
    const { key } = await fx.keys.create('CONRED');
    const dump = await fx.pool.query(`SELECT * FROM "${fx.schema}".api_keys`);
    // The secret is everything after the second '_' (base64url may contain '_' itself: a fragment like "pe" matched "type").
    const secret = key.split('_').slice(2).join('_');
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(dump.rows)).not.toContain(secret);
  });

  it('403 when the key\'s institution does not own the event type', async () => {
    const r = await post(`/v1/events/${INCIDENT}`, sampleEvent(INCIDENT), {}, pgnKey);
    expect(r.statusCode).toBe(403);
    expect(r.json()).toEqual({ code: 'BUS_ERR_NOT_OWNER', message: 'institution PGN may not publish conred.incident.reported: its topic belongs to CONRED' });
  });

  it('404 for an unknown event type and an unknown route', async () => {
    const r = await post('/v1/events/conred.incident.invented', { a: 1 });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ code: 'BUS_ERR_UNKNOWN_EVENT_TYPE', message: expect.stringContaining('unknown event type "conred.incident.invented"') });
    const nf = await app.inject({ method: 'GET', url: '/v2/nothing' });
    expect(nf.statusCode).toBe(404);
    expect(nf.json()).toEqual({ code: 'BUS_ERR_NOT_FOUND', message: 'no route GET /v2/nothing' });
  });

  it('400 for malformed JSON, 415 for another content type, 413 over the body limit', async () => {
    const bad = await post(`/v1/events/${INCIDENT}`, '{"eventId": "x",');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ code: 'BUS_ERR_MALFORMED_JSON', message: expect.stringContaining('not valid JSON') });

    const empty = await post(`/v1/events/${INCIDENT}`, '');
    expect(empty.statusCode).toBe(400);
    expect(empty.json().code).toBe('BUS_ERR_MALFORMED_JSON');

    const text = await post(`/v1/events/${INCIDENT}`, 'hola', { 'content-type': 'text/plain' });
    expect(text.statusCode).toBe(415);
    expect(text.json()).toEqual({ code: 'BUS_ERR_UNSUPPORTED_MEDIA_TYPE', message: 'Content-Type must be application/json' });

    const big = await post(`/v1/events/${INCIDENT}`, { ...sampleEvent(INCIDENT), description: 'x'.repeat(70 * 1024) });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toEqual({ code: 'BUS_ERR_PAYLOAD_TOO_LARGE', message: expect.any(String) });
  });

  it('422 lists every rule violation by path, and publishes nothing', async () => {
    const before = await fx.count(incidents);
    const event = { ...sampleEvent(INCIDENT), location: { departmentCode: '23', municipalityCode: '01' }, startedAt: '2025-10-01T05:30:00' };
    const r = await post(`/v1/events/${INCIDENT}`, event);
    expect(r.statusCode).toBe(422);
    const body = r.json();
    expect(body.code).toBe('BUS_ERR_VALIDATION');
    const paths = body.violations.map((v: { path: string }) => v.path);
    expect(paths).toEqual(expect.arrayContaining(['/location/departmentCode', '/startedAt']));
    for (const v of body.violations) expect(v).toEqual({ path: expect.any(String), message: expect.any(String), rule: expect.any(String) });
    const notObject = await post(`/v1/events/${INCIDENT}`, '[1,2]');
    expect(notObject.statusCode).toBe(422);
    expect(notObject.json()).toMatchObject({ code: 'BUS_ERR_VALIDATION', violations: [{ path: '/', rule: 'type' }] });
    expect(await fx.count(incidents)).toBe(before);
  });
});

describe('what a client must not set, and injection strings', () => {
  it('rejects a publishing institution in the body and ignores it in headers', async () => {
    const withField = await post(`/v1/events/${INCIDENT}`, { ...sampleEvent(INCIDENT), institution: 'PGN', source: 'PGN' });
    expect(withField.statusCode).toBe(422);
    expect(withField.json().violations).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: '/institution', rule: 'unknown-field' }), expect.objectContaining({ path: '/source', rule: 'unknown-field' })]),
    );
    const event = sampleEvent(INCIDENT);
    const r = await post(`/v1/events/${INCIDENT}`, event, { ce_source: 'PGN', 'ce-source': 'PGN', 'x-institution': 'PGN' });
    expect(r.statusCode).toBe(202);
    const records = await fx.read(incidents, INCIDENT, await fx.count(incidents));
    const mine = records.filter((m) => m.headers.ce_id === event.eventId);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.headers.ce_source).toBe('CONRED');
  });

  it('stores SQL, HTML and CRLF literally, and rejects NUL with a reason', async () => {
    const literal = `Robert'); DROP TABLE api_keys;-- <script>alert("x")</script>\r\nX-Injected: 1`;
    const event = sampleEvent(INCIDENT, { description: literal });
    const r = await post(`/v1/events/${INCIDENT}`, event, { 'idempotency-key': `' OR '1'='1'; DROP TABLE idempotency_keys;--` });
    expect(r.statusCode).toBe(202);
    const records = await fx.read(incidents, INCIDENT, await fx.count(incidents));
    expect(records.find((m) => m.headers.ce_id === event.eventId)!.data.description).toBe(literal);
    expect((await fx.pool.query(`SELECT count(*)::int AS n FROM "${fx.schema}".api_keys`)).rows[0].n).toBeGreaterThan(0);

    const nul = await post(`/v1/events/${INCIDENT}`, sampleEvent(INCIDENT, { description: 'antes\u0000después' }));
    expect(nul.statusCode).toBe(422);
    expect(nul.json()).toMatchObject({ code: 'BUS_ERR_VALIDATION', violations: [{ path: '/description', rule: 'text.nul' }] });

    const sqlKey = await post(`/v1/events/${INCIDENT}`, sampleEvent(INCIDENT), {}, `x' OR '1'='1' --  padding-padding`);
    expect(sqlKey.statusCode).toBe(401);
  });
});

describe('Idempotency-Key', () => {
  it('same key and body: same response, nothing new published; other body: 409', async () => {
    const key = randomUUID();
    const event = sampleEvent(INCIDENT);
    const first = await post(`/v1/events/${INCIDENT}`, event, { 'idempotency-key': key });
    expect(first.statusCode).toBe(202);
    const count = await fx.count(incidents);
    const again = await post(`/v1/events/${INCIDENT}`, event, { 'idempotency-key': key });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await fx.count(incidents)).toBe(count);

    const other = await post(`/v1/events/${INCIDENT}`, { ...event, description: 'otra' }, { 'idempotency-key': key });
    expect(other.statusCode).toBe(409);
    expect(other.json()).toEqual({ code: 'BUS_ERR_IDEMPOTENCY_CONFLICT', message: 'this Idempotency-Key was already used with a different request body' });
    expect(await fx.count(incidents)).toBe(count);
  });

  // Regression: the derived id hashed only institution and key, so a key used again after the window (an incident
  // number used as key for its report, then for its update a day later) gave the new event the old one's id,
  // and consumers dropped it as a duplicate although the gateway had answered 202.
  it('without eventId, the derived id follows the event: the same request keeps its id after the window, another event never takes it', async () => {
    const short = await buildGateway({ pool: fx.pool, schema: fx.schema, topicPrefix: fx.prefix, autoRegister: true, apiKeyCacheMs: 0, idempotencyWindowMs: 1 });
    try {
      const send = (body: unknown) =>
        short.inject({ method: 'POST', url: `/v1/events/${INCIDENT}`, headers: { 'content-type': 'application/json', authorization: `Bearer ${conredKey}`, 'idempotency-key': key }, payload: JSON.stringify(body) });
      const key = `inc-${randomUUID()}`;
      const event: Record<string, unknown> = { ...sampleEvent(INCIDENT) };
      delete event.eventId;
      const first = await send(event);
      expect(first.statusCode).toBe(202);
      await new Promise((r) => setTimeout(r, 20));
      const retried = await send(event);
      expect(retried.statusCode).toBe(202);
      expect(retried.json().id).toBe(first.json().id);
      await new Promise((r) => setTimeout(r, 20));
      const other = await send({ ...event, description: 'otra' });
      expect(other.statusCode).toBe(202);
      expect(other.json().id).not.toBe(first.json().id);
    } finally {
      await short.close();
    }
  });

  it('concurrent requests with one key publish once and answer alike', async () => {
    const key = randomUUID();
    const event = sampleEvent(INCIDENT);
    const before = await fx.count(incidents);
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(`/v1/events/${INCIDENT}`, event, { 'idempotency-key': key })));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(8).fill(202));
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    expect(await fx.count(incidents)).toBe(before + 1);
  });

  it('a repeated validation failure is replayed as the same 422', async () => {
    const key = randomUUID();
    const event = { ...sampleEvent(INCIDENT), incidentType: 'NO-EXISTE' };
    const a = await post(`/v1/events/${INCIDENT}`, event, { 'idempotency-key': key });
    const b = await post(`/v1/events/${INCIDENT}`, event, { 'idempotency-key': key });
    expect(a.statusCode).toBe(422);
    expect(b.statusCode).toBe(422);
    expect(b.json()).toEqual(a.json());
  });

  it('400 for a malformed key', async () => {
    const r = await post(`/v1/events/${INCIDENT}`, sampleEvent(INCIDENT), { 'idempotency-key': 'x'.repeat(300) });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ code: 'BUS_ERR_BAD_REQUEST', message: 'Idempotency-Key must be 1 to 255 printable ASCII characters' });
  });
});

describe('POST /v1/events:batch', () => {
  it('202 when every item was acknowledged', async () => {
    const items = [
      { type: INCIDENT, data: sampleEvent(INCIDENT) },
      { type: 'conred.incident.updated', data: sampleEvent('conred.incident.updated') },
    ];
    const r = await post('/v1/events:batch', { items });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toMatchObject({ accepted: 2, rejected: 0, items: [{ index: 0, status: 202, topic: incidents }, { index: 1, status: 202, topic: incidents }] });
  });

  it('207 with each item\'s outcome when some fail, publishing the good ones', async () => {
    const before = await fx.count(incidents);
    const good = sampleEvent(INCIDENT);
    const r = await post('/v1/events:batch', {
      items: [
        { type: INCIDENT, data: good },
        { type: INCIDENT, data: { ...sampleEvent(INCIDENT), location: { departmentCode: '05', municipalityCode: '99' } } },
        { type: 'pgn.alba-keneth.activated', data: sampleEvent('pgn.alba-keneth.activated') },
        { type: 'no.such.type', data: {} },
      ],
    });
    expect(r.statusCode).toBe(207);
    const body = r.json();
    expect(body.accepted).toBe(1);
    expect(body.rejected).toBe(3);
    expect(body.items[0]).toMatchObject({ index: 0, status: 202, id: good.eventId });
    expect(body.items[1]).toMatchObject({ index: 1, status: 422, error: { code: 'BUS_ERR_VALIDATION', violations: [{ path: '/location/municipalityCode' }] } });
    expect(body.items[2]).toMatchObject({ index: 2, status: 403, error: { code: 'BUS_ERR_NOT_OWNER' } });
    expect(body.items[3]).toMatchObject({ index: 3, status: 404, error: { code: 'BUS_ERR_UNKNOWN_EVENT_TYPE' } });
    expect(await fx.count(incidents)).toBe(before + 1);
  });

  it('413 over the item limit, 422 for a malformed batch', async () => {
    const over = await post('/v1/events:batch', { items: Array.from({ length: 6 }, () => ({ type: INCIDENT, data: sampleEvent(INCIDENT) })) });
    expect(over.statusCode).toBe(413);
    expect(over.json()).toEqual({ code: 'BUS_ERR_PAYLOAD_TOO_LARGE', message: 'a batch holds at most 5 items, not 6' });
    const malformed = await post('/v1/events:batch', { things: [] });
    expect(malformed.statusCode).toBe(422);
    expect(malformed.json()).toMatchObject({ code: 'BUS_ERR_VALIDATION', violations: expect.arrayContaining([expect.objectContaining({ path: '/items' })]) });
  });
});

describe('rate limit', () => {
  it('429 with Retry-After beyond the per-key rate', async () => {
    const limited = await buildGateway({ pool: fx.pool, schema: fx.schema, topicPrefix: fx.prefix, autoRegister: true, rateLimitPerMinute: 2, apiKeyCacheMs: 0 });
    try {
      const send = () =>
        limited.inject({ method: 'POST', url: `/v1/events/${INCIDENT}`, headers: { 'content-type': 'application/json', authorization: `Bearer ${conredKey}` }, payload: JSON.stringify(sampleEvent(INCIDENT)) });
      expect((await send()).statusCode).toBe(202);
      expect((await send()).statusCode).toBe(202);
      const r = await send();
      expect(r.statusCode).toBe(429);
      expect(r.json()).toEqual({ code: 'BUS_ERR_RATE_LIMITED', message: expect.stringContaining('rate limit of 2 requests per minute') });
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});

describe('failed authentication rate limit', () => {
  it('failed auth is rate-limited per address before the key look-up: random bad keys get 429 after the limit, without database queries', async () => {
    let queries = 0;
    const counting = Object.create(fx.pool, {
      query: { value: (...args: unknown[]) => (queries++, (fx.pool.query as (...a: unknown[]) => unknown)(...args)) },
    }) as typeof fx.pool;
    const limited = await buildGateway({ pool: counting, schema: fx.schema, topicPrefix: fx.prefix, autoRegister: true, authFailuresPerMinute: 5, apiKeyCacheMs: 0 });
    try {
      const send = (key: string | undefined, remoteAddress = '203.0.113.7') =>
        limited.inject({
          method: 'POST', url: `/v1/events/${INCIDENT}`, remoteAddress, payload: JSON.stringify(sampleEvent(INCIDENT)),
          headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        });
      for (let i = 0; i < 4; i++) expect((await send(`sns_bogus_${randomUUID()}`)).statusCode).toBe(401);
      expect((await send(undefined)).statusCode).toBe(401); // a missing key is a failure too
      const lookups = queries;
      for (let i = 0; i < 20; i++) {
        const r = await send(`sns_bogus_${randomUUID()}`);
        expect(r.statusCode).toBe(429);
        expect(r.json()).toEqual({ code: 'BUS_ERR_RATE_LIMITED', message: expect.stringContaining('too many failed authentications') });
        expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      }
      expect(queries).toBe(lookups);
      // Another address is not affected, and a valid key from it still publishes.
      expect((await send(`sns_bogus_${randomUUID()}`, '203.0.113.8')).statusCode).toBe(401);
      expect((await send(conredKey, '203.0.113.8')).statusCode).toBe(202);
    } finally {
      await limited.close();
    }
  });
});

describe('Idempotency-Key and server-side failures', () => {
  it('a 5xx the server caused (schema not registered) is not stored under the key: after the fix, the same request with the same key publishes', async () => {
    const own = await createGatewayFixture('gateway-unregistered', ['sns.conred.incidents.v1']);
    const strict = await buildGateway({ pool: own.pool, schema: own.schema, topicPrefix: own.prefix, autoRegister: false, apiKeyCacheMs: 0, deliveryTimeoutMs: 5_000 });
    try {
      const key = (await own.keys.create('CONRED', 'test')).key;
      const event = sampleEvent(INCIDENT);
      const send = () =>
        strict.inject({
          method: 'POST',
          url: `/v1/events/${INCIDENT}`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'idempotency-key': 'retry-after-fix' },
          payload: JSON.stringify(event),
        });
      const failed = await send();
      expect(failed.statusCode).toBeGreaterThanOrEqual(500);
      expect(failed.json().code).toBe('BUS_ERR_SCHEMA_NOT_REGISTERED');
      // The operator registers the schema (npm run schemas:register), then the client retries as it was told to.
      const contract = getContract(INCIDENT);
      await createRegistry(readEndpoints().registryUrl).register(subjectFor(own.topicOf(INCIDENT), contract.subjectRecordName), contract.schema);
      const retried = await send();
      expect(retried.statusCode).toBe(202);
      expect(retried.headers['idempotent-replayed']).toBeUndefined();
      expect(retried.json().id).toBe(event.eventId);
      expect(await own.count(own.topicOf(INCIDENT))).toBe(1);
      // Now the key holds the 202: a further retry is replayed and publishes nothing.
      const again = await send();
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(await own.count(own.topicOf(INCIDENT))).toBe(1);
    } finally {
      await strict.close();
      await own.close();
    }
  });
});

describe('operations', () => {
  it('/health, /ready, /metrics and /docs', async () => {
    expect((await app.inject('/health')).json()).toEqual({ status: 'ok' });
    const ready = await app.inject('/ready');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { kafka: 'ok', registry: 'ok', database: 'ok' } });
    const metrics = (await app.inject('/metrics')).body;
    expect(metrics).toMatch(/sns_gateway_requests_total\{route="\/v1\/events\/:eventType",method="POST",status="202"\} \d+/);
    expect(metrics).toMatch(/sns_gateway_events_published_total\{institution="CONRED",event_type="conred.incident.reported"\} \d+/);
    expect(metrics).toMatch(/sns_gateway_errors_total\{code="BUS_ERR_AUTH"\} \d+/);
    expect(metrics).toContain('sns_gateway_request_duration_seconds_bucket');
    expect(metrics).toContain('sns_gateway_publish_duration_seconds_bucket');
    const docs = (await app.inject('/docs/json')).json();
    expect(Object.keys(docs.paths)).toEqual(expect.arrayContaining(['/v1/events/{eventType}', '/v1/events:batch', '/ready']));
    expect((await app.inject('/docs')).statusCode).toBeLessThan(400);
  });

  it('every error code the gateway answers with is in the bus\'s closed list', () => {
    for (const code of ['BUS_ERR_AUTH', 'BUS_ERR_MALFORMED_JSON', 'BUS_ERR_PAYLOAD_TOO_LARGE', 'BUS_ERR_UNSUPPORTED_MEDIA_TYPE', 'BUS_ERR_RATE_LIMITED', 'BUS_ERR_IDEMPOTENCY_CONFLICT']) {
      expect(ERROR_CODES).toHaveProperty(code);
    }
  });
});
