/**
 * The read-only query API over the central store (Fastify). `buildQueryApi`
 * builds the app; `query-api-main.ts` listens. Every /v1 route needs a Bearer
 * token, validates its input with JSON Schema and serialises its output with
 * one; lists use keyset cursors. OpenAPI at /docs.
 *
 * Tokens come from QUERY_API_TOKENS: `token` or `token:role`, comma separated.
 * Roles are carried on the request for the coming personal-data masking; every
 * role sees everything for now.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type pg from 'pg';
import { normalizePlate } from '../contracts/index.ts';
import { BusError, ConfigError, readEndpoints, type Logger } from '../core/index.ts';
import { DEFAULT_STORE_SCHEMA, assertSchemaName } from '../migrations/index.ts';
import { createStorePool } from './current-state.ts';
import { historyRoutes } from './history.ts';
import { normalizeDocumentNumber } from './projection.ts';
import { isTransientStoreError, qualified } from './store.ts';

/** The codes (from core/errors.ts) the query API answers with, and their HTTP status; bodies are `{ code, message }`, messages in Spanish. */
export const QUERY_API_ERRORS = {
  BUS_ERR_AUTH: 401,
  BUS_ERR_NOT_FOUND: 404,
  BUS_ERR_VALIDATION: 400,
  BUS_ERR_STORE_UNAVAILABLE: 503,
  BUS_ERR_INTERNAL: 500,
} as const;
export type QueryApiErrorCode = keyof typeof QUERY_API_ERRORS;

/** WHERE conditions with numbered parameters: `add('status = ?', v)`. */
function conditions(): { where: string[]; params: unknown[]; add(sql: string, value: unknown): void } {
  const where: string[] = [];
  const params: unknown[] = [];
  return {
    where,
    params,
    add(sql, value) {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    },
  };
}

/** Thrown by route handlers; the error handler answers with its code's HTTP status. */
class ApiError extends BusError {
  declare readonly code: QueryApiErrorCode;
  constructor(code: QueryApiErrorCode, message: string) {
    super(code, message);
  }
}

/** A token's holder; `role` is for the masking to come. */
export interface Principal {
  readonly role: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    queryPrincipal?: Principal;
  }
}

export interface QueryApiOptions {
  /** A pool to use (not closed by the app); otherwise one is created from `databaseUrl`. */
  pool?: pg.Pool;
  databaseUrl?: string;
  /** Store schema; default `store` (a replay may point the API at another, or swap schemas under it). */
  schema?: string;
  /** Accepted tokens (`token` or `token:role`); defaults to QUERY_API_TOKENS. */
  tokens?: readonly string[];
  logger?: Logger;
}

/** Parses `token[:role]` entries; throws BUS_ERR_CONFIG when none is given. */
export function parseTokens(entries: readonly string[]): Map<string, Principal> {
  const map = new Map<string, Principal>();
  for (const e of entries.map((x) => x.trim()).filter(Boolean)) {
    const [token, role = 'analyst'] = e.split(':');
    map.set(token!, { role });
  }
  if (map.size === 0) throw new ConfigError('query API: QUERY_API_TOKENS must list at least one token (`token[:role]`, comma separated)');
  return map;
}

const errorBody = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' } },
} as const;
const errors = { 400: errorBody, 401: errorBody, 404: errorBody, 503: errorBody };
const ts = { type: ['string', 'null'], format: 'date-time' } as const;
const str = { type: ['string', 'null'] } as const;
const int = { type: ['integer', 'null'] } as const;
const paging = {
  limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
  cursor: { type: 'string', maxLength: 500 },
} as const;
const page = (item: object) => ({
  type: 'object',
  required: ['items', 'nextCursor'],
  properties: { items: { type: 'array', items: item }, nextCursor: { type: ['string', 'null'] } },
});
const obj = (properties: Record<string, unknown>) => ({ type: 'object', properties });

