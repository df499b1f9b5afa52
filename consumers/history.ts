/**
 * Historical aggregates of the central store, as a Fastify plugin mounted by
 * the query API (`/v1/history/…`) and by the push server for the dashboard.
 * Computed on request from indexed tables (`event_log` by time, the state
 * tables by key, `migratory_movements` by border post and time), so they
 * rebuild exactly from a replay. Days and months are Guatemala's
 * (America/Guatemala); every route takes `from` and `to` (ISO-8601, `to`
 * exclusive; default the last 30 days) and answers chart-ready JSON.
 *
 * The caller authenticates (it mounts the plugin behind its own token hook).
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { loadCatalogs } from '../contracts/index.ts';
import { assertSchemaName } from '../migrations/index.ts';

/** Options of the history routes. */
export interface HistoryRoutesOptions {
  pool: pg.Pool;
  /** Store schema (resolved per query, so a replay swap is seen at once). */
  schema: string;
}

const TZ = 'America/Guatemala';
const DAY_MS = 86_400_000;
/** Widest range of one request (the per-day series stay small enough for a chart). */
export const HISTORY_MAX_DAYS = 3_660;

const range = {
  from: { type: 'string', format: 'date-time' },
  to: { type: 'string', format: 'date-time' },
} as const;
const bad = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } as const;
const envelope = (row: Record<string, unknown>) => ({
  200: {
    type: 'object',
    required: ['from', 'to', 'rows'],
    properties: { from: { type: 'string' }, to: { type: 'string' }, rows: { type: 'array', items: { type: 'object', properties: row } } },
  },
  400: bad,
  401: bad,
  503: bad,
});
const s = { type: 'string' } as const;
const sn = { type: ['string', 'null'] } as const;
const n = { type: 'integer' } as const;

class RangeError400 extends Error {
  readonly statusCode = 400;
  readonly code = 'BUS_ERR_VALIDATION';
  readonly validation = [];
}

function window(q: { from?: string; to?: string }): { from: string; to: string } {
  const to = q.to ? new Date(q.to) : new Date();
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - 30 * DAY_MS);
  if (to <= from) throw new RangeError400('`to` debe ser posterior a `from`.');
  if (to.getTime() - from.getTime() > HISTORY_MAX_DAYS * DAY_MS) throw new RangeError400(`El rango no puede pasar de ${HISTORY_MAX_DAYS} días.`);
  return { from: from.toISOString(), to: to.toISOString() };
}

