/**
 * The HTTP ingest gateway: institutions without a Kafka client publish
 * through it, under the same contracts and rules as the SDK (it publishes
 * through the SDK, one producer per institution).
 *
 * `buildGateway(options)` returns a Fastify instance that is not listening;
 * tests use `app.inject()` and `producers/gateway/main.ts` calls `listen`.
 * A `202` means Kafka acknowledged the event: there is no other path to it.
 */
import { createHash, randomUUID } from 'node:crypto';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Admin } from 'kafkajs';
import { loadCatalog } from '../../catalog/index.ts';
import { BrokerUnavailableError, BusError, createKafka, isBusError, readEndpoints, type ErrorCode, type Violation } from '../../core/index.ts';
import { createProducer, type Producer, type PublishResult } from '../producer.ts';
import { createApiKeyStore, hashApiKey, type Principal } from './api-keys.ts';
import { assertIngestSchema } from './database.ts';
import { createIdempotencyStore, requestHash, type IdempotencyStore } from './idempotency.ts';
import { createGatewayMetrics } from './metrics.ts';
import { resolveGatewayOptions, type GatewayOptions } from './options.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The institution behind the request's API key, set by the authentication hook. */
    principal?: Principal;
  }
}

/** HTTP status of each error code the gateway answers with. */
const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  BUS_ERR_MALFORMED_JSON: 400,
  BUS_ERR_BAD_REQUEST: 400,
  BUS_ERR_AUTH: 401,
  BUS_ERR_NOT_OWNER: 403,
  BUS_ERR_NOT_FOUND: 404,
  BUS_ERR_UNKNOWN_EVENT_TYPE: 404,
  BUS_ERR_IDEMPOTENCY_CONFLICT: 409,
  BUS_ERR_IDEMPOTENCY_IN_PROGRESS: 409,
  BUS_ERR_PAYLOAD_TOO_LARGE: 413,
  BUS_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  BUS_ERR_VALIDATION: 422,
  BUS_ERR_RATE_LIMITED: 429,
  BUS_ERR_BROKER_UNAVAILABLE: 503,
  BUS_ERR_REGISTRY_UNAVAILABLE: 503,
  BUS_ERR_STORE_UNAVAILABLE: 503,
  BUS_ERR_PRODUCER_CLOSED: 503,
};

/** The HTTP status the gateway answers a BusError with (500 for codes it does not expect). */
export function httpStatusOf(code: ErrorCode): number {
  return STATUS_OF[code] ?? 500;
}

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

const errorSchema = {
  $id: 'BusErrorBody',
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', description: 'Stable error code (see the README error table)' },
    message: { type: 'string' },
    violations: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: { path: { type: 'string' }, message: { type: 'string' }, rule: { type: 'string' } },
      },
    },
  },
} as const;

const ackSchema = {
  $id: 'Acknowledged',
  type: 'object',
  required: ['id', 'topic', 'partition', 'offset'],
  properties: {
    id: { type: 'string', description: 'Event id (data.eventId, CloudEvents ce_id)' },
    topic: { type: 'string' },
    partition: { type: 'integer' },
    offset: { type: 'string', description: 'Kafka offset (decimal string: it may exceed 2^53)' },
  },
} as const;

const errorResponses = Object.fromEntries(
  [400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503].map((s) => [s, { $ref: 'BusErrorBody#' }]),
);

interface ItemOutcome {
  index: number;
  status: number;
  id?: string;
  topic?: string;
  partition?: number;
  offset?: string;
  error?: { code: string; message: string; violations?: readonly Violation[] };
}

interface BatchBody {
  accepted: number;
  rejected: number;
  items: ItemOutcome[];
}

/** Namespace of the event ids derived from Idempotency-Keys (a fixed random UUID). */
const IDEMPOTENT_EVENT_ID_NAMESPACE = Buffer.from('5f0b7a3e9c2d4e8a8b1f6d0c2a4e7b91', 'hex');

/**
 * The event id of a body without `eventId` sent with an Idempotency-Key: a
 * UUIDv5-style (SHA-1, name-based) hash of the institution, the key, the
 * item's index in a batch (`undefined` for a single event), the event type and
 * the event as sent, so every retry of the same request publishes the same id
 * (consumers deduplicate on it), while a different event sent with a key used
 * before (after the idempotency window, when the gateway no longer answers 409)
 * never takes the earlier event's id and is never dropped as its duplicate.
 */