const incident = obj({
  incidentId: { type: 'string' }, status: { type: 'string' }, incidentType: str, departmentCode: str, municipalityCode: str,
  village: str, description: str, summary: str, startedAt: ts, reportedAt: ts, closedAt: ts,
  people: { type: ['object', 'null'], additionalProperties: { type: 'integer' } },
  houses: { type: ['object', 'null'], additionalProperties: { type: 'integer' } },
  infrastructure: { type: ['object', 'null'], additionalProperties: { type: 'integer' } },
  firstOccurredAt: ts, lastOccurredAt: ts,
});
const alert = obj({
  alertId: { type: 'string' }, status: { type: 'string' }, childCui: str, childDocumentType: str, childDocumentNumber: str,
  childFullName: str, childBirthDate: str, childSex: str, ageYears: int, physicalDescription: str, photoUrl: str,
  disappearanceDepartment: str, disappearanceMunicipality: str, disappearedAt: ts, activatedAt: ts, lastOccurredAt: ts,
});
const vehicle = obj({
  plate: { type: 'string' }, status: { type: 'string' }, brand: str, line: str, model: int, colour: str, reportNumber: str,
  stolenAt: ts, theftDepartment: str, theftMunicipality: str, reportedAt: ts, recoveredAt: ts,
  recoveryDepartment: str, recoveryMunicipality: str, lastOccurredAt: ts,
});
const warrant = obj({
  warrantId: { type: 'string' }, status: { type: 'string' }, personCui: str, personDocumentNumber: str, personFullName: str,
  personBirthDate: str, crimeTypeCode: str, court: str, caseNumber: str, issuedAt: ts, closedAt: ts, closureReason: str, lastOccurredAt: ts,
});
const movement = obj({
  movementId: { type: 'string' }, eventId: { type: 'string' }, occurredAt: ts, direction: { type: 'string' }, borderPostCode: { type: 'string' },
  travellerCui: str, travellerDocumentType: str, travellerDocumentNumber: str, travellerFullName: str, travellerBirthDate: str,
  travellerSex: str, travellerNationality: str, reason: str, minorAccompanied: { type: ['boolean', 'null'] }, vehiclePlate: str,
});
const citizenAbroad = obj({
  registrationId: { type: 'string' }, personCui: str, personDocumentType: str, personDocumentNumber: str, personFullName: str,
  personBirthDate: str, personSex: str, personNationality: str, countryOfResidence: str, consulate: str, city: str,
  registeredOn: str, firstOccurredAt: ts, lastOccurredAt: ts,
});
const logEntry = obj({
  eventId: { type: 'string' }, eventType: { type: 'string' }, source: { type: 'string' }, occurredAt: ts, topic: { type: 'string' },
  partition: { type: 'integer' }, offset: { type: 'string' }, schemaId: { type: 'integer' }, entityKey: str, projectedAt: ts,
});

const camel = (row: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));

/** Opaque keyset cursor: the sort key and id of the last item served. */
function encodeCursor(sortKey: unknown, id: unknown): string {
  return Buffer.from(JSON.stringify([sortKey, id])).toString('base64url');
}
function decodeCursor(cursor: string | undefined): [string, string] | undefined {
  if (cursor === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    /* fall through */
  }
  throw new ApiError('BUS_ERR_VALIDATION', 'El cursor de paginación no es válido; use el valor nextCursor de la respuesta anterior.');
}

/**
 * Builds the query API (not listening). Throws BUS_ERR_CONFIG when no token is configured.
 */
