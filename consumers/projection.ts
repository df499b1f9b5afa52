/**
 * The projection of the central store, as a pure function of events: which
 * event types it handles, and the row each one contributes to which table.
 * No I/O here, so a replay into a fresh schema computes exactly the same rows.
 *
 * Current-state tables merge rows column by column: each column holds the
 * value of the newest event (by `occurredAt`) that carried one, and the
 * row's `value_as_of` keeps, per column, when that value is from. So an
 * older event arriving late never overwrites a newer value, but it still sets
 * a column nothing newer has carried (e.g. `started_at` of a late report).
 * With the "as of" kept per column, the merge is associative: folding a batch
 * in memory and merging it with the stored row (in SQL, the same rule) gives
 * the same state as applying the events one by one, whatever the batches.
 * (Judged by the row's newest event instead, a newer event without a value
 * made an older one's value stick or not depending on where batches split.)
 */
import type {
  AlbaKenethActivated,
  AlbaKenethDeactivated,
  ArrestWarrantClosed,
  ArrestWarrantIssued,
  CitizenAbroadRegistered,
  EventDataMap,
  EventType,
  IncidentClosed,
  IncidentReported,
  IncidentUpdated,
  Location,
  MigratoryMovementRecorded,
  PersonRef,
  VehicleRecovered,
  VehicleReportedStolen,
} from '../contracts/index.ts';
import { normalizePlate } from '../contracts/index.ts';

/** Event types this projection handles (every type of the source topics). */
export const PROJECTED_EVENT_TYPES = [
  'conred.incident.reported', 'conred.incident.updated', 'conred.incident.closed',
  'pgn.alba-keneth.activated', 'pgn.alba-keneth.deactivated',
  'igm.migratory-movement.recorded',
  'mingob.vehicle.reported-stolen', 'mingob.vehicle.recovered',
  'mingob.arrest-warrant.issued', 'mingob.arrest-warrant.closed',
  'minex.citizen-abroad.registered',
] as const satisfies readonly EventType[];

/** An event type the projection handles. */
export type ProjectedEventType = (typeof PROJECTED_EVENT_TYPES)[number];

/** Where and what an event was, as written to `event_log`. */
export interface EventEnvelope {
  readonly eventId: string;
  readonly eventType: ProjectedEventType;
  /** Publishing institution (CloudEvents `ce_source`). */
  readonly source: string;
  /** ISO-8601 UTC. */
  readonly occurredAt: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly schemaId: number;
  /** The entity the event is about (incident id, alert id, plate, …). */
  readonly entityKey: string;
}

/** A decoded, valid event with its envelope. */
export interface StoredEvent<T extends ProjectedEventType = ProjectedEventType> {
  readonly envelope: EventEnvelope;
  readonly data: EventDataMap[T];
}

/** PostgreSQL column types the projection writes (used to cast `unnest` arrays). */
export type ColumnType = 'text' | 'integer' | 'double precision' | 'boolean' | 'date' | 'timestamptz' | 'timestamptz[]' | 'jsonb' | 'uuid' | 'bigint';

/** A row: column name → value (null = "this event does not say"; objects are jsonb). */
export type Row = Record<string, string | number | boolean | null | object>;

/** A current-state table: one row per entity, merged newest-wins per column. */
export interface StateTable {
  readonly name: string;
  readonly key: string;
  readonly columns: Readonly<Record<string, ColumnType>>;
  /**
   * Columns that belong to one episode: their "as of" column (a timestamptz
   * of `columns`) → the column that starts an episode and the other columns
   * of the group. When the merged start is later than the merged "as of",
   * the group is of an earlier episode and is cleared (a plate stolen again
   * after its recovery is not recovered). Order-insensitive: a group older
   * than the newest start can never apply again, whatever arrives later.
   * Associative only while every event that sets the "as of" column also sets
   * the `with` columns (required fields): a group could otherwise mix values
   * of two episodes, and its clearing would depend on the batching.
   */
  readonly episodes?: Readonly<Record<string, { readonly start: string; readonly with: readonly string[] }>>;
}

/** Columns every current-state table has for ordering and provenance. */
const ORDERING_COLUMNS = { first_occurred_at: 'timestamptz', last_occurred_at: 'timestamptz', last_event_id: 'uuid', value_as_of: 'timestamptz[]' } as const;