export function idempotentEventId(institution: string, idempotencyKey: string, eventType: string, data: unknown, index?: number): string {
  const name = JSON.stringify([institution, idempotencyKey, index ?? null, requestHash(eventType, data).toString('hex')]);
  const b = createHash('sha1').update(IDEMPOTENT_EVENT_ID_NAMESPACE).update(name, 'utf8').digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The event id to publish when the body has none: derived from the Idempotency-Key and the event when there is a key, else random. */
function eventIdFor(req: FastifyRequest, institution: string, eventType: string, data: unknown, index?: number): string {
  const key = req.headers['idempotency-key'];
  return typeof key === 'string' && IDEMPOTENCY_KEY.test(key) ? idempotentEventId(institution, key, eventType, data, index) : randomUUID();
}

/** A batch stored under an Idempotency-Key still has work to redo when an item failed retriably. */
function batchResumable(body: unknown): boolean {
  const items = (body as BatchBody | null)?.items;
  return Array.isArray(items) && items.some((i) => i.status >= 500);
}

function errorBody(err: BusError): { code: string; message: string; violations?: readonly Violation[] } {
  return err.toJSON();
}

/** Violations from Fastify's (ajv) body validation, as JSON-Pointer paths. */
function ajvViolations(err: FastifyError): Violation[] {
  return (err.validation ?? []).map((v) => {
    const missing = (v.params as { missingProperty?: string } | undefined)?.missingProperty;
    return {
      path: `${v.instancePath}${missing ? `/${missing}` : ''}` || '/',
      message: v.message ?? 'is invalid',
      rule: String(v.keyword),
    };
  });
}

/** Maps any error reaching Fastify's error handler to a BusError. */
function toBusError(err: FastifyError | BusError | Error): BusError {
  if (err instanceof BusError) return err;
  const fe = err as FastifyError;
  if (fe.validation) return new BusError('BUS_ERR_VALIDATION', `request ${fe.validationContext ?? 'body'} ${fe.message}`, { violations: ajvViolations(fe) });
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        return new BusError('BUS_ERR_UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
      }
      return new BusError('BUS_ERR_BAD_REQUEST', 'Content-Length does not match the body');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BusError('BUS_ERR_PAYLOAD_TOO_LARGE', fe.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new BusError('BUS_ERR_MALFORMED_JSON', 'the body is empty; send one JSON object');
  }
  if (err instanceof SyntaxError || fe.statusCode === 400) {
    // The parser's message names the position, never the content.
    return new BusError('BUS_ERR_MALFORMED_JSON', `the body is not valid JSON: ${err.message.replace(/"[^"]*"/g, '…').slice(0, 200)}`);
  }
  if (fe.statusCode === 413) return new BusError('BUS_ERR_PAYLOAD_TOO_LARGE', fe.message);
  if (fe.statusCode === 415) return new BusError('BUS_ERR_UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
  return new BusError('BUS_ERR_INTERNAL', 'unexpected error; see the gateway log', { cause: err });
}

/** Rejects with BUS_ERR_BROKER_UNAVAILABLE when `p` takes longer than `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BrokerUnavailableError(`${what}: no acknowledgement within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Most client addresses the failed-authentication limiter remembers (its memory bound). */
const AUTH_FAILURE_ADDRESSES = 10_000;

/**
 * Failed authentications per client address in fixed one-minute windows,
 * kept in memory (bounded: expired windows, else the oldest, make room).
 * Checked before the key look-up, so bogus keys cost no database query
 * beyond the limit.
 */
function createAuthFailureLimiter(maxPerMinute: number, maxAddresses = AUTH_FAILURE_ADDRESSES) {
  const windows = new Map<string, { count: number; resetAt: number }>();
  return {
    /** Seconds until `address` may try again (0: it may now). */
    blockedForS(address: string, now = Date.now()): number {
      const w = windows.get(address);
      return w && w.resetAt > now && w.count >= maxPerMinute ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : 0;
    },
    fail(address: string, now = Date.now()): void {
      let w = windows.get(address);
      if (!w || w.resetAt <= now) {
        windows.delete(address);
        if (windows.size >= maxAddresses) {
          for (const [k, v] of windows) if (v.resetAt <= now) windows.delete(k);
          if (windows.size >= maxAddresses) windows.delete(windows.keys().next().value!);
        }
        w = { count: 0, resetAt: now + 60_000 };
        windows.set(address, w);
      }
      w.count++;
    },
  };
}

/**
 * Builds the gateway (routes, authentication, idempotency, rate limit,
 * metrics, OpenAPI at /docs). Throws BUS_ERR_CONFIG for bad options. Closing
 * the instance closes the producers and the readiness client it created; the
 * caller closes the pool.
 */
export async function buildGateway(options: GatewayOptions): Promise<FastifyInstance> {
  const opts = resolveGatewayOptions(options);
  assertIngestSchema(opts.schema);
  const catalog = opts.catalog ?? loadCatalog();
  const endpoints = readEndpoints();
  const registryUrl = (opts.registryUrl ?? endpoints.registryUrl).replace(/\/+$/, '');
  const log = opts.logger;
  const metrics = createGatewayMetrics();
  const keys = createApiKeyStore(opts.pool, opts.schema, opts.apiKeyCacheMs);
  const authFailures = createAuthFailureLimiter(opts.authFailuresPerMinute);
  const idempotency: IdempotencyStore = createIdempotencyStore(opts.pool, opts.schema, opts.idempotencyWindowMs, opts.deliveryTimeoutMs * 3);
  const kafka = opts.kafka ?? createKafka({ clientId: 'sns-gateway', brokers: opts.brokers, logger: log, retry: { retries: 0 } });

  const producers = new Map<string, Producer>();
  function producerFor(institution: string): Producer {
    let p = producers.get(institution);
    if (!p) {
      p = opts.producerFor
        ? opts.producerFor(institution)
        : createProducer({
            institution,
            catalog,
            brokers: opts.brokers,
            kafka: opts.kafka,
            registryUrl,
            topicPrefix: opts.topicPrefix,
            autoRegister: opts.autoRegister,
            logger: log,
            deliveryTimeoutMs: opts.deliveryTimeoutMs,
            lingerMs: 2,
          });
      producers.set(institution, p);
    }
    return p;
  }

  const app = Fastify({
    ...(log ? { loggerInstance: log } : { logger: false }),
    bodyLimit: opts.bodyLimitBytes,
    // One log line per request, written in onResponse with the institution; Fastify's own pair is off.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: () => randomUUID(),
    ajv: { customOptions: { allErrors: true, coerceTypes: false, removeAdditional: false } },
  });
  // JSON only: Fastify would otherwise accept text/plain bodies.
  app.removeContentTypeParser('text/plain');
  app.addSchema(errorSchema);
  app.addSchema(ackSchema);

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'SNS ingest gateway',
        version: '1.0.0',
        description:
          'Publishes events to the SNS bus for institutions without a Kafka client. A 202 means Kafka acknowledged the event. ' +
          'Authenticate with `Authorization: Bearer <API key>`; send `Idempotency-Key` to retry safely.',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  await app.register(fastifyRateLimit, {
    global: false,
    max: opts.rateLimitPerMinute,
    timeWindow: 60_000,
    // Per presented credential (hashed: the limiter's memory holds no keys), else per address.
    keyGenerator: (req) => {
      const cred = credentialOf(req);
      return cred ? hashApiKey(cred).toString('hex') : `ip:${req.ip}`;
    },
    errorResponseBuilder: (_req, ctx) =>
      Object.assign(new BusError('BUS_ERR_RATE_LIMITED', `rate limit of ${ctx.max} requests per minute exceeded; retry in ${ctx.after}`), {
        retryAfterS: Math.max(1, Math.ceil(ctx.ttl / 1000)),
      }),
  });

  app.setErrorHandler((err: FastifyError | BusError, req, reply) => {
    const bus = toBusError(err);
    const status = httpStatusOf(bus.code);
    if (status >= 500) req.log.error({ code: bus.code, err: bus.cause instanceof Error ? bus.cause.message : bus.message, reqId: req.id }, 'request failed');
    const retryAfterS = (err as { retryAfterS?: number }).retryAfterS;
    if (retryAfterS) void reply.header('retry-after', String(retryAfterS));
    if (status === 401) void reply.header('www-authenticate', 'Bearer realm="sns-gateway"');
    if (status === 503) void reply.header('retry-after', '5');
    return reply.code(status).send(errorBody(bus));
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send(errorBody(new BusError('BUS_ERR_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`)));
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const labels = { route, method: req.method, status: String(reply.statusCode) };
    metrics.requests.inc(labels);
    metrics.requestSeconds.observe(labels, reply.elapsedTime / 1000);
    if (reply.statusCode >= 400) {
      const code = (reply as unknown as { errorCode?: string }).errorCode;
      if (code) metrics.errors.inc({ code });
    }
    req.log.info(
      { reqId: req.id, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime), institution: req.principal?.institution, keyId: req.principal?.keyId },
      'request',
    );
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    // Count error codes from the bodies we send (the one place every error passes).
    if (reply.statusCode >= 400 && typeof payload === 'string' && payload.startsWith('{"code":"')) {
      const code = payload.slice(9, payload.indexOf('"', 9));
      (reply as unknown as { errorCode?: string }).errorCode = code;
    }
    return payload;
  });

  /** Authentication: the institution comes from the API key and from nowhere else. */
  async function authenticate(req: FastifyRequest): Promise<void> {
    // Before the key look-up: an address sending bad keys is refused without a database query.
    const waitS = authFailures.blockedForS(req.ip);
    if (waitS > 0) {
      throw Object.assign(new BusError('BUS_ERR_RATE_LIMITED', `too many failed authentications from this address; retry in ${waitS} s`), { retryAfterS: waitS });
    }
    const cred = credentialOf(req);
    if (!cred) {
      authFailures.fail(req.ip);
      throw new BusError('BUS_ERR_AUTH', 'missing API key: send `Authorization: Bearer <key>`');
    }
    const principal = await keys.verify(cred);
    if (!principal) {
      authFailures.fail(req.ip);
      throw new BusError('BUS_ERR_AUTH', 'invalid or revoked API key');
    }
    req.principal = principal;
  }

  function assertMayPublish(institution: string, eventType: string): void {
    if (!catalog.isDeclaredEventType(eventType)) {
      throw new BusError('BUS_ERR_UNKNOWN_EVENT_TYPE', `unknown event type "${eventType}"; known: ${catalog.eventTypes.join(', ')}`);
    }
    const owner = catalog.ownerOf(eventType);
    if (owner !== institution) {
      throw new BusError('BUS_ERR_NOT_OWNER', `institution ${institution} may not publish ${eventType}: its topic belongs to ${owner}`);
    }
  }

  async function publishOne(institution: string, eventType: string, data: Record<string, unknown>, reqId: string): Promise<PublishResult> {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const producer = producerFor(institution);
      // The SDK bounds the acknowledgement by deliveryTimeoutMs; this guard also bounds its first metadata look-ups.
      const ack = await withTimeout(producer.publish(eventType as never, data as never), opts.deliveryTimeoutMs + 2_000, eventType);
      metrics.published.inc({ institution, event_type: eventType });
      metrics.publishSeconds.observe({ event_type: eventType, outcome: 'acknowledged' }, seconds());
      log?.info({ reqId, eventId: ack.id, institution, eventType, topic: ack.topic, partition: ack.partition, offset: ack.offset }, 'event published');
      return ack;
    } catch (err) {
      const outcome = isBusError(err) && err.retriable ? 'unavailable' : 'rejected';
      metrics.publishSeconds.observe({ event_type: eventType, outcome }, seconds());
      if (outcome === 'unavailable') log?.warn({ reqId, eventId: data.eventId, institution, eventType, code: (err as BusError).code }, 'event not acknowledged');
      throw err;
    }
  }

  /**
   * Runs `work` under the request's Idempotency-Key, if any: replays a stored
   * response, refuses a reused key with another body, waits for a concurrent
   * request with the same key, and stores the outcome (releasing the key when
   * nothing was acknowledged or the failure was the server's, so a retry can publish).
   */
  async function idempotent(
    req: FastifyRequest,
    reply: FastifyReply,
    route: string,
    work: (previous: unknown) => Promise<{ status: number; body: unknown; keep: boolean }>,
    resumable?: (body: unknown) => boolean,
  ): Promise<unknown> {
    const header = req.headers['idempotency-key'];
    if (header === undefined) {
      const r = await work(undefined);
      return reply.code(r.status).send(r.body);
    }
    if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
      throw new BusError('BUS_ERR_BAD_REQUEST', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
    }
    const institution = req.principal!.institution;
    const hash = requestHash(route, req.body);
    const waitUntil = Date.now() + opts.idempotencyWaitMs;
    let delayMs = 20;
    for (;;) {
      const claim = await idempotency.claim(institution, header, hash, resumable);
      if (claim.kind === 'conflict') {
        throw new BusError('BUS_ERR_IDEMPOTENCY_CONFLICT', 'this Idempotency-Key was already used with a different request body');
      }
      if (claim.kind === 'replay') {
        return reply.code(claim.status).header('idempotent-replayed', 'true').send(claim.body);
      }
      if (claim.kind === 'owner') {
        let r: { status: number; body: unknown; keep: boolean };
        try {
          r = await work(claim.previous);
        } catch (err) {
          // A refusal of the request itself (4xx) is its answer for the window; a server-side failure (5xx: a schema
          // not registered yet, a misconfiguration) is not: the key is freed, so a retry after the fix publishes.
          if (isBusError(err) && !err.retriable && httpStatusOf(err.code) < 500) {
            await idempotency.complete(institution, header, httpStatusOf(err.code), errorBody(err));
          } else {
            await idempotency.release(institution, header).catch(() => undefined);
          }
          throw err;
        }
        if (r.keep) await idempotency.complete(institution, header, r.status, r.body);
        else await idempotency.release(institution, header);
        return reply.code(r.status).send(r.body);
      }
      if (Date.now() >= waitUntil) {
        throw new BusError('BUS_ERR_IDEMPOTENCY_IN_PROGRESS', 'a request with this Idempotency-Key is still being processed; retry later');
      }
      await new Promise((res) => setTimeout(res, delayMs));
      delayMs = Math.min(delayMs * 2, 250);
    }
  }

  const security = [{ apiKey: [] }];
  const idempotencyHeader = {
    type: 'object',
    properties: {
      'idempotency-key': { type: 'string', description: 'Retry key: the same key and body return the stored response and publish nothing new' },
    },
  } as const;

  app.post<{ Params: { eventType: string }; Body: Record<string, unknown> }>(
    '/v1/events/:eventType',
    {
      config: { rateLimit: {} },
      onRequest: authenticate,
      schema: {
        summary: 'Publish one event',
        description:
          'The body is the event data as JSON, checked by the same contract and rules as the SDK. `eventId` (UUID) is generated when absent: ' +
          'derived from the Idempotency-Key and the event when a key is sent (so retries of the same request publish the same id), else random. ' +
          'The publishing institution is the API key\'s, never the body\'s or a header\'s.',
        tags: ['events'],
        security,
        params: { type: 'object', required: ['eventType'], properties: { eventType: { type: 'string', enum: [...catalog.eventTypes] } } },
        headers: idempotencyHeader,
        body: { type: 'object', additionalProperties: true },
        response: { 202: { $ref: 'Acknowledged#' }, ...errorResponses },
      },
      // An unknown event type is a 404 with the bus's code, not a 422 from the params schema.
      preValidation: async (req) => {
        if (!catalog.isDeclaredEventType(req.params.eventType)) assertMayPublish(req.principal!.institution, req.params.eventType);
      },
    },
    async (req, reply) => {
      const { eventType } = req.params;
      const institution = req.principal!.institution;
      assertMayPublish(institution, eventType);
      return idempotent(req, reply, `POST /v1/events/${eventType}`, async () => {
        const data = { ...req.body };
        // Derived from the Idempotency-Key: a retry after a 503 (or a lost response) publishes the same id.
        data.eventId ??= eventIdFor(req, institution, eventType, req.body);
        const ack = await publishOne(institution, eventType, data, req.id);
        return { status: 202, body: ack, keep: true };
      });
    },
  );

  const outcomeSchema = {
    type: 'object',
    required: ['index', 'status'],
    properties: {
      index: { type: 'integer' },
      status: { type: 'integer', description: '202 acknowledged, or the status a single request would have had' },
      id: { type: 'string' },
      topic: { type: 'string' },
      partition: { type: 'integer' },
      offset: { type: 'string' },
      error: { $ref: 'BusErrorBody#' },
    },
  } as const;
  const batchResponse = {
    type: 'object',
    required: ['accepted', 'rejected', 'items'],
    properties: { accepted: { type: 'integer' }, rejected: { type: 'integer' }, items: { type: 'array', items: outcomeSchema } },
  } as const;

  app.post<{ Body: { items: { type: string; data: Record<string, unknown> }[] } }>(
    '/v1/events::batch',
    {
      config: { rateLimit: {} },
      onRequest: authenticate,
      schema: {
        summary: 'Publish several events, each with its own outcome',
        description:
          `Up to ${opts.batchMaxItems} items. Each item is validated and published on its own: the answer is 202 when every item was ` +
          'acknowledged, else 207 with each item\'s status and error. With an Idempotency-Key, a retry redoes only the items that failed with 5xx.',
        tags: ['events'],
        security,
        headers: idempotencyHeader,
        body: {
          type: 'object',
          required: ['items'],
          additionalProperties: false,
          properties: {
            items: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                required: ['type', 'data'],
                additionalProperties: false,
                properties: { type: { type: 'string' }, data: { type: 'object', additionalProperties: true } },
              },
            },
          },
        },
        response: { 202: batchResponse, 207: batchResponse, ...errorResponses },
      },
      preValidation: async (req) => {
        const items = (req.body as { items?: unknown } | null)?.items;
        if (Array.isArray(items) && items.length > opts.batchMaxItems) {
          throw new BusError('BUS_ERR_PAYLOAD_TOO_LARGE', `a batch holds at most ${opts.batchMaxItems} items, not ${items.length}`);
        }
      },
    },
    async (req, reply) => {
      const institution = req.principal!.institution;
      return idempotent(
        req,
        reply,
        'POST /v1/events:batch',
        async (previous) => {
          const before = (previous as BatchBody | undefined)?.items;
          const items = await Promise.all(
            req.body.items.map(async (item, index): Promise<ItemOutcome> => {
              const done = before?.[index];
              if (done && done.status < 500) return done;
              try {
                assertMayPublish(institution, item.type);
                const data = { ...item.data };
                data.eventId ??= eventIdFor(req, institution, item.type, item.data, index);
                return { index, status: 202, ...(await publishOne(institution, item.type, data, req.id)) };
              } catch (err) {
                const bus = isBusError(err) ? err : toBusError(err as Error);
                metrics.errors.inc({ code: bus.code });
                return { index, status: httpStatusOf(bus.code), error: errorBody(bus) };
              }
            }),
          );
          const accepted = items.filter((i) => i.status === 202).length;
          const body: BatchBody = { accepted, rejected: items.length - accepted, items };
          return { status: accepted === items.length ? 202 : 207, body, keep: true };
        },
        batchResumable,
      );
    },
  );

  app.get('/health', { schema: { summary: 'Liveness', tags: ['operations'] } }, async () => ({ status: 'ok' }));

  let admin: Admin | undefined;
  let kafkaCheck: Promise<void> | undefined;
  async function checkKafka(): Promise<void> {
    kafkaCheck ??= (async () => {
      try {
        admin ??= kafka.admin();
        await admin.connect();
        await admin.describeCluster();
      } catch (err) {
        await admin?.disconnect().catch(() => undefined);
        admin = undefined;
        throw err;
      }
    })().finally(() => (kafkaCheck = undefined));
    return kafkaCheck;
  }
  async function check(name: string, fn: () => Promise<unknown>): Promise<[string, string]> {
    try {
      await withTimeout(fn(), opts.readyTimeoutMs, name);
      return [name, 'ok'];
    } catch {
      return [name, 'unreachable'];
    }
  }
  app.get('/ready', { schema: { summary: 'Readiness: Kafka, the schema registry and PostgreSQL reachable', tags: ['operations'] } }, async (_req, reply) => {
    const checks = Object.fromEntries(
      await Promise.all([
        check('kafka', checkKafka),
        check('registry', async () => {
          const r = await fetch(`${registryUrl}/subjects`, { signal: AbortSignal.timeout(opts.readyTimeoutMs) });
          if (!r.ok) throw new Error(`HTTP ${r.status}`);
          await r.arrayBuffer();
        }),
        check('database', () => opts.pool.query('SELECT 1')),
      ]),
    );
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', checks });
  });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (_req, reply) => {
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  const purge = setInterval(() => void idempotency.purgeExpired().catch(() => undefined), 60 * 60_000);
  purge.unref();
  app.addHook('onClose', async () => {
    clearInterval(purge);
    await Promise.all([...producers.values()].map((p) => p.close().catch(() => undefined)));
    await admin?.disconnect().catch(() => undefined);
  });
  return app as unknown as FastifyInstance;
}

/** The API key presented as `Authorization: Bearer <key>` or `X-Api-Key: <key>`. */
function credentialOf(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  const x = req.headers['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x : undefined;
}
