/**
 * API keys of the institutions. A key is 32 random bytes (base64url) behind a
 * readable prefix; only its SHA-256 is stored, so a database leak reveals no
 * usable key. An institution may hold several keys at once, which is how keys
 * are rotated: create the new one, move clients, revoke the old one.
 */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { BusError } from '../../core/index.ts';
import { isConnectionError } from './database.ts';

/** A key as listed: never the key itself. */
export interface ApiKeyInfo {
  keyId: string;
  institution: string;
  label: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

/** What `verify` returns for a valid key. */
export interface Principal {
  keyId: string;
  institution: string;
}

export interface ApiKeyStore {
  /** Creates a key for `institution`; the returned `key` is shown once and never stored. */
  create(institution: string, label?: string): Promise<{ keyId: string; key: string }>;
  /** Revokes a key by id; false when no active key has that id. */
  revoke(keyId: string): Promise<boolean>;
  /** Keys of `institution` (or all), newest first. */
  list(institution?: string): Promise<ApiKeyInfo[]>;
  /** The principal of a presented key, or undefined when it is unknown or revoked. */
  verify(presented: string): Promise<Principal | undefined>;
}

const KEY_PREFIX = 'sns';

/** SHA-256 of a presented key, the only form ever stored or compared. */
export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * Creates the key store over `pool` in `schema`. Verified keys are cached
 * for `cacheMs` (so a revocation takes effect within it); unknown keys are not.
 */
export function createApiKeyStore(pool: pg.Pool, schema: string, cacheMs = 5_000): ApiKeyStore {
  const table = `"${schema}".api_keys`;
  const cache = new Map<string, { principal: Principal; until: number }>();

  async function query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await pool.query<R>(sql, params);
    } catch (cause) {
      if (isConnectionError(cause)) throw new BusError('BUS_ERR_STORE_UNAVAILABLE', 'PostgreSQL is unavailable for API keys', { cause });
      throw cause;
    }
  }

  return {
    async create(institution, label) {
      const keyId = randomBytes(6).toString('hex');
      const key = `${KEY_PREFIX}_${keyId}_${randomBytes(32).toString('base64url')}`;
      await query(`INSERT INTO ${table} (key_id, key_hash, institution, label) VALUES ($1, $2, $3, $4)`, [
        keyId,
        hashApiKey(key),
        institution,
        label ?? null,
      ]);
      return { keyId, key };
    },
    async revoke(keyId) {
      const r = await query(`UPDATE ${table} SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL`, [keyId]);
      for (const [h, v] of cache) if (v.principal.keyId === keyId) cache.delete(h);
      return (r.rowCount ?? 0) > 0;
    },
    async list(institution) {
      const r = await query<{ key_id: string; institution: string; label: string | null; created_at: Date; revoked_at: Date | null }>(
        `SELECT key_id, institution, label, created_at, revoked_at FROM ${table}
          WHERE $1::text IS NULL OR institution = $1 ORDER BY created_at DESC`,
        [institution ?? null],
      );
      return r.rows.map((x) => ({ keyId: x.key_id, institution: x.institution, label: x.label, createdAt: x.created_at, revokedAt: x.revoked_at }));
    },
    async verify(presented) {
      if (presented.length < 16 || presented.length > 200) return undefined;
      const hash = hashApiKey(presented);
      const k = hash.toString('hex');
      const hit = cache.get(k);
      const now = Date.now();
      if (hit && hit.until > now) return hit.principal;
      const r = await query<{ key_id: string; institution: string }>(
        `SELECT key_id, institution FROM ${table} WHERE key_hash = $1 AND revoked_at IS NULL`,
        [hash],
      );
      const row = r.rows[0];
      if (!row) {
        cache.delete(k);
        return undefined;
      }
      const principal = { keyId: row.key_id, institution: row.institution };
      if (cacheMs > 0) cache.set(k, { principal, until: now + cacheMs });
      return principal;
    },
  };
}