const trackedOf = new WeakMap<StateTable, readonly string[]>();

/**
 * The columns of a state table whose values are merged newest-wins, in the
 * order of their "as of" in `value_as_of` (every column but the key and the
 * ordering columns). The order is stored data: a new column goes last, and
 * the migration that adds it appends to `value_as_of` (a test compares this
 * list with the column's comment in a migrated store).
 */
export function trackedColumns(table: StateTable): readonly string[] {
  let t = trackedOf.get(table);
  if (!t) trackedOf.set(table, (t = Object.keys(table.columns).filter((c) => c !== table.key && !(c in ORDERING_COLUMNS))));
  return t;
}

export const INCIDENTS: StateTable = {
  name: 'incidents',
  key: 'incident_id',
  columns: {
    incident_id: 'text', status: 'text', incident_type: 'text', department_code: 'text', municipality_code: 'text',
    village: 'text', address_line: 'text', latitude: 'double precision', longitude: 'double precision',
    description: 'text', summary: 'text', started_at: 'timestamptz', reported_at: 'timestamptz', closed_at: 'timestamptz',
    people: 'jsonb', houses: 'jsonb', infrastructure: 'jsonb',
    people_affected: 'integer', people_dead: 'integer', people_missing: 'integer', details_as_of: 'timestamptz',
    ...ORDERING_COLUMNS,
  },
};

export const ALBA_KENETH_ALERTS: StateTable = {
  name: 'alba_keneth_alerts',
  key: 'alert_id',
  columns: {
    alert_id: 'text', status: 'text', child_cui: 'text', child_document_type: 'text', child_document_number: 'text',
    child_full_name: 'text', child_name_normalized: 'text', child_birth_date: 'date', child_sex: 'text',
    child_nationality: 'text', age_years: 'integer', physical_description: 'text', photo_url: 'text',
    disappearance_department: 'text', disappearance_municipality: 'text', disappeared_at: 'timestamptz',
    activated_at: 'timestamptz', deactivated_at: 'timestamptz', deactivation_reason: 'text',
    located_department: 'text', located_municipality: 'text',
    ...ORDERING_COLUMNS,
  },
};

export const STOLEN_VEHICLES: StateTable = {
  name: 'stolen_vehicles',
  key: 'plate',
  columns: {
    plate: 'text', status: 'text', brand: 'text', line: 'text', model: 'integer', colour: 'text', report_number: 'text',
    stolen_at: 'timestamptz', theft_department: 'text', theft_municipality: 'text', owner_cui: 'text',
    owner_document_number: 'text', reported_at: 'timestamptz', recovered_at: 'timestamptz',
    recovery_department: 'text', recovery_municipality: 'text',
    ...ORDERING_COLUMNS,
  },
  // The recovery belongs to the theft episode the newest report started: a newer report clears it.
  episodes: { recovered_at: { start: 'reported_at', with: ['recovery_department', 'recovery_municipality'] } },
};

export const ARREST_WARRANTS: StateTable = {
  name: 'arrest_warrants',
  key: 'warrant_id',
  columns: {
    warrant_id: 'text', status: 'text', person_cui: 'text', person_document_type: 'text', person_document_number: 'text',
    person_full_name: 'text', person_name_normalized: 'text', person_birth_date: 'date', person_sex: 'text',
    person_nationality: 'text', crime_type_code: 'text', court: 'text', case_number: 'text', issued_at: 'timestamptz',
    closed_at: 'timestamptz', closure_reason: 'text', closure_department: 'text', closure_municipality: 'text',
    ...ORDERING_COLUMNS,
  },
};

/** MINEX's registry of Guatemalans abroad; the event's contact phone is not projected (the topic keeps it). */
export const CITIZENS_ABROAD: StateTable = {
  name: 'citizens_abroad',
  key: 'registration_id',
  columns: {
    registration_id: 'text', person_cui: 'text', person_document_type: 'text', person_document_number: 'text',
    person_full_name: 'text', person_name_normalized: 'text', person_birth_date: 'date', person_sex: 'text',
    person_nationality: 'text', country_of_residence: 'text', consulate: 'text', city: 'text', registered_on: 'date',
    ...ORDERING_COLUMNS,
  },
};

/** The current-state tables, in the order the projector writes them. */
export const STATE_TABLES: readonly StateTable[] = [INCIDENTS, ALBA_KENETH_ALERTS, STOLEN_VEHICLES, ARREST_WARRANTS, CITIZENS_ABROAD];

