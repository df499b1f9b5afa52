/**
 * The push server against a real PostgreSQL: SSE resume, webhook retries that
 * survive a restart, 410, URL guard, auth. Alerts are written straight into the
 * alerts schema (the alert service is covered by alerts.int.test.ts).
 */
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleEvent } from '../../../contracts/index.ts';
import { databaseUrlFor, readEndpoints } from '../../../core/index.ts';
import {
  buildPushServer,
  createAlertEngine,
  createAlertStore,
  loadAlertRules,
  migrateAlerts,
  type AlertStore,
  type PushServerOptions,
  type StoredAlert,
} from '../../../consumers/alerts/index.ts';
import { uniqueName } from '../../support/names.ts';
import { api, FAST_PUSH, sseClient, TOKEN, waitFor, webhookReceiver } from './support.ts';

const engine = createAlertEngine({ rules: loadAlertRules() });
const noState = { activeAlbaKeneth: async () => null, activeWarrants: async () => null, stolenVehicle: async () => null };
const noHistory = { activeFor: async () => [] };

let database: string;
let databaseUrl: string;
let pool: pg.Pool;
let store: AlertStore;
let app: FastifyInstance;
let url: string;

async function startPush(extra: PushServerOptions = {}): Promise<void> {
  app = buildPushServer({ databaseUrl, ...FAST_PUSH, ...extra });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
}

/** Stores `n` Alba-Keneth alerts (Extreme, department 01) and `m` stolen-vehicle alerts (Moderate). */
async function raise(n: number, m = 0): Promise<void> {
  const raised = [];
  for (let i = 0; i < n; i++) {
    const ev = sampleEvent('pgn.alba-keneth.activated');
    raised.push(...(await engine.evaluate({ type: 'pgn.alba-keneth.activated', data: ev as never, ref: { eventId: ev.eventId, type: 'pgn.alba-keneth.activated', source: 'PGN', topic: 't', partition: 0, offset: String(i) } }, { state: noState, history: noHistory })));
  }
  for (let i = 0; i < m; i++) {
    const ev = sampleEvent('mingob.vehicle.reported-stolen');
    raised.push(...(await engine.evaluate({ type: 'mingob.vehicle.reported-stolen', data: ev as never, ref: { eventId: ev.eventId, type: 'mingob.vehicle.reported-stolen', source: 'MINGOB', topic: 't', partition: 0, offset: String(i) } }, { state: noState, history: noHistory })));
  }
  await store.insert(raised);
}

