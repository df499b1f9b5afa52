/**
 * Webhook delivery: subscriptions, Standard Webhooks signatures, and a
 * dispatcher whose retries live in PostgreSQL (they survive a restart).
 *
 * - Signature: `webhook-signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`,
 *   one per active secret, space-separated (rotation); secrets are `whsec_<base64>`.
 * - Retries: exponential backoff with ±20 % jitter, at least `Retry-After`;
 *   `410 Gone` disables the subscription; after `maxAttempts` the delivery fails.
 * - SSRF: URLs resolving to loopback, link-local, private, unspecified or
 *   cloud-metadata addresses are refused, at registration, before each request,
 *   and at connect time: requests go through an undici Agent whose DNS lookup
 *   refuses those addresses, so a host re-resolving to a private address between
 *   the check and the connection (DNS rebinding) is not reached; unless
 *   `allowPrivate` (development only).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { lookup as lookupCallback, type LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type pg from 'pg';
import { Agent } from 'undici';
import { BusError, type Logger } from '../../core/index.ts';
import type { AlertIssued } from '../../contracts/index.ts';
import { withTransaction } from '../current-state.ts';
import type { StoredAlert } from './store.ts';

/** A new signing secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** The `webhook-signature` value for `body` under every secret. */
export function signWebhook(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  return secrets
    .map((s) => `v1,${createHmac('sha256', Buffer.from(s.replace(/^whsec_/, ''), 'base64')).update(`${id}.${timestamp}.${body}`).digest('base64')}`)
    .join(' ');
}

/**
 * Verifies a delivery as a receiver would: true when any `v1` signature in
 * `signatureHeader` matches `secret` and the timestamp is within `toleranceS`.
 */
export function verifyWebhook(secret: string, headers: { id: string; timestamp: string; signature: string }, body: string, toleranceS = 300): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(Date.now() / 1000 - ts) > toleranceS) return false;
  const expected = Buffer.from(signWebhook([secret], headers.id, ts, body).slice(3), 'base64');
  return headers.signature.split(' ').some((part) => {
    const [version, sig] = part.split(',');
    if (version !== 'v1' || !sig) return false;
    const got = Buffer.from(sig, 'base64');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
}

const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) BLOCKED.addSubnet(net, prefix, 'ipv4');
// ::/96 IPv4-compatible (covers :: and ::1), 64:ff9b::/96 NAT64 and 2002::/16 6to4 embed an IPv4 address.
for (const [net, prefix] of [
  ['::', 96], ['::1', 128], ['64:ff9b::', 96], ['2002::', 16], ['fe80::', 10], ['fc00::', 7], ['ff00::', 8], ['fd00:ec2::', 32],
] as const) BLOCKED.addSubnet(net, prefix, 'ipv6');
const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', 'instance-data', 'metadata.azure.internal']);

/** The address as checked (IPv4-mapped IPv6 unwrapped) when it is blocked; null when allowed. */
function blockedAddress(a: string): string | null {
  const mapped = a.toLowerCase().startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
  return BLOCKED.check(mapped, isIP(mapped) === 6 ? 'ipv6' : 'ipv4') ? mapped : null;
}

/**
 * A `net.connect` lookup that refuses a host when any of its addresses is blocked:
 * the check happens on the very answer the socket connects to.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  lookupCallback(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0);
    const blocked = addresses.map((a) => blockedAddress(a.address)).find((a) => a !== null);
    if (blocked) {
      const refused = Object.assign(new Error(`BUS_ERR_WEBHOOK_URL_REJECTED: ${hostname} resolves to ${blocked}, a local, private or metadata address`), { code: 'BUS_ERR_WEBHOOK_URL_REJECTED' });
      return callback(refused, '', 0);
    }
    if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    return callback(null, addresses[0]!.address, addresses[0]!.family);
  });
};

/** The dispatcher of webhook requests when private addresses are not allowed (connect-time check). */
export const guardedWebhookAgent = new Agent({ connect: { lookup: guardedLookup } });

/** Why a webhook URL is refused, in Spanish for the operator; null when acceptable. */
export async function webhookUrlProblem(raw: string, allowPrivate: boolean): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'la URL no es válida';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'la URL debe usar https (o http)';
  if (url.username || url.password) return 'la URL no puede llevar credenciales';
  if (allowPrivate) return null;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (METADATA_HOSTS.has(host) || host === 'localhost' || host.endsWith('.localhost')) return `el host ${host} no está permitido`;
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch {
      return `el host ${host} no se pudo resolver`;
    }
  }
  for (const a of addresses) {
    const blocked = blockedAddress(a);
    if (blocked) return `la dirección ${blocked} es local, privada o de metadatos`;
  }
  return null;
}

/** Throws BUS_ERR_WEBHOOK_URL_REJECTED when `raw` may not receive webhooks. */
export async function assertWebhookUrl(raw: string, allowPrivate: boolean): Promise<void> {
  const problem = await webhookUrlProblem(raw, allowPrivate);
  if (problem) throw new BusError('BUS_ERR_WEBHOOK_URL_REJECTED', `URL de webhook rechazada: ${problem}`);
}

