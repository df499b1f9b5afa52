/**
 * Fixtures of the alert tests: the whole pipeline on a unique database and
 * topic prefix (projector → alert service → push server), an SSE client, and
 * a webhook receiver that verifies signatures.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { createProjector, type Projector } from '../../../consumers/index.ts';
import { buildPushServer, createAlertService, verifyWebhook, type AlertService, type PushServerOptions, type StoredAlert } from '../../../consumers/alerts/index.ts';
import { createProducer, type Producer } from '../../../producers/index.ts';
import { uniqueName } from '../../support/names.ts';
import { createTestContext, type TestContext } from '../support.ts';

export const TOKEN = 'test-operator-token-0123456789';
export { waitFor } from '../support.ts';

/** Fast settings for tests. */
export const FAST_PUSH: PushServerOptions = {
  tokens: [`${TOKEN}:Operadora de prueba`],
  allowPrivateWebhooks: true,
  pollMs: 200,
  heartbeatMs: 5_000,
  webhookRetryInitialMs: 150,
  webhookRetryMaxMs: 5_000,
  webhookPollMs: 50,
  webhookTimeoutMs: 2_000,
};

export interface Pipeline {
  ctx: TestContext;
  projector: Projector;
  alerts: AlertService;
  push: FastifyInstance;
  /** http://127.0.0.1:<port> of the push server. */
  url: string;
  producer(institution: 'PGN' | 'IGM' | 'MINGOB' | 'CONRED'): Producer;
  /** Restarts the push server on a new port (same database). */
  restartPush(): Promise<void>;
  close(): Promise<void>;
}

/** Starts projector, alert service and push server on a fresh database and topic prefix. */
export async function startPipeline(name: string, opts: { push?: PushServerOptions; escalateAfterMs?: number } = {}): Promise<Pipeline> {
  const ctx = await createTestContext(name);
  const projectorGroupId = uniqueName('projector');
  const projector = createProjector({ databaseUrl: ctx.databaseUrl, topicPrefix: ctx.prefix, groupId: projectorGroupId });
  await projector.start();
  const alerts = createAlertService({
    databaseUrl: ctx.databaseUrl,
    topicPrefix: ctx.prefix,
    groupId: uniqueName('alerts'),
    projectorGroupId,
    fromBeginning: true,
    raceWaitMs: 10_000,
    escalateAfterMs: opts.escalateAfterMs ?? 3_600_000,
    escalationCheckMs: 200,
  });
  await alerts.start();
  const producers = new Map<string, Producer>();
  let push: FastifyInstance = buildPushServer({ databaseUrl: ctx.databaseUrl, ...FAST_PUSH, ...opts.push });
  let url = await push.listen({ host: '127.0.0.1', port: 0 });
  const p: Pipeline = {
    ctx,
    projector,
    alerts,
    push,
    url,
    producer(institution) {
      let pr = producers.get(institution);
      if (!pr) producers.set(institution, (pr = createProducer({ institution, topicPrefix: ctx.prefix, autoRegister: true, lingerMs: 1 })));
      return pr;
    },
    async restartPush() {
      await push.close();
      push = buildPushServer({ databaseUrl: ctx.databaseUrl, ...FAST_PUSH, ...opts.push });
      url = await push.listen({ host: '127.0.0.1', port: 0 });
      p.push = push;
      p.url = url;
    },
    async close() {
      for (const pr of producers.values()) await pr.close();
      await push.close();
      await alerts.stop();
      await projector.stop();
      await ctx.close();
    },
  };
  return p;
}

/** One SSE event as received. */
export interface SseEvent {
  id: string | null;
  event: string;
  data: unknown;
  at: number;
}

/** A raw SSE client over node:http; `events` fills as frames arrive. */
export function sseClient(url: string, opts: { query?: string; lastEventId?: string; token?: string } = {}): Promise<{ events: SseEvent[]; alerts(): StoredAlert[]; close(): void; status: number }> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const req = request(`${url}/v1/alerts/stream${opts.query ? `?${opts.query}` : ''}`, {
      headers: { authorization: `Bearer ${opts.token ?? TOKEN}`, accept: 'text/event-stream', ...(opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}) },
    });
    req.on('response', (res: IncomingMessage) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let id: string | null = null;
          let event = 'message';
          let data = '';
          for (const line of frame.split('\n')) {
            if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (data) events.push({ id, event, data: JSON.parse(data), at: Date.now() });
        }
      });
      res.on('error', () => undefined);
      resolve({
        events,
        status: res.statusCode ?? 0,
        alerts: () => events.filter((e) => e.event === 'alert').map((e) => e.data as StoredAlert),
        close: () => req.destroy(),
      });
    });
    req.on('error', (err) => (events.length === 0 ? reject(err) : undefined));
    req.end();
  });
}

export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
  at: number;
  status: number;
}

/** A webhook receiver; `respond` decides each status (default 200). */
export async function webhookReceiver(respond: (n: number) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 })) {
  const received: ReceivedWebhook[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const r = respond(received.length + 1);
      received.push({ headers: req.headers as Record<string, string>, body, at: Date.now(), status: r.status });
      res.writeHead(r.status, r.headers ?? {}).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    /** True when the delivery's signature verifies under `secret`. */
    verified(w: ReceivedWebhook, secret: string): boolean {
      return verifyWebhook(secret, { id: w.headers['webhook-id']!, timestamp: w.headers['webhook-timestamp']!, signature: w.headers['webhook-signature']! }, w.body);
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** JSON request to the push server with the operator token. */
export async function api<T = Record<string, unknown>>(url: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T; text: string }> {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${TOKEN}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* XML or empty */
  }
  return { status: res.status, body: body as T, text };
}
