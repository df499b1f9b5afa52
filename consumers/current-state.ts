/**
 * Look-ups of the store's current state, for alert correlation: each one
 * hits a partial index of active rows. Person matching goes CUI first, then
 * document number, then (when allowed) normalised name plus birth date, and
 * says which one matched so the caller can mark a name match as Possible.
 */
import pg from 'pg';
import { normalizePlate } from '../contracts/index.ts';
import { DEFAULT_STORE_SCHEMA } from '../migrations/index.ts';
import { normalizeDocumentNumber, normalizeName } from './projection.ts';
import { qualified } from './store.ts';

/** Who to look for; any subset of identifiers. */
export interface PersonQuery {
  cui?: string | null;
  documentNumber?: string | null;
  fullName?: string | null;
  /** `YYYY-MM-DD`. */
  birthDate?: string | null;
}

/** How a person matched: by an identifier (certain) or by name and birth date (possible). */
export type MatchBasis = 'cui' | 'document' | 'name-birthdate';

export interface PersonMatch<R> {
  readonly basis: MatchBasis;
  readonly rows: readonly R[];
}

/** Current-state row types, as PostgreSQL returns them (dates as `YYYY-MM-DD`, times as ISO strings). */
export type StateRow = Record<string, unknown>;

/** A pg pool whose dates stay `YYYY-MM-DD` strings, timestamps ISO strings and bigints strings. */
export function createStorePool(connectionString: string, max = 5): pg.Pool {
  const types = {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === 1082) return (v: string) => v; // date
      if (oid === 1184 || oid === 1114) return (v: string) => new Date(v).toISOString();
      if (oid === 20) return (v: string) => v; // int8
      return pg.types.getTypeParser(oid, format as 'text');
    },
  };
  const pool = new pg.Pool({ connectionString, max, types: types as never });
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `fn` in one transaction on a client of `pool`: COMMIT when it resolves, ROLLBACK when it throws. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

export interface CurrentStateOptions {
  schema?: string;
  /** Allow the name + birth date fallback (default true). */
  nameFallback?: boolean;
}

/** Read access to current state for correlation (issue: real-time alerts). */
export interface CurrentState {
  /** Active Alba-Keneth alerts for a person (the traveller of a movement). */
  activeAlbaKeneth(person: PersonQuery): Promise<PersonMatch<StateRow> | null>;
  /** Active arrest warrants for a person. */
  activeWarrants(person: PersonQuery): Promise<PersonMatch<StateRow> | null>;
  /** The vehicle when its plate is reported stolen and not recovered; null otherwise. */
  stolenVehicle(plate: string): Promise<StateRow | null>;
}

/** Creates the current-state look-ups over `pool` (see createStorePool). */
export function createCurrentState(pool: pg.Pool, options: CurrentStateOptions = {}): CurrentState {
  const schema = options.schema ?? DEFAULT_STORE_SCHEMA;
  const nameFallback = options.nameFallback ?? true;

  async function match(table: string, prefix: string, activeStatus: string, person: PersonQuery): Promise<PersonMatch<StateRow> | null> {
    const t = qualified(schema, table);
    const tries: [MatchBasis, string, unknown[]][] = [];
    if (person.cui) tries.push(['cui', `${prefix}_cui = $1`, [person.cui]]);
    const doc = normalizeDocumentNumber(person.documentNumber);
    if (doc) tries.push(['document', `(${prefix}_document_number = $1 OR ${prefix}_cui = $1)`, [doc]]);
    const name = normalizeName(person.fullName);
    if (nameFallback && name && person.birthDate) {
      tries.push(['name-birthdate', `${prefix}_name_normalized = $1 AND ${prefix}_birth_date = $2`, [name, person.birthDate]]);
    }
    for (const [basis, where, params] of tries) {
      const r = await pool.query(`SELECT * FROM ${t} WHERE status = '${activeStatus}' AND ${where}`, params);
      if (r.rows.length > 0) return { basis, rows: r.rows };
    }
    return null;
  }

  return {
    activeAlbaKeneth: (person) => match('alba_keneth_alerts', 'child', 'active', person),
    activeWarrants: (person) => match('arrest_warrants', 'person', 'active', person),
    async stolenVehicle(plate) {
      const r = await pool.query(`SELECT * FROM ${qualified(schema, 'stolen_vehicles')} WHERE plate = $1 AND status = 'stolen'`, [normalizePlate(plate)]);
      return r.rows[0] ?? null;
    },
  };
}
