/**
 * Idempotency-Key records in PostgreSQL. The first request with a key claims
 * it (a `pending` row, by an atomic insert, so concurrent requests with the
 * same key cannot both publish); when it ends, its response is stored and
 * replayed to every later request with the same key and body until the
 * window ends. A request that ended without Kafka's acknowledgement releases
 * the key, so a retry after an outage publishes exactly once.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { BusError } from '../../core/index.ts';
import { isConnectionError } from './database.ts';

/** What `claim` found. */
export type Claim =
  | { kind: 'owner'; previous?: unknown }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'conflict' }
  | { kind: 'in-progress' };

export interface IdempotencyStore {
  /**
   * Claims `key` for this request. `resumable(body)` says whether a stored
   * response still has work to redo (a batch with items Kafka did not
   * acknowledge); then the caller becomes the owner again, with `previous`.
   */
  claim(institution: string, key: string, requestHash: Buffer, resumable?: (body: unknown) => boolean): Promise<Claim>;
  /** Stores the final response of an owned key. */
  complete(institution: string, key: string, status: number, body: unknown): Promise<void>;
  /** Releases an owned key without a response (nothing was acknowledged). */
  release(institution: string, key: string): Promise<void>;
  /** Deletes expired records; returns how many. */
  purgeExpired(): Promise<number>;
}

/** Hash of what makes two requests "the same": route and body. */
export function requestHash(route: string, body: unknown): Buffer {
  return createHash('sha256').update(route).update('\u0000').update(JSON.stringify(body) ?? '').digest();
}

/**
 * Creates the store. `windowMs` is how long a key is remembered; a `pending`
 * claim older than `staleMs` (its owner crashed) may be taken over.
 */
export function createIdempotencyStore(pool: pg.Pool, schema: string, windowMs: number, staleMs: number): IdempotencyStore {
  const table = `"${schema}".idempotency_keys`;

  async function query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await pool.query<R>(sql, params);
    } catch (cause) {
      if (isConnectionError(cause)) throw new BusError('BUS_ERR_STORE_UNAVAILABLE', 'PostgreSQL is unavailable for idempotency keys', { cause });
      throw cause;
    }
  }

  return {
    async claim(institution, key, hash, resumable) {
      const inserted = await query(
        `INSERT INTO ${table} AS t (institution, idempotency_key, request_hash, state, expires_at)
         VALUES ($1, $2, $3, 'pending', now() + $4 * interval '1 millisecond')
         ON CONFLICT (institution, idempotency_key) DO UPDATE
           SET request_hash = EXCLUDED.request_hash, state = 'pending', response_status = NULL, response_body = NULL,
               created_at = now(), updated_at = now(), expires_at = EXCLUDED.expires_at
         WHERE t.expires_at < now()
            OR (t.state = 'pending' AND t.request_hash = EXCLUDED.request_hash AND t.updated_at < now() - $5 * interval '1 millisecond')
         RETURNING 1`,
        [institution, key, hash, windowMs, staleMs],
      );
      if (inserted.rowCount) return { kind: 'owner' };
      const found = await query<{ request_hash: Buffer; state: string; response_status: number | null; response_body: unknown }>(
        `SELECT request_hash, state, response_status, response_body FROM ${table} WHERE institution = $1 AND idempotency_key = $2`,
        [institution, key],
      );
      const row = found.rows[0];
      if (!row) return this.claim(institution, key, hash, resumable); // released meanwhile
      if (!row.request_hash.equals(hash)) return { kind: 'conflict' };
      if (row.state === 'pending') return { kind: 'in-progress' };
      if (resumable?.(row.response_body)) {
        const taken = await query(
          `UPDATE ${table} SET state = 'pending', updated_at = now()
            WHERE institution = $1 AND idempotency_key = $2 AND state = 'done' RETURNING 1`,
          [institution, key],
        );
        return taken.rowCount ? { kind: 'owner', previous: row.response_body } : { kind: 'in-progress' };
      }
      return { kind: 'replay', status: row.response_status ?? 200, body: row.response_body };
    },
    async complete(institution, key, status, body) {
      await query(
        `UPDATE ${table} SET state = 'done', response_status = $3, response_body = $4, updated_at = now()
          WHERE institution = $1 AND idempotency_key = $2`,
        [institution, key, status, JSON.stringify(body)],
      );
    },
    async release(institution, key) {
      await query(`DELETE FROM ${table} WHERE institution = $1 AND idempotency_key = $2 AND state = 'pending'`, [institution, key]);
    },
    async purgeExpired() {
      const r = await query(`DELETE FROM ${table} WHERE expires_at < now()`, []);
      return r.rowCount ?? 0;
    },
  };
}
