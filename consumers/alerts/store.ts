/**
 * The alerts schema in PostgreSQL: migrations (`migrations/alerts/`), writing
 * raised alerts exactly once, and the reads of the push server.
 */
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import type { AlertIssued, CapStatus } from '../../contracts/index.ts';
import { BusError, ConfigError, readEndpoints, type Logger } from '../../core/index.ts';
import type { AlertHistory, PriorAlert, RaisedAlert } from './engine.ts';

/** Where the alerts migrations live. */
export const ALERTS_MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/alerts/', import.meta.url));

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws BUS_ERR_CONFIG unless `schema` is a plain lower-case identifier (it is spliced into SQL). */
export function assertAlertsSchema(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) throw new ConfigError(`alerts schema "${schema}" must match ${SCHEMA_NAME}`);
}

/** The NOTIFY channel of new alerts in `schema`. */
export function alertsChannel(schema: string): string {
  return `${schema}_alerts`;
}

/** Brings the alerts schema up to date (idempotent). Throws BUS_ERR_STORE_UNAVAILABLE when PostgreSQL cannot be reached. */
export async function migrateAlerts(options: { databaseUrl?: string; schema: string; logger?: Logger }): Promise<string[]> {
  assertAlertsSchema(options.schema);
  try {
    const done = await runner({
      databaseUrl: options.databaseUrl ?? readEndpoints().databaseUrl,
      dir: ALERTS_MIGRATIONS_DIR,
      direction: 'up',
      schema: options.schema,
      createSchema: true,
      migrationsSchema: options.schema,
      migrationsTable: 'pgmigrations',
      checkOrder: true,
      log: (msg: string) => options.logger?.debug({ schema: options.schema }, msg),
    });
    return done.map((m) => m.name);
  } catch (cause) {
    const code = (cause as { code?: string }).code ?? '';
    if (code === 'ECONNREFUSED' || code.startsWith('08') || code === '57P03') {
      throw new BusError('BUS_ERR_STORE_UNAVAILABLE', `cannot reach PostgreSQL to migrate schema ${options.schema}`, { cause });
    }
    throw cause;
  }
}

/** An alert row as the push server serves it. */
export interface StoredAlert {
  readonly seq: string;
  readonly identifier: string;
  readonly status: CapStatus;
  readonly severity: string;
  readonly departmentCode: string | null;
  readonly sourceInstitution: string;
  readonly alert: AlertIssued;
  readonly ack: { readonly at: string; readonly by: string; readonly note: string | null } | null;
  readonly escalatedAt: string | null;
  readonly cancelledBy: string | null;
}

const COLUMNS = `seq, identifier, status, severity, department_code, source_institution, alert, acked_at, acked_by, ack_note, escalated_at, cancelled_by`;

interface Row {
  seq: string;
  identifier: string;
  status: CapStatus;
  severity: string;
  department_code: string | null;
  source_institution: string;
  alert: AlertIssued;
  acked_at: Date | string | null;
  acked_by: string | null;
  ack_note: string | null;
  escalated_at: Date | string | null;
  cancelled_by: string | null;
}

function toStored(r: Row): StoredAlert {
  return {
    seq: r.seq,
    identifier: r.identifier,
    status: r.status,
    severity: r.severity,
    departmentCode: r.department_code,
    sourceInstitution: r.source_institution,
    alert: r.alert,
    ack: r.acked_at ? { at: new Date(r.acked_at).toISOString(), by: r.acked_by ?? '', note: r.ack_note } : null,
    escalatedAt: r.escalated_at ? new Date(r.escalated_at).toISOString() : null,
    cancelledBy: r.cancelled_by,
  };
}

/** Filters of the list and the stream. */
export interface AlertFilter {
  severities?: readonly string[];
  departments?: readonly string[];
  statuses?: readonly string[];
}