/** The history table of movements: insert-only, keyed by movement id. */
export const MIGRATORY_MOVEMENTS = {
  name: 'migratory_movements',
  key: 'movement_id',
  columns: {
    movement_id: 'text', event_id: 'uuid', occurred_at: 'timestamptz', direction: 'text', border_post_code: 'text',
    traveller_cui: 'text', traveller_document_type: 'text', traveller_document_number: 'text',
    traveller_full_name: 'text', traveller_name_normalized: 'text', traveller_birth_date: 'date', traveller_sex: 'text',
    traveller_nationality: 'text', reason: 'text', minor_accompanied: 'boolean', vehicle_plate: 'text',
  },
} as const satisfies StateTable;

/** The append-only log of envelopes. */
export const EVENT_LOG = {
  name: 'event_log',
  key: 'event_id',
  columns: {
    event_id: 'uuid', event_type: 'text', source: 'text', occurred_at: 'timestamptz', topic: 'text', partition: 'integer',
    offset: 'bigint', schema_id: 'integer', entity_key: 'text',
  },
} as const satisfies StateTable;

/**
 * Normalises a person's name for matching: accents removed, upper case,
 * anything but letters and single spaces dropped (`José  Núñez-Pérez` →
 * `JOSE NUNEZ PEREZ`). Alert correlation compares these plus the birth date.
 */
export function normalizeName(name: string | null | undefined): string | null {
  if (!name) return null;
  // ASCII names have no accents to strip: skip the (costly) Unicode decomposition.
  const base = NON_ASCII.test(name) ? name.normalize('NFD').replace(/\p{M}+/gu, '') : name;
  const out = base.toUpperCase().replace(/[^A-Z]+/g, ' ').trim();
  return out === '' ? null : out;
}
const NON_ASCII = /[\u0080-\uffff]/;

/** Normalises a document number for matching: upper case, spaces and hyphens removed. */
export function normalizeDocumentNumber(doc: string | null | undefined): string | null {
  if (!doc) return null;
  const out = doc.replace(/[\s-]+/g, '').toUpperCase();
  return out === '' ? null : out;
}

const n = <T>(v: T): NonNullable<T> | null => (v ?? null) as NonNullable<T> | null;

const PERSON_FIELDS = ['cui', 'document_type', 'document_number', 'full_name', 'name_normalized', 'birth_date', 'sex', 'nationality'] as const;
const personKeys = new Map<string, readonly string[]>();

/** The person columns under `prefix` (`child_cui`, …); key names are built once per prefix (hot path). */
function person(prefix: string, p: PersonRef): Row {
  let k = personKeys.get(prefix);
  if (!k) personKeys.set(prefix, (k = PERSON_FIELDS.map((f) => `${prefix}_${f}`)));
  const row: Row = {};
  row[k[0]!] = n(p.cui);
  row[k[1]!] = n(p.documentType);
  row[k[2]!] = normalizeDocumentNumber(p.documentNumber);
  row[k[3]!] = p.fullName;
  row[k[4]!] = normalizeName(p.fullName);
  row[k[5]!] = n(p.birthDate);
  row[k[6]!] = n(p.sex);
  row[k[7]!] = n(p.nationality);
  return row;
}

function ordering(e: EventEnvelope): Row {
  return { first_occurred_at: e.occurredAt, last_occurred_at: e.occurredAt, last_event_id: e.eventId };
}

function place(l: Location): Row {
  return {
    department_code: l.departmentCode, municipality_code: l.municipalityCode, village: n(l.village),
    address_line: n(l.addressLine), latitude: n(l.latitude), longitude: n(l.longitude),
  };
}

function counts(d: IncidentReported | IncidentUpdated | IncidentClosed): Row {
  return {
    people: d.people, houses: d.houses, infrastructure: d.infrastructure,
    people_affected: n(d.people.affected), people_dead: n(d.people.dead), people_missing: n(d.people.missing),
  };
}

/** What one event contributes: a state-table row, or a movement row. */
export type Contribution = { table: StateTable; row: Row } | { table: typeof MIGRATORY_MOVEMENTS; row: Row; history: true };