export interface DispatcherOptions {
  pool: pg.Pool;
  schema: string;
  allowPrivate: boolean;
  retryInitialMs: number;
  retryMaxMs: number;
  maxAttempts: number;
  timeoutMs: number;
  pollMs: number;
  /**
   * Highest alert seq known (the hub's): each poll fans out up to it when the last
   * successful fan-out is behind, so a failed fan-out is retried without waiting for the next alert.
   */
  latestSeq?: () => bigint;
  logger?: Logger;
}

export interface WebhookDispatcher {
  start(): void;
  /** Stops polling and waits for requests in flight. */
  stop(): Promise<void>;
  /** Creates the deliveries of new alerts (called by the hub) and wakes the worker. */
  fanOut(alerts: readonly StoredAlert[]): Promise<void>;
  /** Creates the deliveries of every alert up to `maxSeq` not yet fanned out (start-up catch-up). */
  fanOutTo(maxSeq: string): Promise<void>;
  /** Attempts every due delivery once; resolves when they are settled. */
  runDue(): Promise<number>;
}

interface Due {
  id: string;
  subscription_id: string;
  attempts: number;
  url: string;
  alert: AlertIssued;
  secrets: string[];
}

/** Delay before attempt `attempt + 1` after `attempt` failures: initial × 2^(attempt−1), ±20 %, capped. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30)) * (0.8 + Math.random() * 0.4);
}

/** `Retry-After` (seconds or HTTP date) in ms; null when absent or unreadable. */
export function retryAfterMs(value: string | null): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