beforeAll(async () => {
  database = uniqueName('push').replace(/[^a-z0-9]/g, '_');
  const admin = new pg.Client({ connectionString: readEndpoints().databaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  databaseUrl = databaseUrlFor(database);
  await migrateAlerts({ databaseUrl, schema: 'alerts' });
  pool = new pg.Pool({ connectionString: databaseUrl, max: 3 });
  pool.on('error', () => undefined); // the teardown drops the database WITH (FORCE)
  store = createAlertStore(pool, 'alerts');
  await startPush();
});

afterAll(async () => {
  await app?.close();
  await pool?.end();
  const admin = new pg.Client({ connectionString: readEndpoints().databaseUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});

describe('push server', () => {
  it('refuses requests without a valid operator token, in Spanish', async () => {
    const r = await fetch(`${url}/v1/alerts`, { headers: { authorization: 'Bearer nope' } });
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ code: 'BUS_ERR_AUTH', message: expect.stringContaining('token de operador') });
    expect((await fetch(`${url}/dashboard/`)).status).toBe(200);
  });

  // Regression: the token check looked at the raw URL, so a percent-encoded path
  // that routes to /v1/… (e.g. /%761/alerts) skipped it.
  it('asks for the token on percent-encoded paths too', async () => {
    for (const path of ['/%761/alerts', '/%76%31/webhooks', '/v%31/history/alba-keneth']) {
      const r = await fetch(`${url}${path}`);
      expect(r.status, path).toBe(401);
    }
  });

  it('SSE resumes with Last-Event-ID with no gap and no duplicate, while alerts keep arriving (regression: seq ordered as text past 9)', async () => {
    const first = await sseClient(url);
    await raise(5);
    await waitFor(async () => first.alerts().length >= 5, 10_000, '5 alerts');
    const lastSeen = first.events.filter((e) => e.event === 'alert')[2]!.id!; // drop after the 3rd
    first.close();
    // While disconnected, and while reconnecting, more alerts are stored.
    const more = raise(20);
    const resumed = await sseClient(url, { lastEventId: lastSeen });
    await more;
    const all = (await store.list({ limit: 500 })).map((a) => Number(a.seq)).filter((s) => s > Number(lastSeen)).sort((a, b) => a - b);
    await waitFor(async () => resumed.alerts().length >= all.length, 10_000, 'resumed alerts');
    await new Promise((r) => setTimeout(r, 300));
    const got = resumed.events.filter((e) => e.event === 'alert').map((e) => Number(e.id));
    expect(got).toEqual(all);
    resumed.close();
  });

  // Regression: a Last-Event-ID past the newest alert (a client of a rebuilt alerts store) was followed as is:
  // the client got nothing until the sequence caught up with it.
  it('SSE with a Last-Event-ID past the newest alert: told so with a reset event, then gets the new alerts', async () => {
    const newest = await store.maxSeq();
    const client = await sseClient(url, { lastEventId: '999999999999' });
    await waitFor(async () => client.events.some((e) => e.event === 'reset'), 10_000, 'the reset event');
    const reset = client.events.find((e) => e.event === 'reset')!;
    expect(reset.id).toBe(newest);
    expect(reset.data).toMatchObject({ lastEventId: newest });
    await raise(2);
    await waitFor(async () => client.alerts().length >= 2, 10_000, 'the new alerts');
    expect(client.alerts().every((a) => BigInt(a.seq) > BigInt(newest))).toBe(true);
    client.close();
  });

  it('SSE filters by severity and department', async () => {
    const extreme = await sseClient(url, { query: 'severity=Extreme&department=01' });
    const moderate = await sseClient(url, { query: 'severity=Moderate' });
    await raise(2, 3);
    await waitFor(async () => extreme.alerts().length >= 2 && moderate.alerts().length >= 3, 10_000, 'filtered alerts');
    await new Promise((r) => setTimeout(r, 300));
    expect(extreme.alerts().every((a) => a.severity === 'Extreme' && a.departmentCode === '01')).toBe(true);
    expect(moderate.alerts().every((a) => a.severity === 'Moderate')).toBe(true);
    expect(extreme.alerts()).toHaveLength(2);
    expect(moderate.alerts()).toHaveLength(3);
    extreme.close();
    moderate.close();
    const bad = await fetch(`${url}/v1/alerts/stream?severity=Terrible`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bad.status).toBe(400);
  });

  // The LISTEN connection is what makes delivery immediate (the poll is the fallback): a lost one is
  // connected again, and closing the server leaves none open.
  it('SSE: a lost LISTEN connection is made again, alerts stay immediate, and closing leaves none open', async () => {
    const listening = async () => (await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'`)).rows.map((r) => r.pid);
    const before = await listening();
    const server = buildPushServer({ databaseUrl, ...FAST_PUSH, pollMs: 600_000 });
    const serverUrl = await server.listen({ host: '127.0.0.1', port: 0 });
    let client: Awaited<ReturnType<typeof sseClient>> | undefined;
    try {
      await waitFor(async () => (await listening()).length === before.length + 1, 5_000, 'listening');
      const first = (await listening()).filter((pid) => !before.includes(pid));
      client = await sseClient(serverUrl);
      await pool.query(`SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid`, [first]);
      await waitFor(async () => (await listening()).filter((pid) => !before.includes(pid) && !first.includes(pid)).length === 1, 5_000, 'listening again');
      await raise(3);
      // With the poll 10 minutes away, only a notification can bring them.
      await waitFor(async () => client!.alerts().length >= 3, 5_000, 'alerts after the reconnection');
    } finally {
      client?.close();
      await server.close();
    }
    await waitFor(async () => (await listening()).filter((pid) => !before.includes(pid)).length === 0, 5_000, 'no LISTEN connection left');
  });

  /**
   * Starts a push server with `extra`, attaches a raw SSE client that sends its request and then never
   * reads, stores alerts 400 at a time (up to 8,000: enough to fill the kernel's socket buffers, several
   * MiB on loopback) until the server has no SSE client left, and waits for that.
   */
  async function expectNonReaderClosed(extra: PushServerOptions): Promise<void> {
    const server = buildPushServer({ databaseUrl, ...FAST_PUSH, ...extra });
    const serverUrl = new URL(await server.listen({ host: '127.0.0.1', port: 0 }));
    const clients = async () => (await server.inject({ method: 'GET', url: '/health' })).json<{ sseClients: number }>().sseClients;
    const socket = connect(Number(serverUrl.port), serverUrl.hostname);
    socket.on('error', () => undefined);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.pause();
    socket.write(`GET /v1/alerts/stream HTTP/1.1\r\nhost: ${serverUrl.host}\r\nauthorization: Bearer ${TOKEN}\r\naccept: text/event-stream\r\n\r\n`);
    try {
      await waitFor(async () => (await clients()) === 1, 5_000, 'stream attached');
      for (let i = 0; i < 20 && (await clients()) > 0; i++) await raise(400);
      await waitFor(async () => (await clients()) === 0, 10_000, 'stalled stream closed');
    } finally {
      socket.destroy();
      await server.close();
    }
  }

  // Regression: res.write() results were ignored, so a client that stopped reading made
  // the server buffer every alert for it, without bound. Now its unsent bytes stay under the cap
  // (past a quarter of it, the hub waits for the client) and the stream is closed once it takes nothing for sseStallMs.
  it('SSE closes a stream whose client stops reading', async () => {
    await expectNonReaderClosed({ sseMaxBufferedBytes: 64 * 1024, sseStallMs: 1_000 });
  });

  // Regression: the stall timer only started once a quarter of the cap was unsent, so with a large cap a
  // live client that stopped reading was never closed while its unsent bytes stayed under that quarter
  // (8,000 alerts are about 12 MB, far below a quarter of 256 MiB). It now starts as soon as the socket
  // refuses more (write() returns false).
  it('SSE closes a live stream whose client stops reading, even far below a quarter of the cap', async () => {
    await expectNonReaderClosed({ sseMaxBufferedBytes: 256 * 1024 * 1024, sseStallMs: 1_000 });
  });

  // Regression: a burst of alerts (the hub reads up to 1,000 at a time) and a resume from far behind were
  // written in one synchronous pass, which passed the cap at once: the stream was cut, the client resumed,
  // got the same burst and was cut again, so a client that reads but had fallen behind barely advanced
  // (the alert bench's client on a loaded 2-core machine got 328 of 60,000 alerts). Both are now paced by
  // the client's unsent bytes.
  it('SSE delivers a burst several times the cap, live and on a resume from far behind (database, then ring), on one connection each', async () => {
    const capped = buildPushServer({ databaseUrl, ...FAST_PUSH, sseMaxBufferedBytes: 64 * 1024, ringSize: 300 });
    const cappedUrl = await capped.listen({ host: '127.0.0.1', port: 0 });
    const before = (await pool.query<{ seq: string }>(`SELECT coalesce(max(seq), 0)::text AS seq FROM alerts.alerts`)).rows[0]!.seq;
    const client = await sseClient(cappedUrl, { lastEventId: before });
    try {
      await raise(1200);
      const expected = (await pool.query<{ seq: string }>(`SELECT seq::text AS seq FROM alerts.alerts WHERE seq > $1`, [before])).rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
      expect(expected.length).toBeGreaterThanOrEqual(1200);
      // 1,200 alerts are several times the cap; a second client resumes once they are all stored (part from the database, part from the ring).
      const late = await sseClient(cappedUrl, { lastEventId: before });
      await waitFor(async () => client.alerts().length >= expected.length && late.alerts().length >= expected.length, 20_000, 'every alert on both streams');
      for (const c of [client, late]) expect(c.events.filter((e) => e.event === 'alert').map((e) => Number(e.id))).toEqual(expected);
      // Both are live again: later alerts arrive as they are stored.
      await raise(3);
      await waitFor(async () => client.alerts().length >= expected.length + 3 && late.alerts().length >= expected.length + 3, 10_000, 'later alerts on both streams');
      late.close();
    } finally {
      client.close();
      await capped.close();
    }
  });

  it('webhook: 500 three times then 200 gives one logical delivery with growing backoff, surviving a push-server restart', async () => {
    const hook = await webhookReceiver((n) => ({ status: n <= 3 ? 500 : 200 }));
    const reg = await api<{ id: string; secret: string }>(url, '/v1/webhooks', { method: 'POST', body: { url: hook.url, severities: ['Extreme'] } });
    expect(reg.status).toBe(201);
    await raise(1);
    // Restart the push server after the second failed attempt: the retry state is in PostgreSQL.
    await waitFor(async () => hook.received.length >= 2, 10_000, 'two attempts');
    await app.close();
    await startPush();
    await waitFor(async () => hook.received.some((w) => w.status === 200), 15_000, 'delivery');
    await new Promise((r) => setTimeout(r, 500));
    expect(hook.received.map((w) => w.status)).toEqual([500, 500, 500, 200]);
    const ids = new Set(hook.received.map((w) => w.headers['webhook-id']));
    expect(ids.size).toBe(1); // one logical message, retried
    for (const w of hook.received) expect(hook.verified(w, reg.body.secret)).toBe(true);
    // Growing backoff: attempt n + 1 never comes before initial × 2^(n−1) × 0.8 (the low end of the jitter), restart
    // or not. Gap against gap would be timing luck: the 50 ms poll and the restart inside the second gap stretch gaps.
    const gaps = hook.received.slice(1).map((w, i) => w.at - hook.received[i]!.at);
    const initial = FAST_PUSH.webhookRetryInitialMs!;
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(initial * 2 ** i * 0.8 - 10));
    expect(gaps[2]!).toBeGreaterThan(gaps[0]! * 1.5);
    const deliveries = await api<{ deliveries: { state: string; attempts: number }[] }>(url, `/v1/webhooks/${reg.body.id}/deliveries`);
    expect(deliveries.body.deliveries).toEqual([expect.objectContaining({ state: 'delivered', attempts: 4 })]);
    await api(url, `/v1/webhooks/${reg.body.id}`, { method: 'DELETE' });
    await hook.close();
  });

  it('webhook: Retry-After is honoured; secret rotation signs with both secrets', async () => {
    const hook = await webhookReceiver((n) => (n === 1 ? { status: 503, headers: { 'retry-after': '2' } } : { status: 200 }));
    const reg = await api<{ id: string; secret: string }>(url, '/v1/webhooks', { method: 'POST', body: { url: hook.url, severities: ['Extreme'] } });
    const rot = await api<{ secret: string }>(url, `/v1/webhooks/${reg.body.id}/secrets`, { method: 'POST', body: { graceSeconds: 3600 } });
    expect(rot.status).toBe(201);
    await raise(1);
    await waitFor(async () => hook.received.length >= 2, 10_000, 'retry after Retry-After');
    expect(hook.received[1]!.at - hook.received[0]!.at).toBeGreaterThanOrEqual(1_900);
    const w = hook.received[1]!;
    expect(w.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(hook.verified(w, reg.body.secret)).toBe(true);
    expect(hook.verified(w, rot.body.secret)).toBe(true);
    await api(url, `/v1/webhooks/${reg.body.id}`, { method: 'DELETE' });
    await hook.close();
  });

  it('webhook: 410 disables the endpoint', async () => {
    const hook = await webhookReceiver(() => ({ status: 410 }));
    const reg = await api<{ id: string }>(url, '/v1/webhooks', { method: 'POST', body: { url: hook.url } });
    await raise(1);
    await waitFor(async () => (await api<{ active: boolean }>(url, `/v1/webhooks/${reg.body.id}`)).body.active === false, 10_000, 'disabled');
    await raise(2);
    await new Promise((r) => setTimeout(r, 800));
    expect(hook.received).toHaveLength(1);
    expect((await api(url, `/v1/webhooks/${reg.body.id}`)).body).toMatchObject({ disabledReason: '410 Gone' });
    await hook.close();
  });

  // Regression: the worker claimed pending deliveries without looking at the
  // subscription, so a deleted endpoint kept receiving its retries.
  it('webhook: deleting a subscription abandons its pending deliveries and stops their retries', async () => {
    const hook = await webhookReceiver(() => ({ status: 500 }));
    const reg = await api<{ id: string }>(url, '/v1/webhooks', { method: 'POST', body: { url: hook.url, severities: ['Extreme'] } });
    await raise(2);
    await waitFor(async () => hook.received.length >= 2, 10_000, 'failed attempts');
    expect((await api(url, `/v1/webhooks/${reg.body.id}`, { method: 'DELETE' })).status).toBe(204);
    await new Promise((r) => setTimeout(r, 300)); // a request already in flight may still land
    const seen = hook.received.length;
    await new Promise((r) => setTimeout(r, 1_500)); // several backoff periods (150 ms, doubling)
    expect(hook.received).toHaveLength(seen);
    const deliveries = await api<{ deliveries: { state: string }[] }>(url, `/v1/webhooks/${reg.body.id}/deliveries`);
    expect(deliveries.body.deliveries).toHaveLength(2);
    expect(deliveries.body.deliveries.map((d) => d.state)).toEqual(['abandoned', 'abandoned']);
    await hook.close();
  });

  // Regression: same bug, reached without the DELETE route (subscription disabled in the database).
  it('webhook: pending deliveries of an inactive subscription are not attempted', async () => {
    const hook = await webhookReceiver(() => ({ status: 500 }));
    const reg = await api<{ id: string }>(url, '/v1/webhooks', { method: 'POST', body: { url: hook.url, severities: ['Extreme'] } });
    await raise(1);
    await waitFor(async () => hook.received.length >= 1, 10_000, 'first attempt');
    await pool.query(`UPDATE alerts.webhook_subscriptions SET active = false WHERE id = $1`, [reg.body.id]);
    await new Promise((r) => setTimeout(r, 300));
    const seen = hook.received.length;
    await new Promise((r) => setTimeout(r, 1_500));
    expect(hook.received).toHaveLength(seen);
    const deliveries = await api<{ deliveries: { state: string }[] }>(url, `/v1/webhooks/${reg.body.id}/deliveries`);
    expect(deliveries.body.deliveries.map((d) => d.state)).toEqual(['pending']);
    await hook.close();
  });

  // Regression: a fan-out that failed (PostgreSQL blip) created no delivery until the next alert arrived.
  it('webhook: a failed fan-out is retried by the worker without waiting for another alert', async () => {
    const hook = await webhookReceiver();
    const reg = await api<{ id: string }>(url, '/v1/webhooks', { method: 'POST', body: { url: hook.url, severities: ['Extreme'] } });
    // The blip: the fan-out's cursor table is unreachable while the hub announces the alert.
    await pool.query('ALTER TABLE alerts.dispatch_cursor RENAME TO dispatch_cursor_blip');
    try {
      await raise(1);
      const seq = await store.maxSeq();
      await waitFor(async () => (await api<{ lastSeq: string }>(url, '/health')).body.lastSeq === seq, 10_000, 'hub saw the alert');
      await new Promise((r) => setTimeout(r, 300)); // its fan-out fails meanwhile
      expect(hook.received).toHaveLength(0);
    } finally {
      await pool.query('ALTER TABLE alerts.dispatch_cursor_blip RENAME TO dispatch_cursor');
    }
    await waitFor(async () => hook.received.length >= 1, 5_000, 'delivery after the blip');
    const deliveries = await api<{ deliveries: { state: string }[] }>(url, `/v1/webhooks/${reg.body.id}/deliveries`);
    expect(deliveries.body.deliveries.map((d) => d.state)).toEqual(['delivered']);
    await api(url, `/v1/webhooks/${reg.body.id}`, { method: 'DELETE' });
    await hook.close();
  });

  it('webhook URLs on loopback, link-local or metadata addresses are refused unless allowed', async () => {
    const strict = buildPushServer({ databaseUrl, ...FAST_PUSH, allowPrivateWebhooks: false });
    for (const target of ['http://127.0.0.1:9/x', 'http://169.254.169.254/latest/meta-data', 'http://[::1]/x', 'http://localhost/x', 'http://metadata.google.internal/', 'ftp://example.org/']) {
      const r = await strict.inject({ method: 'POST', url: '/v1/webhooks', headers: { authorization: `Bearer ${TOKEN}` }, payload: { url: target } });
      expect(r.statusCode, target).toBe(400);
      expect(r.json().code, target).toBe('BUS_ERR_WEBHOOK_URL_REJECTED');
    }
    await strict.close();
  });

  it('acknowledgement is recorded once and announced on SSE', async () => {
    await raise(1);
    const [latest] = (await api<{ alerts: StoredAlert[] }>(url, '/v1/alerts?limit=1')).body.alerts;
    const client = await sseClient(url);
    const ack = await api<StoredAlert>(url, `/v1/alerts/${latest!.identifier}/ack`, { method: 'POST', body: { note: 'visto' } });
    expect(ack.status).toBe(200);
    expect(ack.body.ack).toMatchObject({ by: 'Operadora de prueba', note: 'visto' });
    await waitFor(async () => client.events.some((e) => e.event === 'ack'), 5_000, 'ack event');
    const again = await api<StoredAlert>(url, `/v1/alerts/${latest!.identifier}/ack`, { method: 'POST', body: { note: 'otra' } });
    expect(again.body.ack!.note).toBe('visto');
    expect((await api(url, '/v1/alerts/SNS-ST-nope/ack', { method: 'POST', body: {} })).status).toBe(404);
    client.close();
  });
});