/** The row an event contributes to the store; the heart of the projection. */
export function contributionOf(event: StoredEvent): Contribution {
  const e = event.envelope;
  switch (e.eventType) {
    case 'conred.incident.reported': {
      const d = event.data as IncidentReported;
      return {
        table: INCIDENTS,
        row: {
          incident_id: d.incidentId, status: 'open', incident_type: d.incidentType, ...place(d.location),
          description: n(d.description), details_as_of: d.occurredAt, started_at: d.startedAt, reported_at: d.occurredAt, ...counts(d), ...ordering(e),
        },
      };
    }
    case 'conred.incident.updated': {
      const d = event.data as IncidentUpdated;
      return {
        table: INCIDENTS,
        row: { incident_id: d.incidentId, status: 'open', incident_type: d.incidentType, ...place(d.location), description: n(d.description), details_as_of: d.occurredAt, ...counts(d), ...ordering(e) },
      };
    }
    case 'conred.incident.closed': {
      const d = event.data as IncidentClosed;
      return {
        table: INCIDENTS,
        row: { incident_id: d.incidentId, status: 'closed', summary: n(d.summary), closed_at: d.occurredAt, ...counts(d), ...ordering(e) },
      };
    }
    case 'pgn.alba-keneth.activated': {
      const d = event.data as AlbaKenethActivated;
      return {
        table: ALBA_KENETH_ALERTS,
        row: {
          alert_id: d.alertId, status: 'active', ...person('child', d.child), age_years: d.ageYears,
          physical_description: d.physicalDescription, photo_url: n(d.photoUrl),
          disappearance_department: d.disappearancePlace.departmentCode,
          disappearance_municipality: d.disappearancePlace.municipalityCode,
          disappeared_at: d.disappearedAt, activated_at: d.occurredAt, ...ordering(e),
        },
      };
    }
    case 'pgn.alba-keneth.deactivated': {
      const d = event.data as AlbaKenethDeactivated;
      return {
        table: ALBA_KENETH_ALERTS,
        row: {
          alert_id: d.alertId, status: 'deactivated', deactivated_at: d.occurredAt, deactivation_reason: d.reasonCode,
          located_department: n(d.locatedAt?.departmentCode), located_municipality: n(d.locatedAt?.municipalityCode), ...ordering(e),
        },
      };
    }
    case 'mingob.vehicle.reported-stolen': {
      const d = event.data as VehicleReportedStolen;
      return {
        table: STOLEN_VEHICLES,
        row: {
          plate: normalizePlate(d.plate), status: 'stolen', brand: n(d.vehicle.brand), line: n(d.vehicle.line),
          model: n(d.vehicle.model), colour: n(d.vehicle.colour), report_number: d.reportNumber, stolen_at: d.stolenAt,
          theft_department: d.location.departmentCode, theft_municipality: d.location.municipalityCode,
          owner_cui: n(d.owner?.cui), owner_document_number: normalizeDocumentNumber(d.owner?.documentNumber),
          reported_at: d.occurredAt, ...ordering(e),
        },
      };
    }
    case 'mingob.vehicle.recovered': {
      const d = event.data as VehicleRecovered;
      return {
        table: STOLEN_VEHICLES,
        row: {
          plate: normalizePlate(d.plate), status: 'recovered', recovered_at: d.occurredAt,
          recovery_department: d.location.departmentCode, recovery_municipality: d.location.municipalityCode, ...ordering(e),
        },
      };
    }
    case 'mingob.arrest-warrant.issued': {
      const d = event.data as ArrestWarrantIssued;
      return {
        table: ARREST_WARRANTS,
        row: {
          warrant_id: d.warrantId, status: 'active', ...person('person', d.person), crime_type_code: d.crimeTypeCode,
          court: d.court, case_number: n(d.caseNumber), issued_at: d.issuedAt, ...ordering(e),
        },
      };
    }
    case 'mingob.arrest-warrant.closed': {
      const d = event.data as ArrestWarrantClosed;
      return {
        table: ARREST_WARRANTS,
        row: {
          warrant_id: d.warrantId, status: 'closed', closed_at: d.occurredAt, closure_reason: d.closureReason,
          closure_department: n(d.location?.departmentCode), closure_municipality: n(d.location?.municipalityCode), ...ordering(e),
        },
      };
    }
    case 'minex.citizen-abroad.registered': {
      const d = event.data as CitizenAbroadRegistered;
      return {
        table: CITIZENS_ABROAD,
        row: {
          registration_id: d.registrationId, ...person('person', d.person), country_of_residence: d.countryOfResidence,
          consulate: d.consulate, city: n(d.city), registered_on: d.registeredOn, ...ordering(e),
        },
      };
    }
    case 'igm.migratory-movement.recorded': {
      const d = event.data as MigratoryMovementRecorded;
      const t = person('traveller', d.traveller);
      return {
        table: MIGRATORY_MOVEMENTS,
        history: true,
        row: {
          movement_id: d.movementId, event_id: e.eventId, occurred_at: d.occurredAt, direction: d.direction,
          border_post_code: d.borderPostCode, ...t, reason: d.reason, minor_accompanied: n(d.minorAccompanied),
          vehicle_plate: d.vehicle ? normalizePlate(d.vehicle.plate) : null,
        },
      };
    }
    default: {
      const unhandled: never = e.eventType;
      throw new Error(`projection has no rule for ${String(unhandled)}`);
    }
  }
}