export function createWebhookDispatcher(o: DispatcherOptions): WebhookDispatcher {
  const s = `"${o.schema}"`;
  const log = o.logger?.child({ component: 'webhooks' });
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  const inFlight = new Set<Promise<unknown>>();
  let running: Promise<number> | undefined;

  /**
   * Highest seq asked to fan out, the highest fanned out successfully, and the run doing it:
   * requests arriving during a run share the next one (one fan-out at a time).
   */
  let fanOutWanted = 0n;
  let fanOutDone = 0n;
  let fanOutRunning: Promise<void> | undefined;

  function fanOutUpTo(max: bigint): Promise<void> {
    if (max > fanOutWanted) fanOutWanted = max;
    fanOutRunning ??= (async () => {
      try {
        while (fanOutDone < fanOutWanted) await fanOutTo(fanOutWanted.toString());
      } finally {
        fanOutRunning = undefined;
      }
    })();
    return fanOutRunning;
  }

  function fanOut(alerts: readonly StoredAlert[]): Promise<void> {
    if (alerts.length === 0) return Promise.resolve();
    return fanOutUpTo(BigInt(alerts[alerts.length - 1]!.seq));
  }

  async function fanOutTo(max: string): Promise<void> {
    await withTransaction(o.pool, async (client) => {
      const cur = await client.query<{ last_seq: string }>(`SELECT last_seq::text FROM ${s}.dispatch_cursor WHERE name = 'webhooks' FOR UPDATE`);
      const from = cur.rows[0]?.last_seq ?? '0';
      if (BigInt(from) < BigInt(max)) {
        await client.query(
          `INSERT INTO ${s}.webhook_deliveries (subscription_id, alert_seq)
           SELECT w.id, a.seq FROM ${s}.alerts a JOIN ${s}.webhook_subscriptions w
             ON w.active AND a.seq > w.from_seq AND a.status = ANY(w.statuses)
            AND (w.severities IS NULL OR a.severity = ANY(w.severities))
            AND (w.departments IS NULL OR a.department_code = ANY(w.departments))
           WHERE a.seq > $1 AND a.seq <= $2 ORDER BY a.seq
           ON CONFLICT DO NOTHING`,
          [from, max],
        );
        await client.query(`UPDATE ${s}.dispatch_cursor SET last_seq = $1 WHERE name = 'webhooks'`, [max]);
      }
    });
    if (BigInt(max) > fanOutDone) fanOutDone = BigInt(max);
    void runDue().catch(() => undefined);
  }

  async function claim(): Promise<Due[]> {
    const r = await o.pool.query<Due>(
      `WITH due AS (
         SELECT d.id FROM ${s}.webhook_deliveries d
         WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND (d.locked_until IS NULL OR d.locked_until < now())
         ORDER BY d.next_attempt_at LIMIT 50 FOR UPDATE SKIP LOCKED)
       UPDATE ${s}.webhook_deliveries d SET locked_until = now() + make_interval(secs => $1)
       FROM due, ${s}.webhook_subscriptions w, ${s}.alerts a
       WHERE d.id = due.id AND w.id = d.subscription_id AND w.active AND a.seq = d.alert_seq
       RETURNING d.id::text, d.subscription_id, d.attempts, w.url, a.alert,
         ARRAY(SELECT secret FROM ${s}.webhook_secrets k WHERE k.subscription_id = w.id AND (k.expires_at IS NULL OR k.expires_at > now()) ORDER BY k.created_at) AS secrets`,
      [(o.timeoutMs * 2) / 1000],
    );
    return r.rows;
  }

  async function attempt(d: Due): Promise<void> {
    const n = d.attempts + 1;
    const started = Date.now();
    let status: number | null = null;
    let error: string | null = null;
    let retryAfter: number | null = null;
    try {
      const problem = await webhookUrlProblem(d.url, o.allowPrivate);
      if (problem) throw new Error(`url rejected: ${problem}`);
      const body = JSON.stringify({ type: 'st.alert.issued', timestamp: d.alert.sent, data: d.alert });
      const ts = Math.floor(Date.now() / 1000);
      const res = await fetch(d.url, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(o.timeoutMs),
        // The check above resolved the host; the connection resolves it again, and is refused there too.
        ...(o.allowPrivate ? {} : { dispatcher: guardedWebhookAgent }),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'sns-st-alerts/1',
          'webhook-id': d.alert.eventId,
          'webhook-timestamp': String(ts),
          'webhook-signature': signWebhook(d.secrets, d.alert.eventId, ts, body),
        },
        body,
      });
      status = res.status;
      retryAfter = retryAfterMs(res.headers.get('retry-after'));
      await res.arrayBuffer().catch(() => undefined);
    } catch (err) {
      // fetch says only "fetch failed"; the reason (refused address, ECONNREFUSED…) is its cause.
      const cause = (err as { cause?: unknown }).cause;
      error = (cause instanceof Error ? `${(err as Error).message}: ${cause.message}` : (err as Error).message).slice(0, 300);
    }
    const ms = Date.now() - started;
    await withTransaction(o.pool, async (client) => {
      await client.query(`INSERT INTO ${s}.webhook_attempts (delivery_id, attempt, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [d.id, n, status, error, ms]);
      if (status !== null && status >= 200 && status < 300) {
        await client.query(`UPDATE ${s}.webhook_deliveries SET state = 'delivered', attempts = $2, last_status = $3, last_error = NULL, delivered_at = now(), locked_until = NULL WHERE id = $1`, [d.id, n, status]);
      } else if (status === 410) {
        await client.query(`UPDATE ${s}.webhook_subscriptions SET active = false, disabled_reason = '410 Gone', disabled_at = now() WHERE id = $1`, [d.subscription_id]);
        await client.query(`UPDATE ${s}.webhook_deliveries SET state = 'abandoned', attempts = CASE WHEN id = $2 THEN $3 ELSE attempts END, last_status = CASE WHEN id = $2 THEN 410 ELSE last_status END, locked_until = NULL WHERE subscription_id = $1 AND state = 'pending'`, [d.subscription_id, d.id, n]);
        log?.warn({ subscription: d.subscription_id }, 'endpoint answered 410 Gone; subscription disabled');
      } else if (n >= o.maxAttempts) {
        await client.query(`UPDATE ${s}.webhook_deliveries SET state = 'failed', attempts = $2, last_status = $3, last_error = $4, locked_until = NULL WHERE id = $1`, [d.id, n, status, error]);
        log?.warn({ subscription: d.subscription_id, delivery: d.id, attempts: n }, 'webhook delivery failed for good');
      } else {
        const wait = Math.min(Math.max(backoffMs(n, o.retryInitialMs, o.retryMaxMs), retryAfter ?? 0), Math.max(o.retryMaxMs, 3_600_000));
        await client.query(
          `UPDATE ${s}.webhook_deliveries SET attempts = $2, last_status = $3, last_error = $4, locked_until = NULL, next_attempt_at = now() + make_interval(secs => $5) WHERE id = $1`,
          [d.id, n, status, error, wait / 1000],
        );
        log?.info({ subscription: d.subscription_id, delivery: d.id, attempt: n, status, retryInMs: Math.round(wait) }, 'webhook delivery will be retried');
      }
    });
  }

  async function runDue(): Promise<number> {
    if (running) return running;
    running = (async () => {
      let total = 0;
      try {
        for (;;) {
          const due = await claim();
          if (due.length === 0) break;
          total += due.length;
          const p = Promise.allSettled(due.map((d) => attempt(d)));
          inFlight.add(p);
          await p;
          inFlight.delete(p);
          if (stopped) break;
        }
      } finally {
        running = undefined;
      }
      return total;
    })();
    return running;
  }

  /** A fan-out that failed (PostgreSQL blip) is caught up here, not only when the next alert arrives. */
  async function catchUp(): Promise<void> {
    const latest = o.latestSeq?.() ?? 0n;
    if (latest > fanOutDone) await fanOutUpTo(latest).catch((err: Error) => log?.warn({ err: err.message }, 'webhook fan-out catch-up failed; retrying'));
  }

  const loop = () => {
    timer = setTimeout(() => {
      catchUp()
        .then(() => runDue())
        .catch((err: Error) => log?.warn({ err: err.message }, 'webhook worker failed; retrying'))
        .finally(() => {
          if (!stopped) loop();
        });
    }, o.pollMs);
  };

  return {
    start() {
      stopped = false;
      loop();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await fanOutRunning?.catch(() => undefined);
      await running?.catch(() => undefined);
      await Promise.allSettled([...inFlight]);
    },
    fanOut,
    fanOutTo,
    runDue,
  };
}