export async function buildQueryApi(options: QueryApiOptions = {}): Promise<FastifyInstance> {
  const schema = options.schema ?? process.env.STORE_SCHEMA ?? DEFAULT_STORE_SCHEMA;
  assertSchemaName(schema);
  const tokens = parseTokens(options.tokens ?? (process.env.QUERY_API_TOKENS ?? '').split(','));
  const pool = options.pool ?? createStorePool(options.databaseUrl ?? readEndpoints().databaseUrl);
  const t = (table: string) => qualified(schema, table);

  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger | undefined,
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: true } },
  });
  if (!options.pool) app.addHook('onClose', async () => void (await pool.end()));

  await app.register(swagger, {
    openapi: {
      info: { title: 'SNS — API de consulta del almacén central', version: '1.0.0', description: 'Consultas de solo lectura sobre el estado actual y el historial del bus del SNS.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler((err: Error & { validation?: unknown; validationContext?: string; statusCode?: number }, _req, reply) => {
    if (err instanceof ApiError) return reply.code(QUERY_API_ERRORS[err.code]).send({ code: err.code, message: err.message });
    if (err.validation) {
      return reply.code(400).send({ code: 'BUS_ERR_VALIDATION', message: `Parámetros inválidos: ${err.validationContext ?? ''} ${err.message}`.trim() });
    }
    if (isTransientStoreError(err)) {
      return reply.code(503).send({ code: 'BUS_ERR_STORE_UNAVAILABLE', message: 'El almacén central no está disponible en este momento; intente de nuevo en unos segundos.' });
    }
    app.log.error({ err: err.message }, 'query failed');
    return reply.code(500).send({ code: 'BUS_ERR_INTERNAL', message: 'Error interno del servidor de consultas.' });
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ code: 'BUS_ERR_NOT_FOUND', message: 'La ruta solicitada no existe.' }));

  async function authenticate(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const header = req.headers.authorization ?? '';
    const principal = header.startsWith('Bearer ') ? tokens.get(header.slice(7).trim()) : undefined;
    if (!principal) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ code: 'BUS_ERR_AUTH', message: 'Se requiere un token válido: encabezado Authorization: Bearer <token>.' });
      return;
    }
    req.queryPrincipal = principal;
  }

  app.get('/health', { schema: { hide: true, response: { 200: obj({ status: { type: 'string' } }) } } }, async () => ({ status: 'ok' }));

  /**
   * Runs a keyset-paginated list query ordered by (sortKey DESC, idColumn DESC).
   * `sortKey` is an SQL expression that is never NULL (a row comparison with
   * NULL matches nothing, and "null" is no timestamp): a nullable column is
   * paged as COALESCE(column, a NOT NULL column). The cursor holds the key as
   * PostgreSQL's text, exact to the microsecond.
   */
  async function list(
    table: string, where: string[], params: unknown[], sortKey: string, idColumn: string, limit: number, cursor: string | undefined,
  ) {
    const after = decodeCursor(cursor);
    const w = [...where];
    const p = [...params];
    if (after) {
      p.push(after[0], after[1]);
      w.push(`(${sortKey}, ${idColumn}) < ($${p.length - 1}, $${p.length})`);
    }
    p.push(limit + 1);
    const sql =
      `SELECT *, (${sortKey})::text AS "__sort_key" FROM ${t(table)} ${w.length ? `WHERE ${w.join(' AND ')}` : ''} ` +
      `ORDER BY ${sortKey} DESC, ${idColumn} DESC LIMIT $${p.length}`;
    let rows: Record<string, unknown>[];
    try {
      rows = (await pool.query(sql, p)).rows as Record<string, unknown>[];
    } catch (err) {
      // A cursor whose sort key is no value of the column (SQLSTATE class 22, data exception) is the client's error.
      if (after && String((err as { code?: unknown }).code).startsWith('22')) {
        throw new ApiError('BUS_ERR_VALIDATION', 'El cursor de paginación no es válido; use el valor nextCursor de la respuesta anterior.');
      }
      throw err;
    }
    const more = rows.length > limit;
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    const nextCursor = more && last ? encodeCursor(last.__sort_key, last[idColumn]) : null;
    return { items: items.map(({ __sort_key: _, ...row }) => camel(row)), nextCursor };
  }

  await app.register(async (v1) => {
    v1.addHook('onRequest', authenticate);
    // Historical aggregates for charts (consumers/history.ts).
    await v1.register(historyRoutes, { pool, schema });

    v1.get<{ Querystring: { department?: string; municipality?: string; type?: string; status?: string; from?: string; to?: string; limit: number; cursor?: string } }>(
      '/incidents',
      {
        schema: {
          summary: 'Incidentes de CONRED, filtrados por departamento, municipio, tipo, estado y rango de tiempo',
          tags: ['incidentes'],
          querystring: {
            type: 'object', additionalProperties: false,
            properties: {
              department: { type: 'string', pattern: '^\\d{2}$' }, municipality: { type: 'string', pattern: '^\\d{2}$' },
              type: { type: 'string', maxLength: 60 }, status: { type: 'string', enum: ['open', 'closed'] },
              from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' }, ...paging,
            },
          },
          response: { 200: page(incident), ...errors },
        },
      },
      async (req) => {
        const q = req.query;
        const { where, params, add } = conditions();
        if (q.department) add('department_code = ?', q.department);
        if (q.municipality) add('municipality_code = ?', q.municipality);
        if (q.type) add('incident_type = ?', q.type);
        if (q.status) add('status = ?', q.status);
        if (q.from) add('first_occurred_at >= ?', q.from);
        if (q.to) add('first_occurred_at < ?', q.to);
        return list('incidents', where, params, 'first_occurred_at', 'incident_id', q.limit, q.cursor);
      },
    );

    v1.get<{ Querystring: { limit: number; cursor?: string } }>(
      '/alba-keneth/active',
      {
        schema: {
          summary: 'Alertas Alba-Keneth activas, las más recientes primero',
          tags: ['alba-keneth'],
          querystring: { type: 'object', additionalProperties: false, properties: { ...paging } },
          response: { 200: page(alert), ...errors },
        },
      },
      async (req) => list('alba_keneth_alerts', [`status = 'active'`], [], 'COALESCE(activated_at, first_occurred_at)', 'alert_id', req.query.limit, req.query.cursor),
    );

    v1.get<{ Params: { plate: string } }>(
      '/vehicles/:plate',
      {
        schema: {
          summary: 'Estado de un vehículo por placa (robado o recuperado)',
          tags: ['vehículos'],
          params: { type: 'object', required: ['plate'], properties: { plate: { type: 'string', minLength: 2, maxLength: 20 } } },
          response: { 200: vehicle, ...errors },
        },
      },
      async (req) => {
        const r = await pool.query(`SELECT * FROM ${t('stolen_vehicles')} WHERE plate = $1`, [normalizePlate(req.params.plate)]);
        if (r.rows.length === 0) throw new ApiError('BUS_ERR_NOT_FOUND', 'No hay denuncia de robo registrada para esa placa.');
        return camel(r.rows[0] as Record<string, unknown>);
      },
    );

    v1.get<{ Querystring: { cui: string; status?: string; limit: number; cursor?: string } }>(
      '/warrants',
      {
        schema: {
          summary: 'Órdenes de captura de una persona por CUI',
          tags: ['órdenes de captura'],
          querystring: {
            type: 'object', additionalProperties: false, required: ['cui'],
            properties: { cui: { type: 'string', pattern: '^\\d{13}$' }, status: { type: 'string', enum: ['active', 'closed'] }, ...paging },
          },
          response: { 200: page(warrant), ...errors },
        },
      },
      async (req) => {
        const where = ['person_cui = $1'];
        const params: unknown[] = [req.query.cui];
        if (req.query.status) {
          params.push(req.query.status);
          where.push('status = $2');
        }
        // issued_at is NULL for a warrant known only from its closed event.
        return list('arrest_warrants', where, params, 'COALESCE(issued_at, first_occurred_at)', 'warrant_id', req.query.limit, req.query.cursor);
      },
    );

    v1.get<{ Querystring: { cui?: string; documentNumber?: string; limit: number; cursor?: string } }>(
      '/movements',
      {
        schema: {
          summary: 'Movimientos migratorios de una persona por CUI o número de documento',
          tags: ['movimientos migratorios'],
          querystring: {
            type: 'object', additionalProperties: false,
            properties: { cui: { type: 'string', pattern: '^\\d{13}$' }, documentNumber: { type: 'string', minLength: 3, maxLength: 40 }, ...paging },
            anyOf: [{ required: ['cui'] }, { required: ['documentNumber'] }],
          },
          response: { 200: page(movement), ...errors },
        },
      },
      async (req) => {
        const q = req.query;
        const where = q.cui ? ['traveller_cui = $1'] : ['traveller_document_number = $1'];
        const params = [q.cui ?? q.documentNumber!.replace(/[\s-]+/g, '').toUpperCase()];
        return list('migratory_movements', where, params, 'occurred_at', 'movement_id', q.limit, q.cursor);
      },
    );

    v1.get<{ Querystring: { cui?: string; documentNumber?: string; country?: string; limit: number; cursor?: string } }>(
      '/citizens-abroad',
      {
        schema: {
          summary: 'Guatemaltecos registrados en el exterior (MINEX) por CUI, número de documento o país de residencia',
          description: 'Al menos un filtro es obligatorio; varios filtros se combinan (todos deben cumplirse). Los registros más recientes primero.',
          tags: ['guatemaltecos en el exterior'],
          querystring: {
            type: 'object', additionalProperties: false,
            properties: {
              cui: { type: 'string', pattern: '^\\d{13}$' }, documentNumber: { type: 'string', minLength: 3, maxLength: 40 },
              country: { type: 'string', pattern: '^[A-Za-z]{3}$', description: 'ISO 3166-1 alfa-3, p. ej. USA' }, ...paging,
            },
            anyOf: [{ required: ['cui'] }, { required: ['documentNumber'] }, { required: ['country'] }],
          },
          response: { 200: page(citizenAbroad), ...errors },
        },
      },
      async (req) => {
        const q = req.query;
        const { where, params, add } = conditions();
        if (q.cui) add('person_cui = ?', q.cui);
        if (q.documentNumber) add('person_document_number = ?', normalizeDocumentNumber(q.documentNumber));
        if (q.country) add('country_of_residence = ?', q.country.toUpperCase());
        return list('citizens_abroad', where, params, 'registered_on', 'registration_id', q.limit, q.cursor);
      },
    );

    v1.get<{ Params: { id: string } }>(
      '/events/:id',
      {
        schema: {
          summary: 'Sobre de un evento del registro por su id',
          tags: ['registro de eventos'],
          params: { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } },
          response: { 200: logEntry, ...errors },
        },
      },
      async (req) => {
        const r = await pool.query(`SELECT * FROM ${t('event_log')} WHERE event_id = $1`, [req.params.id]);
        if (r.rows.length === 0) throw new ApiError('BUS_ERR_NOT_FOUND', 'No existe un evento con ese id en el registro.');
        return camel(r.rows[0] as Record<string, unknown>);
      },
    );
  }, { prefix: '/v1' });

  return app;
}
