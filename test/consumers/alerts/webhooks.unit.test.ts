/**
 * Webhook SSRF guard without services: the block list, and the connect-time
 * check that defeats DNS rebinding (DNS is faked: the name answers a public
 * address to the URL check and loopback to the connection).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const REBIND_HOST = 'rebind.webhook.test';

vi.mock('node:dns/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:dns/promises')>();
  const lookup = (async (host: string, opts?: object) =>
    host === REBIND_HOST ? [{ address: '93.184.216.34', family: 4 }] : real.lookup(host, opts as never)) as typeof real.lookup;
  return { ...real, lookup, default: { ...real, lookup } };
});
vi.mock('node:dns', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:dns')>();
  // Second answer for the same name: loopback (the rebinding).
  const lookup = ((host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (host !== REBIND_HOST) return real.lookup(host, opts as never, cb as never);
    if (opts.all) return cb(null, [{ address: '127.0.0.1', family: 4 }]);
    return cb(null, '127.0.0.1', 4);
  }) as typeof real.lookup;
  return { ...real, lookup, default: { ...real, lookup } };
});

const { guardedWebhookAgent, webhookUrlProblem } = await import('../../../consumers/alerts/webhooks.ts');

/** Node's global fetch (as the dispatcher uses it) through `dispatcher`; its RequestInit type omits the field. */
const postVia = (url: string, dispatcher: Agent) => fetch(url, { method: 'POST', body: '{}', dispatcher } as RequestInit);

let server: Server;
let port: number;
let hits = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    hits++;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

describe('webhook SSRF guard', () => {
  // Regression: NAT64, 6to4 and IPv4-compatible IPv6 addresses embed an IPv4 address and were not blocked.
  it('refuses NAT64, 6to4 and IPv4-compatible IPv6 addresses', async () => {
    for (const target of ['http://[64:ff9b::7f00:1]/x', 'http://[64:ff9b::a9fe:a9fe]/x', 'http://[2002:7f00:1::1]/x', 'http://[::7f00:1]/x', 'http://[::]/x', 'http://[::ffff:127.0.0.1]/x']) {
      expect(await webhookUrlProblem(target, false), target).toMatch(/local, privada o de metadatos/);
    }
    expect(await webhookUrlProblem('http://[2606:4700::1111]/x', false)).toBeNull();
    expect(await webhookUrlProblem('http://[::1]/x', true)).toBeNull();
  });

  // Regression: the URL check resolved the host, then fetch resolved it again (DNS rebinding).
  it('DNS rebinding: a host that passed the URL check is refused when it resolves to loopback at connect time', async () => {
    const target = `http://${REBIND_HOST}:${port}/hook`;
    expect(await webhookUrlProblem(target, false)).toBeNull(); // first answer: public
    const err = await postVia(target, guardedWebhookAgent).then(
      () => null,
      (e: Error & { cause?: Error }) => e,
    );
    expect(err?.cause?.message).toMatch(/BUS_ERR_WEBHOOK_URL_REJECTED.*127\.0\.0\.1/);
    expect(hits).toBe(0);
    // Control: an agent with the same (faked) DNS but no address check reaches the receiver, so the refusal was the guard's.
    const { lookup } = await import('node:dns');
    const open = new Agent({ connect: { lookup } });
    expect((await postVia(target, open)).status).toBe(200);
    expect(hits).toBe(1);
    await open.close();
  });

  it('the guarded agent still reaches hosts whose addresses are all allowed (lookup contract)', async () => {
    const { guardedLookup } = await import('../../../consumers/alerts/webhooks.ts');
    // A literal public address resolves to itself without DNS: accepted in both callback forms.
    const one = await new Promise<unknown[]>((r) => guardedLookup('93.184.216.34', {}, (...a: unknown[]) => r(a)));
    expect(one).toEqual([null, '93.184.216.34', 4]);
    const all = await new Promise<unknown[]>((r) => guardedLookup('93.184.216.34', { all: true }, (...a: unknown[]) => r(a)));
    expect(all).toEqual([null, [{ address: '93.184.216.34', family: 4 }]]);
    const refused = await new Promise<unknown[]>((r) => guardedLookup('127.0.0.1', { all: true }, (...a: unknown[]) => r(a)));
    expect((refused[0] as { code?: string }).code).toBe('BUS_ERR_WEBHOOK_URL_REJECTED');
  });
});
