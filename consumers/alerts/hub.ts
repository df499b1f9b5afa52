/**
 * The push server's alert hub: follows the alerts table in `seq` order
 * (LISTEN/NOTIFY, with a poll as a safety net), keeps the newest alerts in a
 * ring, and fans each one out to the SSE clients and the webhook dispatcher.
 *
 * Resume without gap or duplicate: `seq` is commit-ordered (see the
 * migration), every client has a cursor, and a client only goes live after
 * replaying from the database and then, synchronously, from the ring — so no
 * alert falls between the catch-up query and the live feed.
 */
import pg from 'pg';
import type { Logger } from '../../core/index.ts';
import { alertsChannel, type AlertFilter, type AlertStore, type StoredAlert } from './store.ts';

/** One SSE subscriber. */
export interface HubClient {
  /** Last seq sent (or skipped by the filter). */
  cursor: bigint;
  live: boolean;
  readonly filter: AlertFilter;
  /** Writes one alert that passed the filter. */
  send(alert: StoredAlert, frame: string): void;
  /** Writes a frame that is not an alert (acknowledgements). */
  sendRaw(frame: string): void;
}

export interface AlertHub {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Adds a client resuming after `cursor` (null: from now). Resolves once it is live. */
  attach(client: Omit<HubClient, 'cursor' | 'live'>, cursor: string | null): Promise<HubClient>;
  detach(client: HubClient): void;
  /** Called with every new batch of alerts, in seq order, after the SSE clients. */
  onAlerts(listener: (alerts: readonly StoredAlert[]) => void): void;
  /** Sends a named event without `id:` (acknowledgements) to every live client. */
  broadcast(event: string, data: unknown): void;
  readonly lastSeq: bigint;
  readonly clients: number;
}

/** The SSE frame of an alert. */
export function sseFrame(a: StoredAlert): string {
  return `id: ${a.seq}\nevent: alert\ndata: ${JSON.stringify(a)}\n\n`;
}

/** True when `a` passes the filter. */
export function passes(a: StoredAlert, f: AlertFilter): boolean {
  if (f.severities?.length && !f.severities.includes(a.severity)) return false;
  if (f.departments?.length && !f.departments.includes(a.departmentCode ?? '')) return false;
  if (f.statuses?.length && !f.statuses.includes(a.status)) return false;
  return true;
}

export function createAlertHub(o: { store: AlertStore; databaseUrl: string; pollMs: number; ringSize: number; logger?: Logger }): AlertHub {
  const clients = new Set<HubClient>();
  const listeners: ((alerts: readonly StoredAlert[]) => void)[] = [];
  let ring: StoredAlert[] = [];
  /** Every alert with seq > ringBase is in the ring. */
  let ringBase = 0n;
  let lastSeq = 0n;
  let listener: pg.Client | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;

  function deliver(client: HubClient, a: StoredAlert, frame: string): void {
    if (BigInt(a.seq) <= client.cursor) return;
    client.cursor = BigInt(a.seq);
    if (passes(a, client.filter)) client.send(a, frame);
  }

  async function fetchNew(): Promise<void> {
    for (;;) {
      const rows = await o.store.after(lastSeq.toString(), 1_000);
      if (rows.length === 0) return;
      for (const a of rows) {
        ring.push(a);
        const frame = sseFrame(a);
        for (const c of clients) if (c.live) deliver(c, a, frame);
      }
      lastSeq = BigInt(rows[rows.length - 1]!.seq);
      if (ring.length > o.ringSize) {
        const drop = ring.length - o.ringSize;
        ringBase = BigInt(ring[drop - 1]!.seq);
        ring = ring.slice(drop);
      }
      for (const l of listeners) l(rows);
      if (rows.length < 1_000) return;
    }
  }

  /** Runs fetchNew, never twice at once; a call during a run schedules one more run. */
  function tick(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await fetchNew();
        } while (again && !stopped);
      } catch (err) {
        o.logger?.warn({ err: (err as Error).message }, 'reading new alerts failed; retrying on the next poll');
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  async function listen(): Promise<void> {
    if (stopped) return;
    const c = new pg.Client({ connectionString: o.databaseUrl });
    c.on('error', () => undefined);
    c.on('end', () => {
      if (listener === c) listener = undefined;
      if (!stopped) setTimeout(() => void listen().catch(() => undefined), 1_000);
    });
    c.on('notification', () => void tick());
    await c.connect();
    await c.query(`LISTEN "${alertsChannel(o.store.schema)}"`);
    listener = c;
    void tick();
  }

  return {
    get lastSeq() {
      return lastSeq;
    },
    get clients() {
      return clients.size;
    },
    onAlerts(l) {
      listeners.push(l);
    },
    async start() {
      lastSeq = BigInt(await o.store.maxSeq());
      ringBase = lastSeq;
      await listen();
      const poll = () => {
        pollTimer = setTimeout(() => {
          void tick().finally(() => {
            if (!stopped) poll();
          });
        }, o.pollMs);
      };
      poll();
    },
    async stop() {
      stopped = true;
      clearTimeout(pollTimer);
      await running;
      await listener?.end().catch(() => undefined);
      clients.clear();
    },
    async attach(spec, cursorText) {
      const client: HubClient = { ...spec, cursor: cursorText === null ? lastSeq : BigInt(cursorText), live: false };
      clients.add(client);
      // Catch up from the database until the ring covers the rest.
      while (client.cursor < ringBase && clients.has(client)) {
        const rows = await o.store.after(client.cursor.toString(), 500);
        if (rows.length === 0) break;
        for (const a of rows) deliver(client, a, sseFrame(a));
      }
      // Synchronous from here: the ring holds every alert after ringBase that the hub has seen.
      for (const a of ring) if (BigInt(a.seq) > client.cursor) deliver(client, a, sseFrame(a));
      client.live = true;
      return client;
    },
    detach(client) {
      clients.delete(client);
    },
    broadcast(event, data) {
      const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
      for (const c of clients) if (c.live) c.sendRaw(frame);
    },
  };
}