/** Access to the alerts schema over `pool`. */
export interface AlertStore {
  readonly schema: string;
  /**
   * Inserts alerts in order, in one transaction that draws `seq` under an
   * advisory lock and NOTIFYs listeners; identifiers already present change
   * nothing. Returns the alerts newly inserted; the outbox publishes them
   * (and any a crash left unpublished) to Kafka.
   */
  insert(raised: readonly RaisedAlert[], opts?: { escalationOf?: string }): Promise<AlertIssued[]>;
  /** Alerts not yet published to Kafka, oldest first (the outbox). */
  unpublished(limit: number): Promise<AlertIssued[]>;
  /** `activeFor` of many (status, entity) pairs in one query; keys are `status\u0000entity`. */
  activeForMany(keys: readonly (readonly [CapStatus, string])[]): Promise<Map<string, PriorAlert[]>>;
  /** Marks alerts as published to Kafka. */
  markPublished(identifiers: readonly string[]): Promise<void>;
  /** Earlier alerts of an entity, not cancelled, with the given status. */
  history(): AlertHistory;
  get(identifier: string): Promise<StoredAlert | null>;
  /** Newest first. */
  list(opts: AlertFilter & { limit: number; beforeSeq?: string }): Promise<StoredAlert[]>;
  /** Alerts after `seq`, oldest first. */
  after(seq: string, limit: number): Promise<StoredAlert[]>;
  maxSeq(): Promise<string>;
  /** Records the acknowledgement (the first one wins); null when the alert does not exist. */
  acknowledge(identifier: string, operator: string, note: string | null): Promise<StoredAlert | null>;
  /** Counts of the last `hours` by institution and by department. */
  stats(hours: number): Promise<{ byInstitution: { key: string; count: number }[]; byDepartment: { key: string; count: number }[]; bySeverity: { key: string; count: number }[] }>;
  /** Extreme Actual alerts older than `afterMs`, never acknowledged, escalated or cancelled. */
  dueEscalations(afterMs: number, limit: number): Promise<AlertIssued[]>;
}

