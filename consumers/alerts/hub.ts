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
  /**
   * Catch-up pacing: true when the client holds enough unsent bytes that the
   * hub should wait for `drained` before it sends more of a catch-up.
   */
  busy?(): boolean;
  /** Resolves once the client's unsent bytes have gone out (or it closed). */
  drained?(): Promise<void>;
  /** Ends the client's stream (it resumes with Last-Event-ID): when its catch-up cannot read the database. */
  close?(): void;
  /** True once the client's stream has ended (a catch-up stops). */
  isClosed?(): boolean;
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

/** Alerts per catch-up step (one database page). */
const CATCH_UP_PAGE = 200;
/** A catching-up client goes live (synchronously, from the ring) once at most this many alerts are left. */
const LIVE_GAP = 20n;

/** An alert of the ring, with its frame (rendered once, for every client and every resume). */
interface RingEntry {
  a: StoredAlert;
  seq: bigint;
  frame: string;
}

export function createAlertHub(o: { store: AlertStore; databaseUrl: string; pollMs: number; ringSize: number; logger?: Logger }): AlertHub {
  const clients = new Set<HubClient>();
  const listeners: ((alerts: readonly StoredAlert[]) => void)[] = [];
  let ring: RingEntry[] = [];
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

  /**
   * A live client with too much unsent (a slow reader, or a burst bigger than
   * its socket takes at once) leaves the live feed and catches up from its
   * cursor at the pace it reads: the server never buffers without bound for it,
   * and a client whose bytes keep moving, however slowly, is not cut off.
   * (Acknowledgements, which have no id to resume from, only reach live clients.)
   */
  function deliverLive(client: HubClient, a: StoredAlert, frame: string): void {
    if (client.busy?.()) {
      client.live = false;
      void catchUp(client).catch((err: Error) => {
        o.logger?.warn({ err: err.message }, 'SSE catch-up failed; stream closed (the client resumes with Last-Event-ID)');
        clients.delete(client);
        client.close?.();
      });
      return;
    }
    deliver(client, a, frame);
  }

  /**
   * Brings a client from its cursor to the live feed, step by step, as fast as
   * it takes the bytes: from the database while its cursor is older than the
   * ring, then from the ring; the last few alerts and the switch to live
   * happen synchronously, so none falls between them.
   */
  async function catchUp(client: HubClient): Promise<void> {
    for (;;) {
      if (!clients.has(client) || client.isClosed?.()) return;
      if (client.busy?.()) {
        await client.drained?.();
        continue;
      }
      if (client.cursor >= ringBase && newestSeen() - client.cursor <= LIVE_GAP) break;
      const step =
        client.cursor < ringBase
          ? (await o.store.after(client.cursor.toString(), CATCH_UP_PAGE)).map((a) => ({ a, frame: sseFrame(a) }))
          : ringAfter(client.cursor, CATCH_UP_PAGE);
      if (step.length === 0) break;
      for (const e of step) {
        deliver(client, e.a, e.frame);
        if (client.busy?.()) await client.drained?.();
      }
    }
    // Synchronous from here: the ring holds every alert after ringBase that the hub has seen.
    for (const e of ringAfter(client.cursor, ring.length)) deliver(client, e.a, e.frame);
    client.live = true;
  }

  /** The newest alert the hub has seen: the ring's last, not lastSeq (a catch-up can start in the middle of a page the hub is delivering). */
  function newestSeen(): bigint {
    return ring.length > 0 ? ring[ring.length - 1]!.seq : lastSeq;
  }

  /** Up to `n` ring entries after `cursor` (the ring is in seq order). */
  function ringAfter(cursor: bigint, n: number): RingEntry[] {
    let lo = 0;
    let hi = ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ring[mid]!.seq <= cursor) lo = mid + 1;
      else hi = mid;
    }
    return ring.slice(lo, lo + n);
  }

  async function fetchNew(): Promise<void> {
    for (;;) {
      const rows = await o.store.after(lastSeq.toString(), 1_000);
      if (rows.length === 0) return;
      for (const a of rows) {
        const frame = sseFrame(a);
        ring.push({ a, seq: BigInt(a.seq), frame });
        for (const c of clients) if (c.live) deliverLive(c, a, frame);
      }
      lastSeq = BigInt(rows[rows.length - 1]!.seq);
      if (ring.length > o.ringSize) {
        const drop = ring.length - o.ringSize;
        ringBase = ring[drop - 1]!.seq;
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

  /**
   * Connects the LISTEN client (new alerts then arrive at once; the poll covers the gaps). A lost or
   * failed connection is retried every second; the first attempt (at start) throws instead.
   */
  async function listen(initial = false): Promise<void> {
    if (stopped) return;
    const c = new pg.Client({ connectionString: o.databaseUrl });
    let retrying = false;
    const retry = () => {
      if (listener === c) listener = undefined;
      if (retrying || stopped) return;
      retrying = true;
      setTimeout(() => void listen(), 1_000);
    };
    c.on('error', () => undefined);
    c.on('end', retry);
    c.on('notification', () => void tick());
    try {
      await c.connect();
      await c.query(`LISTEN "${alertsChannel(o.store.schema)}"`);
    } catch (err) {
      // No retry after a failed start: the caller gets the error.
      if (initial) retrying = true;
      else o.logger?.warn({ err: (err as Error).message }, 'listening for new alerts failed; retrying (the poll delivers them meanwhile)');
      await c.end().catch(() => undefined);
      if (initial) throw err;
      return retry();
    }
    // Stopped while connecting: nothing may stay open.
    if (stopped) return void (await c.end().catch(() => undefined));
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
      await listen(true);
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
      let cursor = cursorText === null ? lastSeq : BigInt(cursorText);
      // A Last-Event-ID past the newest stored alert is from another history (a rebuilt alerts store): followed,
      // it would hold back every alert until the sequence passed it. The client is told, and resumes from the newest.
      if (cursorText !== null && cursor > newestSeen()) {
        const newest = BigInt(await o.store.maxSeq());
        if (cursor > newest) {
          o.logger?.warn({ lastEventId: cursorText, newestSeq: newest.toString() }, 'Last-Event-ID is past the newest alert; the client resumes from the newest');
          spec.sendRaw(`id: ${newest.toString()}\nevent: reset\ndata: ${JSON.stringify({ lastEventId: newest.toString(), message: 'Last-Event-ID es posterior a la última alerta registrada; el flujo continúa desde la última. Consulte GET /v1/alerts para lo anterior.' })}\n\n`);
          cursor = newest;
        }
      }
      const client: HubClient = { ...spec, cursor, live: false };
      clients.add(client);
      try {
        await catchUp(client);
      } catch (err) {
        clients.delete(client);
        throw err;
      }
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