/** Registers the history routes under the caller's prefix. */
export async function historyRoutes(app: FastifyInstance, options: HistoryRoutesOptions): Promise<void> {
  const { pool, schema } = options;
  assertSchemaName(schema);
  const t = (table: string) => `"${schema}"."${table}"`;
  const day = (col: string) => `to_char((${col} AT TIME ZONE '${TZ}')::date, 'YYYY-MM-DD')`;
  // Border post → department, from the catalog (data, not code).
  const posts = JSON.stringify(loadCatalogs().borderPosts.entries.map((b) => ({ code: b.code, department: (b as { departmentCode?: string }).departmentCode ?? null })));
  const month = (col: string) => `to_char(date_trunc('month', ${col} AT TIME ZONE '${TZ}'), 'YYYY-MM')`;

  app.get<{ Querystring: { from?: string; to?: string } }>(
    '/history/events-per-day',
    {
      schema: {
        summary: 'Eventos por día, institución, tipo y departamento (departamento actual de la entidad del evento)',
        tags: ['histórico'],
        querystring: { type: 'object', additionalProperties: false, properties: range },
        response: envelope({ day: s, institution: s, eventType: s, department: sn, count: n }),
      },
    },
    async (req) => {
      const w = window(req.query);
      const r = await pool.query(
        `SELECT ${day('e.occurred_at')} AS day, e.source AS institution, e.event_type AS "eventType",
                COALESCE(i.department_code, a.disappearance_department, v.theft_department, m.department) AS department,
                count(*)::int AS count
           FROM ${t('event_log')} e
           LEFT JOIN ${t('incidents')} i ON e.event_type LIKE 'conred.incident.%' AND i.incident_id = e.entity_key
           LEFT JOIN ${t('alba_keneth_alerts')} a ON e.event_type LIKE 'pgn.alba-keneth.%' AND a.alert_id = e.entity_key
           LEFT JOIN ${t('stolen_vehicles')} v ON e.event_type LIKE 'mingob.vehicle.%' AND v.plate = e.entity_key
           LEFT JOIN ${t('migratory_movements')} mm ON e.event_type = 'igm.migratory-movement.recorded' AND mm.event_id = e.event_id
           LEFT JOIN json_to_recordset($3::json) AS m(code text, department text) ON m.code = mm.border_post_code
          WHERE e.occurred_at >= $1 AND e.occurred_at < $2
          GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
        [w.from, w.to, posts],
      );
      return { ...w, rows: r.rows };
    },
  );

  app.get<{ Querystring: { from?: string; to?: string } }>(
    '/history/incidents-per-month',
    {
      schema: {
        summary: 'Incidentes y personas afectadas por departamento y mes (mes de inicio del incidente)',
        tags: ['histórico'],
        querystring: { type: 'object', additionalProperties: false, properties: range },
        response: envelope({ month: s, department: sn, incidents: n, peopleAffected: n, peopleDead: n, peopleMissing: n }),
      },
    },
    async (req) => {
      const w = window(req.query);
      const r = await pool.query(
        `SELECT ${month('COALESCE(started_at, first_occurred_at)')} AS month, department_code AS department, count(*)::int AS incidents,
                COALESCE(sum(people_affected), 0)::int AS "peopleAffected", COALESCE(sum(people_dead), 0)::int AS "peopleDead",
                COALESCE(sum(people_missing), 0)::int AS "peopleMissing"
           FROM ${t('incidents')}
          WHERE COALESCE(started_at, first_occurred_at) >= $1 AND COALESCE(started_at, first_occurred_at) < $2
          GROUP BY 1, 2 ORDER BY 1, 2`,
        [w.from, w.to],
      );
      return { ...w, rows: r.rows };
    },
  );

  app.get<{ Querystring: { from?: string; to?: string; borderPost?: string } }>(
    '/history/movements-per-day',
    {
      schema: {
        summary: 'Movimientos migratorios por puesto fronterizo, día y dirección',
        tags: ['histórico'],
        querystring: { type: 'object', additionalProperties: false, properties: { ...range, borderPost: { type: 'string', pattern: '^[A-Z0-9-]{2,40}$' } } },
        response: envelope({ day: s, borderPost: s, direction: s, count: n }),
      },
    },
    async (req) => {
      const w = window(req.query);
      const params: unknown[] = [w.from, w.to];
      if (req.query.borderPost) params.push(req.query.borderPost);
      const r = await pool.query(
        `SELECT ${day('occurred_at')} AS day, border_post_code AS "borderPost", direction, count(*)::int AS count
           FROM ${t('migratory_movements')}
          WHERE occurred_at >= $1 AND occurred_at < $2 ${req.query.borderPost ? 'AND border_post_code = $3' : ''}
          GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
        params,
      );
      return { ...w, rows: r.rows };
    },
  );

  app.get<{ Querystring: { from?: string; to?: string } }>(
    '/history/alba-keneth',
    {
      schema: {
        summary: 'Alertas Alba-Keneth activas y resueltas al final de cada día',
        tags: ['histórico'],
        querystring: { type: 'object', additionalProperties: false, properties: range },
        response: envelope({ day: s, active: n, resolved: n }),
      },
    },
    async (req) => {
      const w = window(req.query);
      // End of each Guatemalan day in the range; an alert counts as active from its activation until its deactivation.
      const r = await pool.query(
        `WITH days AS (
           SELECT d::date AS day, ((d::date + 1)::timestamp AT TIME ZONE '${TZ}') AS day_end
             FROM generate_series(($1::timestamptz AT TIME ZONE '${TZ}')::date, (($2::timestamptz - interval '1 microsecond') AT TIME ZONE '${TZ}')::date, interval '1 day') d)
         SELECT to_char(days.day, 'YYYY-MM-DD') AS day,
                count(a.alert_id) FILTER (WHERE COALESCE(a.activated_at, a.first_occurred_at) < days.day_end AND (a.deactivated_at IS NULL OR a.deactivated_at >= days.day_end))::int AS active,
                count(a.alert_id) FILTER (WHERE a.deactivated_at < days.day_end)::int AS resolved
           FROM days LEFT JOIN ${t('alba_keneth_alerts')} a ON COALESCE(a.activated_at, a.first_occurred_at) < days.day_end
          GROUP BY days.day ORDER BY days.day`,
        [w.from, w.to],
      );
      return { ...w, rows: r.rows };
    },
  );
}