/** Creates the alert store over `pool` in `schema`. */
export function createAlertStore(pool: pg.Pool, schema: string): AlertStore {
  assertAlertsSchema(schema);
  const t = `"${schema}".alerts`;
  const lockKey = `${schema}.alerts.seq`;
  const channel = alertsChannel(schema);

  return {
    schema,
    async insert(raised, opts = {}) {
      if (raised.length === 0) return [];
      const rows = raised.map((r) => ({
        identifier: r.alert.identifier,
        event_id: r.alert.eventId,
        rule: r.alert.rule,
        status: r.alert.status,
        msg_type: r.alert.msgType,
        severity: r.alert.info.severity,
        urgency: r.alert.info.urgency,
        certainty: r.alert.info.certainty,
        department_code: r.alert.area.departmentCode ?? null,
        municipality_code: r.alert.area.municipalityCode ?? null,
        source_institution: r.sourceInstitution,
        entity_key: r.entityKey,
        sent: r.alert.sent,
        alert: r.alert,
      }));
      const cancels = raised.flatMap((r) => r.cancels.map((c) => [c, r.alert.identifier] as const));
      const client = await pool.connect();
      try {
        // One round trip each for BEGIN + lock and NOTIFY + COMMIT (simple protocol; lockKey and channel are checked identifiers).
        await client.query(`BEGIN; SELECT pg_advisory_xact_lock(hashtext('${lockKey}'))`);
        const inserted = await client.query<{ identifier: string }>(
          `INSERT INTO ${t} (identifier, event_id, rule, status, msg_type, severity, urgency, certainty, department_code,
             municipality_code, source_institution, entity_key, sent, alert)
           SELECT x.identifier, x.event_id, x.rule, x.status, x.msg_type, x.severity, x.urgency, x.certainty, x.department_code,
             x.municipality_code, x.source_institution, x.entity_key, x.sent, x.alert
           FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(j, n),
                jsonb_to_record(e.j) AS x(identifier text, event_id uuid, rule text, status text, msg_type text, severity text,
                  urgency text, certainty text, department_code text, municipality_code text, source_institution text,
                  entity_key text, sent timestamptz, alert jsonb)
           ORDER BY e.n
           ON CONFLICT (identifier) DO NOTHING RETURNING identifier`,
          [JSON.stringify(rows)],
        );
        const fresh = new Set(inserted.rows.map((r) => r.identifier));
        const freshCancels = cancels.filter(([, by]) => fresh.has(by));
        if (freshCancels.length > 0) {
          await client.query(
            `UPDATE ${t} a SET cancelled_by = c.by FROM unnest($1::text[], $2::text[]) AS c(id, by) WHERE a.identifier = c.id AND a.cancelled_by IS NULL`,
            [freshCancels.map((c) => c[0]), freshCancels.map((c) => c[1])],
          );
        }
        if (opts.escalationOf && fresh.size > 0) {
          await client.query(`UPDATE ${t} SET escalated_at = now() WHERE identifier = $1`, [opts.escalationOf]);
        }
        await client.query(fresh.size > 0 ? `SELECT pg_notify('${channel}', ''); COMMIT` : 'COMMIT');
        // Kept out of the locked transaction: the outbox publishes from the table.
        return raised.filter((r) => fresh.has(r.alert.identifier)).map((r) => r.alert);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
    async unpublished(limit) {
      const r = await pool.query<{ alert: AlertIssued }>(`SELECT alert FROM ${t} WHERE published_at IS NULL ORDER BY seq LIMIT $1`, [limit]);
      return r.rows.map((x) => x.alert);
    },
    async activeForMany(keys) {
      const out = new Map<string, PriorAlert[]>();
      if (keys.length === 0) return out;
      const r = await pool.query<{ identifier: string; rule: string; alert: AlertIssued; status: string; entity_key: string }>(
        `SELECT identifier, rule, alert, status, entity_key FROM ${t}
         WHERE entity_key = ANY($1::text[]) AND cancelled_by IS NULL AND msg_type <> 'Cancel' ORDER BY seq`,
        [[...new Set(keys.map((k) => k[1]))]],
      );
      const wanted = new Set(keys.map((k) => `${k[0]}\u0000${k[1]}`));
      for (const x of r.rows) {
        const key = `${x.status}\u0000${x.entity_key}`;
        if (!wanted.has(key)) continue;
        out.set(key, [...(out.get(key) ?? []), { identifier: x.identifier, sender: x.alert.sender, sent: x.alert.sent, rule: x.rule }]);
      }
      return out;
    },
    async markPublished(identifiers) {
      if (identifiers.length === 0) return;
      await pool.query(`UPDATE ${t} SET published_at = now() WHERE identifier = ANY($1::text[]) AND published_at IS NULL`, [identifiers]);
    },
    history() {
      return {
        async activeFor(entityKey: string, status: CapStatus): Promise<PriorAlert[]> {
          const r = await pool.query<{ identifier: string; alert: AlertIssued; rule: string }>(
            `SELECT identifier, rule, alert FROM ${t} WHERE entity_key = $1 AND status = $2 AND cancelled_by IS NULL AND msg_type <> 'Cancel' ORDER BY seq`,
            [entityKey, status],
          );
          return r.rows.map((x) => ({ identifier: x.identifier, sender: x.alert.sender, sent: x.alert.sent, rule: x.rule }));
        },
      };
    },
    async get(identifier) {
      const r = await pool.query<Row>(`SELECT ${COLUMNS} FROM ${t} WHERE identifier = $1`, [identifier]);
      return r.rows[0] ? toStored(r.rows[0]) : null;
    },
    async list(opts) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (opts.beforeSeq) where.push(`seq < $${params.push(opts.beforeSeq)}`);
      if (opts.severities?.length) where.push(`severity = ANY($${params.push(opts.severities)}::text[])`);
      if (opts.departments?.length) where.push(`department_code = ANY($${params.push(opts.departments)}::text[])`);
      if (opts.statuses?.length) where.push(`status = ANY($${params.push(opts.statuses)}::text[])`);
      const r = await pool.query<Row>(
        `SELECT ${COLUMNS} FROM ${t} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${params.push(opts.limit)}`,
        params,
      );
      return r.rows.map(toStored);
    },
    async after(seq, limit) {
      const r = await pool.query<Row>(`SELECT ${COLUMNS} FROM ${t} WHERE seq > $1 ORDER BY seq LIMIT $2`, [seq, limit]);
      return r.rows.map(toStored);
    },
    async maxSeq() {
      const r = await pool.query<{ m: string }>(`SELECT COALESCE(max(seq), 0)::text AS m FROM ${t}`);
      return r.rows[0]!.m;
    },
    async acknowledge(identifier, operator, note) {
      const r = await pool.query<Row>(
        `UPDATE ${t} SET acked_at = COALESCE(acked_at, now()), acked_by = COALESCE(acked_by, $2), ack_note = COALESCE(ack_note, $3)
         WHERE identifier = $1 RETURNING ${COLUMNS}`,
        [identifier, operator, note],
      );
      return r.rows[0] ? toStored(r.rows[0]) : null;
    },
    async stats(hours) {
      const q = (col: string) =>
        pool.query<{ key: string; count: number }>(
          `SELECT COALESCE(${col}, 's/d') AS key, count(*)::int AS count FROM ${t}
           WHERE sent > now() - make_interval(hours => $1) AND msg_type <> 'Cancel' GROUP BY 1 ORDER BY 2 DESC, 1`,
          [hours],
        );
      const [a, b, c] = await Promise.all([q('source_institution'), q('department_code'), q('severity')]);
      return { byInstitution: a.rows, byDepartment: b.rows, bySeverity: c.rows };
    },
    async dueEscalations(afterMs, limit) {
      const r = await pool.query<{ alert: AlertIssued }>(
        `SELECT alert FROM ${t}
         WHERE severity = 'Extreme' AND status = 'Actual' AND acked_at IS NULL AND escalated_at IS NULL AND cancelled_by IS NULL
           AND msg_type IN ('Alert', 'Update') AND rule <> 'escalation-unacknowledged' AND sent < now() - make_interval(secs => $1)
         ORDER BY seq LIMIT $2`,
        [afterMs / 1000, limit],
      );
      return r.rows.map((x) => x.alert);
    },
  };
}