const time = (v: unknown) => (v === null || v === undefined ? Number.NEGATIVE_INFINITY : Date.parse(String(v)));

/**
 * Merges two rows of the same entity (each with its `value_as_of`): per
 * tracked column, the value whose "as of" is newer, an absent value never
 * winning; ties go to `b` (later in the log). Then episodes are applied and
 * the ordering columns merged. Associative, so any batching folds alike.
 */
export function mergeRows(a: Row, b: Row, table: StateTable): Row {
  const tracked = trackedColumns(table);
  const asOfA = a.value_as_of as readonly (string | null)[];
  const asOfB = b.value_as_of as readonly (string | null)[];
  const asOf: (string | null)[] = new Array<string | null>(tracked.length);
  const out: Row = { [table.key]: b[table.key] ?? a[table.key] ?? null };
  for (let i = 0; i < tracked.length; i++) {
    const c = tracked[i]!;
    const va = a[c] ?? null;
    const vb = b[c] ?? null;
    if (vb !== null && (va === null || time(asOfB[i]) >= time(asOfA[i]))) {
      out[c] = vb;
      asOf[i] = asOfB[i] ?? null;
    } else {
      out[c] = va;
      asOf[i] = va === null ? null : (asOfA[i] ?? null);
    }
  }
  for (const [groupAsOf, { start, with: columns }] of Object.entries(table.episodes ?? {})) {
    if (out[groupAsOf] != null && out[start] != null && time(out[start]) > time(out[groupAsOf])) {
      for (const c of [...columns, groupAsOf]) {
        out[c] = null;
        asOf[tracked.indexOf(c)] = null;
      }
    }
  }
  const bNewer = time(b.last_occurred_at) >= time(a.last_occurred_at);
  out.first_occurred_at = time(a.first_occurred_at) <= time(b.first_occurred_at) ? a.first_occurred_at! : b.first_occurred_at!;
  out.last_occurred_at = bNewer ? b.last_occurred_at! : a.last_occurred_at!;
  out.last_event_id = bNewer ? b.last_event_id! : a.last_event_id!;
  out.value_as_of = asOf;
  return out;
}

/** A contribution's row with its `value_as_of`: each column it carries is as of its event. */
function withAsOf(table: StateTable, row: Row): Row {
  const at = row.last_occurred_at as string;
  row.value_as_of = trackedColumns(table).map((c) => (row[c] === null || row[c] === undefined ? null : at));
  return row;
}

/** The rows a batch of new events writes: per state table one merged row per entity, plus movements. */
export interface ProjectedBatch {
  readonly state: ReadonlyMap<StateTable, ReadonlyMap<string, Row>>;
  readonly movements: readonly Row[];
}

/** Folds events (in log order) into the rows to write; pure. */
export function projectBatch(events: readonly StoredEvent[]): ProjectedBatch {
  const state = new Map<StateTable, Map<string, Row>>();
  const movements: Row[] = [];
  for (const event of events) {
    const c = contributionOf(event);
    if ('history' in c) {
      movements.push(c.row);
      continue;
    }
    let rows = state.get(c.table);
    if (!rows) state.set(c.table, (rows = new Map()));
    const key = String(c.row[c.table.key]);
    const prev = rows.get(key);
    const row = withAsOf(c.table, c.row);
    rows.set(key, prev ? mergeRows(prev, row, c.table) : row);
  }
  return { state, movements };
}
