/**
 * The push server (`npm run push`): delivers the alerts stored by the alert
 * service to ST operators and subscribers.
 *
 * - SSE `GET /v1/alerts/stream` (`id:` = alert seq; `Last-Event-ID` resumes with
 *   no gap and no duplicate; filters `severity`, `department`, `status`);
 * - webhooks (register, rotate secrets, deliveries) signed as Standard Webhooks;
 * - CAP 1.2 XML `GET /v1/alerts/{identifier}.cap` and an Atom feed of CAP;
 * - acknowledgement by an operator; the dashboard (Spanish) at `/dashboard/`.
 *
 * `buildPushServer(options)` returns the Fastify app without listening; its
 * background work (hub, webhook worker) starts on `ready()` and stops on `close()`.
 * Operator endpoints need `Authorization: Bearer <token>` (ALERTS_API_TOKENS).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { loadCatalogs } from '../../contracts/index.ts';
import { BusError, isBusError, readEndpoints, type Logger } from '../../core/index.ts';
import { createStorePool, DEFAULT_STORE_SCHEMA, historyRoutes, withTransaction } from '../index.ts';
import { atomFeed, capXml } from './cap.ts';
import { createAlertHub, type HubClient } from './hub.ts';
import { ALERT_DEFAULTS, assertPositiveInts, parseOperatorTokens } from './options.ts';
import { createAlertStore, migrateAlerts, type AlertFilter } from './store.ts';
import { assertWebhookUrl, createWebhookDispatcher, newWebhookSecret } from './webhooks.ts';

export interface PushServerOptions {
  /** PostgreSQL of the alerts schema; defaults to DATABASE_URL. */
  databaseUrl?: string;
  /** Alerts schema; default ALERTS_SCHEMA or `alerts`. */
  schema?: string;
  /** Operator tokens (`token[:operator]`); default ALERTS_API_TOKENS. */
  tokens?: readonly string[];
  /** Accept webhook URLs on private/loopback addresses (development); default ALERTS_WEBHOOK_ALLOW_PRIVATE=true. */
  allowPrivateWebhooks?: boolean;
  /** Base URL used in the feed's links; default from the request. */
  publicUrl?: string;
  logger?: Logger;
  /** Run the alerts migrations on ready (default true). */
  migrate?: boolean;
  pollMs?: number;
  ringSize?: number;
  heartbeatMs?: number;
  retryMs?: number;
  /** Unsent bytes an SSE response may hold before it is closed; a client with a quarter of it unsent is fed at its own pace from its cursor. Default 1 MiB. */
  sseMaxBufferedBytes?: number;
  /** A client that takes none of its unsent bytes for this long is closed (default 30 s). */
  sseStallMs?: number;
  webhookRetryInitialMs?: number;
  webhookRetryMaxMs?: number;
  webhookMaxAttempts?: number;
  webhookTimeoutMs?: number;
  webhookPollMs?: number;
  webhookSecretGraceMs?: number;
}

const DASHBOARD_DIR = new URL('./dashboard/', import.meta.url);
const DASHBOARD_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

const HTTP_STATUS: Partial<Record<string, number>> = {
  BUS_ERR_AUTH: 401,
  BUS_ERR_ALERT_NOT_FOUND: 404,
  BUS_ERR_NOT_FOUND: 404,
  BUS_ERR_WEBHOOK_URL_REJECTED: 400,
  BUS_ERR_BAD_REQUEST: 400,
  BUS_ERR_STORE_UNAVAILABLE: 503,
};

const SEVERITIES = ['Extreme', 'Severe', 'Moderate', 'Minor', 'Unknown'] as const;
const STATUSES = ['Actual', 'Exercise', 'System', 'Test', 'Draft'] as const;
const csv = (v: string | undefined) => (v ? v.split(',').map((x) => x.trim()).filter(Boolean) : undefined);

const filterQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    severity: { type: 'string', pattern: `^(${SEVERITIES.join('|')})(,(${SEVERITIES.join('|')}))*$` },
    department: { type: 'string', pattern: '^\\d{2}(,\\d{2})*$' },
    status: { type: 'string', pattern: `^(${STATUSES.join('|')})(,(${STATUSES.join('|')}))*$` },
    lastEventId: { type: 'string', pattern: '^\\d{1,19}$' },
    limit: { type: 'integer', minimum: 1, maximum: 500 },
    before: { type: 'string', pattern: '^\\d{1,19}$' },
  },
} as const;

type FilterQuery = { severity?: string; department?: string; status?: string; lastEventId?: string; limit?: number; before?: string };

function filterOf(q: FilterQuery): AlertFilter {
  return { severities: csv(q.severity), departments: csv(q.department), statuses: csv(q.status) };
}

/** Builds the push server (not listening). Throws BUS_ERR_CONFIG for bad options or no tokens. */
export function buildPushServer(options: PushServerOptions = {}): FastifyInstance {
  const env = process.env;
  const o = {
    pollMs: options.pollMs ?? ALERT_DEFAULTS.pushPollMs,
    ringSize: options.ringSize ?? ALERT_DEFAULTS.sseRingSize,
    heartbeatMs: options.heartbeatMs ?? ALERT_DEFAULTS.sseHeartbeatMs,
    retryMs: options.retryMs ?? ALERT_DEFAULTS.sseRetryMs,
    sseMaxBufferedBytes: options.sseMaxBufferedBytes ?? ALERT_DEFAULTS.sseMaxBufferedBytes,
    sseStallMs: options.sseStallMs ?? ALERT_DEFAULTS.sseStallMs,
    webhookRetryInitialMs: options.webhookRetryInitialMs ?? ALERT_DEFAULTS.webhookRetryInitialMs,
    webhookRetryMaxMs: options.webhookRetryMaxMs ?? ALERT_DEFAULTS.webhookRetryMaxMs,
    webhookMaxAttempts: options.webhookMaxAttempts ?? ALERT_DEFAULTS.webhookMaxAttempts,
    webhookTimeoutMs: options.webhookTimeoutMs ?? ALERT_DEFAULTS.webhookTimeoutMs,
    webhookPollMs: options.webhookPollMs ?? ALERT_DEFAULTS.webhookPollMs,
    webhookSecretGraceMs: options.webhookSecretGraceMs ?? ALERT_DEFAULTS.webhookSecretGraceMs,
  };
  assertPositiveInts('buildPushServer', o, 1, ['pollMs', 'heartbeatMs', 'sseStallMs', 'webhookTimeoutMs', 'webhookPollMs']);
  const tokens = parseOperatorTokens(options.tokens ?? (env.ALERTS_API_TOKENS ?? '').split(','));
  const schema = options.schema ?? env.ALERTS_SCHEMA ?? ALERT_DEFAULTS.schema;
  const databaseUrl = options.databaseUrl ?? readEndpoints().databaseUrl;
  const allowPrivate = options.allowPrivateWebhooks ?? env.ALERTS_WEBHOOK_ALLOW_PRIVATE === 'true';
  const log = options.logger?.child({ component: 'push' });

  const pool = createStorePool(databaseUrl, 10);
  const store = createAlertStore(pool, schema);
  const hub = createAlertHub({ store, databaseUrl, pollMs: o.pollMs, ringSize: o.ringSize, logger: log });
  const dispatcher = createWebhookDispatcher({
    pool,
    schema,
    allowPrivate,
    retryInitialMs: o.webhookRetryInitialMs,
    retryMaxMs: o.webhookRetryMaxMs,
    maxAttempts: o.webhookMaxAttempts,
    timeoutMs: o.webhookTimeoutMs,
    pollMs: o.webhookPollMs,
    latestSeq: () => hub.lastSeq,
    logger: log,
  });
  hub.onAlerts((alerts) => void dispatcher.fanOut(alerts).catch((err: Error) => log?.warn({ err: err.message }, 'webhook fan-out failed; the webhook worker retries it')));
  const dashboard = new Map(Object.entries(DASHBOARD_FILES).map(([f, type]) => [f, { type, body: readFileSync(new URL(f, DASHBOARD_DIR)) }]));
  const streams = new Set<ServerResponse>();
  const departmentNames = new Map(loadCatalogs().departments.entries.map((d) => [d.code, d.name]));
  const s = `"${schema}"`;

  const app = Fastify({ logger: false });
  const operatorOf = new WeakMap<FastifyRequest, string>();

  app.addHook('onRequest', async (req, reply) => {
    // Decide on the matched route, never on the raw URL: `/%761/alerts` routes to
    // `/v1/alerts` but does not start with "/v1/" (regression: token bypass).
    const route = req.routeOptions.url;
    if (route === undefined || !route.startsWith('/v1/')) return;
    const header = req.headers.authorization ?? '';
    const operator = header.startsWith('Bearer ') ? tokens.get(header.slice(7).trim()) : undefined;
    if (!operator) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ code: 'BUS_ERR_AUTH', message: 'Se requiere un token de operador válido: encabezado Authorization: Bearer <token>.' });
    }
    operatorOf.set(req, operator);
  });

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, req, reply) => {
    if (isBusError(err)) return reply.code(HTTP_STATUS[err.code] ?? 500).send(err.toJSON());
    if (err.validation) return reply.code(400).send({ code: 'BUS_ERR_BAD_REQUEST', message: `Solicitud inválida: ${err.message}` });
    if (err.statusCode && err.statusCode < 500) return reply.code(err.statusCode).send({ code: 'BUS_ERR_BAD_REQUEST', message: err.message });
    log?.error({ err: err.message, url: req.routeOptions.url }, 'push server error');
    return reply.code(500).send({ code: 'BUS_ERR_INTERNAL', message: 'Error interno del servidor de alertas.' });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ code: 'BUS_ERR_NOT_FOUND', message: 'Ruta no encontrada.' }));

  app.addHook('onReady', async () => {
    if (options.migrate ?? true) await migrateAlerts({ databaseUrl, schema, logger: options.logger });
    await hub.start();
    await dispatcher.fanOutTo(hub.lastSeq.toString());
    dispatcher.start();
    log?.info({ schema }, 'push server ready');
  });
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
    streams.clear();
  });
  app.addHook('onClose', async () => {
    await hub.stop();
    await dispatcher.stop();
    await pool.end().catch(() => undefined);
  });

  // Historical aggregates of the store for the dashboard's chart (same routes as the query API, behind the operator token).
  void app.register(historyRoutes, { prefix: '/v1', pool, schema: env.STORE_SCHEMA ?? DEFAULT_STORE_SCHEMA });

  // ---- dashboard and health (no token) ----
  app.get('/', (_req, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard/', (_req, reply) => reply.type(dashboard.get('index.html')!.type).send(dashboard.get('index.html')!.body));
  app.get<{ Params: { file: string } }>('/dashboard/:file', (req, reply) => {
    const f = dashboard.get(req.params.file);
    if (!f) return reply.code(404).send({ code: 'BUS_ERR_NOT_FOUND', message: 'Archivo no encontrado.' });
    return reply.type(f.type).header('cache-control', 'no-cache').send(f.body);
  });
  app.get('/health', async () => ({ status: 'ok', lastSeq: hub.lastSeq.toString(), sseClients: hub.clients }));

  // ---- alerts ----
  app.get<{ Querystring: FilterQuery }>('/v1/alerts', { schema: { querystring: filterQuery } }, async (req) => {
    const alerts = await store.list({ ...filterOf(req.query), limit: req.query.limit ?? 50, ...(req.query.before ? { beforeSeq: req.query.before } : {}) });
    return { alerts, lastSeq: hub.lastSeq.toString() };
  });

  app.get<{ Querystring: { hours?: number } }>(
    '/v1/alerts/stats',
    { schema: { querystring: { type: 'object', additionalProperties: false, properties: { hours: { type: 'integer', minimum: 1, maximum: 720 } } } } },
    async (req) => {
      const stats = await store.stats(req.query.hours ?? 24);
      return { hours: req.query.hours ?? 24, ...stats, byDepartment: stats.byDepartment.map((d) => ({ ...d, name: departmentNames.get(d.key) ?? null })) };
    },
  );

  app.get<{ Querystring: FilterQuery }>('/v1/alerts/feed.atom', { schema: { querystring: filterQuery } }, async (req, reply) => {
    const rows = await store.list({ ...filterOf(req.query), limit: req.query.limit ?? 100 });
    const base = options.publicUrl ?? `${req.protocol}://${req.host}`;
    return reply.type('application/atom+xml; charset=utf-8').send(atomFeed(rows.map((r) => r.alert), base));
  });

  app.get<{ Querystring: FilterQuery }>('/v1/alerts/stream', { schema: { querystring: filterQuery } }, async (req, reply) => {
    const header = req.headers['last-event-id'];
    const lastEventId = typeof header === 'string' && header.trim() !== '' ? header.trim() : (req.query.lastEventId ?? null);
    if (lastEventId !== null && !/^\d{1,19}$/.test(lastEventId)) {
      throw new BusError('BUS_ERR_BAD_REQUEST', 'Last-Event-ID debe ser el número de secuencia de una alerta.');
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.socket?.setNoDelay(true);
    streams.add(res);
    let client: HubClient | undefined;
    let closed = false;
    // Writes not yet handed to the kernel, and who waits for them (a paced catch-up).
    let unflushed = 0;
    let waiters: Array<() => void> = [];
    let stalled: NodeJS.Timeout | undefined;
    const wake = () => {
      clearTimeout(stalled);
      stalled = undefined;
      const all = waiters;
      waiters = [];
      for (const w of all) w();
    };
    // A client whose writes make no progress for sseStallMs is closed; it resumes with Last-Event-ID.
    const armStallTimer = () => {
      stalled ??= setTimeout(() => {
        log?.warn({ bufferedBytes: res.writableLength, stalledMs: o.sseStallMs }, 'SSE client is not reading; stream closed (it resumes with Last-Event-ID)');
        close();
      }, o.sseStallMs);
    };
    // A client that stops reading must not make the server buffer without bound: past the cap
    // the response is destroyed and the client resumes with Last-Event-ID (nothing is lost).
    const write = (chunk: string) => {
      if (closed) return;
      unflushed++;
      const accepted = res.write(chunk, () => {
        unflushed--;
        if (unflushed === 0) wake();
        // Progress: a client that takes its bytes, however slowly, is not stalled.
        else if (stalled) stalled.refresh();
      });
      // Bytes now wait in the process: from here on the client must keep taking them.
      if (!accepted) armStallTimer();
      if (res.writableLength > o.sseMaxBufferedBytes) {
        log?.warn({ bufferedBytes: res.writableLength }, 'SSE client is not reading; stream closed (it resumes with Last-Event-ID)');
        close();
      }
    };
    const close = () => {
      closed = true;
      res.destroy();
      wake();
    };
    write(`retry: ${o.retryMs}\n: conectado\n\n`);
    const heartbeat = setInterval(() => write(': latido\n\n'), o.heartbeatMs);
    res.on('close', () => {
      closed = true;
      wake();
      clearInterval(heartbeat);
      streams.delete(res);
      if (client) hub.detach(client);
    });
    // Frames the hub hands over in one synchronous pass (a batch of alerts) leave in one write, not one syscall each.
    let out = '';
    const flush = () => {
      const chunk = out;
      out = '';
      if (chunk) write(chunk);
    };
    const enqueue = (frame: string) => {
      if (out === '') queueMicrotask(flush);
      out += frame;
    };
    // Past a quarter of the cap unsent, the hub stops writing and feeds the client from its cursor as fast as it
    // reads (a resume from far behind, a burst, a slow reader); one whose writes make no progress for sseStallMs is closed.
    const busy = () => !closed && out.length + res.writableLength > o.sseMaxBufferedBytes / 4;
    // Resolves once every write so far has reached the kernel (write callbacks: 'drain' only follows a write that returned false).
    const drained = () => {
      flush();
      if (closed || unflushed === 0) return Promise.resolve();
      armStallTimer();
      return new Promise<void>((resolve) => waiters.push(resolve));
    };
    try {
      const attached = await hub.attach({ filter: filterOf(req.query), send: (_a, frame) => enqueue(frame), sendRaw: enqueue, busy, drained, close, isClosed: () => closed }, lastEventId);
      if (closed) hub.detach(attached);
      else client = attached;
    } catch (err) {
      // The catch-up could not read the database: the client resumes with Last-Event-ID.
      log?.warn({ err: (err as Error).message }, 'SSE catch-up failed; stream closed (the client resumes with Last-Event-ID)');
      close();
    }
  });

  app.get<{ Params: { id: string } }>('/v1/alerts/:id', async (req, reply) => {
    const cap = req.params.id.endsWith('.cap');
    const identifier = cap ? req.params.id.slice(0, -4) : req.params.id;
    const found = await store.get(identifier);
    if (!found) throw new BusError('BUS_ERR_ALERT_NOT_FOUND', `No existe la alerta ${identifier}.`);
    if (cap) return reply.type('application/cap+xml; charset=utf-8').send(capXml(found.alert));
    return found;
  });

  app.post<{ Params: { id: string }; Body: { note?: string } | undefined }>(
    '/v1/alerts/:id/ack',
    { schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: { note: { type: 'string', maxLength: 1000 } } } } },
    async (req) => {
      const operator = operatorOf.get(req) ?? 'operador';
      const acked = await store.acknowledge(req.params.id, operator, req.body?.note ?? null);
      if (!acked) throw new BusError('BUS_ERR_ALERT_NOT_FOUND', `No existe la alerta ${req.params.id}.`);
      hub.broadcast('ack', { identifier: acked.identifier, seq: acked.seq, ack: acked.ack });
      log?.info({ identifier: acked.identifier }, 'alert acknowledged');
      return acked;
    },
  );

  // ---- webhooks ----
  const webhookBody = {
    type: 'object',
    additionalProperties: false,
    required: ['url'],
    properties: {
      url: { type: 'string', minLength: 8, maxLength: 2000 },
      description: { type: 'string', maxLength: 300 },
      severities: { type: 'array', items: { enum: SEVERITIES }, minItems: 1, uniqueItems: true },
      departments: { type: 'array', items: { type: 'string', pattern: '^\\d{2}$' }, minItems: 1, uniqueItems: true },
      statuses: { type: 'array', items: { enum: STATUSES }, minItems: 1, uniqueItems: true },
    },
  } as const;
  type WebhookBody = { url: string; description?: string; severities?: string[]; departments?: string[]; statuses?: string[] };

  app.post<{ Body: WebhookBody }>('/v1/webhooks', { schema: { body: webhookBody } }, async (req, reply) => {
    await assertWebhookUrl(req.body.url, allowPrivate);
    const id = `wh_${randomBytes(12).toString('hex')}`;
    const secret = newWebhookSecret();
    const from = await store.maxSeq();
    await withTransaction(pool, async (client) => {
      await client.query(
        `INSERT INTO ${s}.webhook_subscriptions (id, url, description, severities, departments, statuses, from_seq, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [id, req.body.url, req.body.description ?? null, req.body.severities ?? null, req.body.departments ?? null, req.body.statuses ?? ['Actual'], from, operatorOf.get(req) ?? null],
      );
      await client.query(`INSERT INTO ${s}.webhook_secrets (subscription_id, secret) VALUES ($1, $2)`, [id, secret]);
    });
    log?.info({ subscription: id }, 'webhook registered');
    return reply.code(201).send({ id, url: req.body.url, secret, statuses: req.body.statuses ?? ['Actual'], severities: req.body.severities ?? null, departments: req.body.departments ?? null, fromSeq: from });
  });

  app.get('/v1/webhooks', async () => {
    const r = await pool.query(
      `SELECT id, url, description, severities, departments, statuses, active, disabled_reason AS "disabledReason", created_at AS "createdAt" FROM ${s}.webhook_subscriptions ORDER BY created_at`,
    );
    return { webhooks: r.rows };
  });

  async function subscription(id: string): Promise<Record<string, unknown>> {
    const r = await pool.query(
      `SELECT id, url, description, severities, departments, statuses, active, disabled_reason AS "disabledReason", disabled_at AS "disabledAt", created_at AS "createdAt" FROM ${s}.webhook_subscriptions WHERE id = $1`,
      [id],
    );
    if (!r.rows[0]) throw new BusError('BUS_ERR_ALERT_NOT_FOUND', `No existe el webhook ${id}.`);
    return r.rows[0] as Record<string, unknown>;
  }

  app.get<{ Params: { id: string } }>('/v1/webhooks/:id', async (req) => subscription(req.params.id));

  app.delete<{ Params: { id: string } }>('/v1/webhooks/:id', async (req, reply) => {
    await subscription(req.params.id);
    // Its pending deliveries go with it (one statement): the worker must not keep retrying them.
    await pool.query(
      `WITH sub AS (UPDATE ${s}.webhook_subscriptions SET active = false, disabled_reason = 'eliminado por operador', disabled_at = now() WHERE id = $1 RETURNING id)
       UPDATE ${s}.webhook_deliveries SET state = 'abandoned', locked_until = NULL WHERE subscription_id IN (SELECT id FROM sub) AND state = 'pending'`,
      [req.params.id],
    );
    return reply.code(204).send();
  });

  app.post<{ Params: { id: string }; Body: { graceSeconds?: number } | undefined }>(
    '/v1/webhooks/:id/secrets',
    { schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: { graceSeconds: { type: 'integer', minimum: 0, maximum: 604800 } } } } },
    async (req, reply) => {
      await subscription(req.params.id);
      const secret = newWebhookSecret();
      const graceMs = req.body?.graceSeconds !== undefined ? req.body.graceSeconds * 1000 : o.webhookSecretGraceMs;
      const expiresAt = new Date(Date.now() + graceMs).toISOString();
      await pool.query(`UPDATE ${s}.webhook_secrets SET expires_at = LEAST(COALESCE(expires_at, $2::timestamptz), $2::timestamptz) WHERE subscription_id = $1`, [req.params.id, expiresAt]);
      await pool.query(`INSERT INTO ${s}.webhook_secrets (subscription_id, secret) VALUES ($1, $2)`, [req.params.id, secret]);
      log?.info({ subscription: req.params.id }, 'webhook secret rotated');
      return reply.code(201).send({ secret, previousSecretsExpireAt: expiresAt });
    },
  );

  app.get<{ Params: { id: string } }>('/v1/webhooks/:id/deliveries', async (req) => {
    await subscription(req.params.id);
    const r = await pool.query(
      `SELECT d.id::text, a.identifier, d.state, d.attempts, d.last_status AS "lastStatus", d.next_attempt_at AS "nextAttemptAt", d.delivered_at AS "deliveredAt",
         COALESCE((SELECT json_agg(json_build_object('attempt', t.attempt, 'at', t.at, 'status', t.status, 'error', t.error) ORDER BY t.attempt)
                   FROM ${s}.webhook_attempts t WHERE t.delivery_id = d.id), '[]') AS "attemptLog"
       FROM ${s}.webhook_deliveries d JOIN ${s}.alerts a ON a.seq = d.alert_seq WHERE d.subscription_id = $1 ORDER BY d.id DESC LIMIT 200`,
      [req.params.id],
    );
    return { deliveries: r.rows };
  });

  return app;
}

