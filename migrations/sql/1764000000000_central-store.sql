-- Up Migration
-- The central store. Every table is created unqualified: the runner sets the
-- search_path to the target schema (default `store`), so a replay can build the
-- same tables in a fresh schema and swap it in.

-- Append-only envelope of every projected event; the event id makes a replay harmless.
CREATE TABLE event_log (
  event_id      uuid PRIMARY KEY,
  event_type    text        NOT NULL,
  source        text        NOT NULL,
  occurred_at   timestamptz NOT NULL,
  topic         text        NOT NULL,
  partition     integer     NOT NULL,
  "offset"      bigint      NOT NULL,
  schema_id     integer     NOT NULL,
  entity_key    text,
  projected_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_log_type_time_idx ON event_log (event_type, occurred_at);
CREATE INDEX event_log_time_idx ON event_log (occurred_at);
CREATE INDEX event_log_position_idx ON event_log (topic, partition, "offset");

-- Where each consumer group stands, per partition: the truth (Kafka's committed
-- offsets are only for lag visibility). `fence` is bumped by every new owner of
-- the partition; a writer holding an older fence cannot commit.
CREATE TABLE consumer_offsets (
  group_id     text    NOT NULL,
  topic        text    NOT NULL,
  partition    integer NOT NULL,
  next_offset  bigint,
  fence        bigint  NOT NULL DEFAULT 0,
  member_id    text,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);

-- Messages sent to the dead-letter topic, for operators; no payload, no personal data.
CREATE TABLE dead_letters (
  topic        text    NOT NULL,
  partition    integer NOT NULL,
  "offset"     bigint  NOT NULL,
  error_code   text    NOT NULL,
  reason       text    NOT NULL,
  message      text    NOT NULL,
  dead_lettered_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition, "offset")
);

CREATE TABLE incidents (
  incident_id        text PRIMARY KEY,
  status             text NOT NULL,           -- open | closed
  incident_type      text,
  department_code    text,
  municipality_code  text,
  village            text,
  address_line       text,
  latitude           double precision,
  longitude          double precision,
  description        text,
  summary            text,
  started_at         timestamptz,
  reported_at        timestamptz,
  closed_at          timestamptz,
  people             jsonb,
  houses             jsonb,
  infrastructure     jsonb,
  people_affected    integer,
  people_dead        integer,
  people_missing     integer,
  first_occurred_at  timestamptz NOT NULL,
  last_occurred_at   timestamptz NOT NULL,
  last_event_id      uuid NOT NULL
);
CREATE INDEX incidents_place_idx ON incidents (department_code, municipality_code);
CREATE INDEX incidents_type_idx ON incidents (incident_type);
CREATE INDEX incidents_status_idx ON incidents (status);
CREATE INDEX incidents_time_idx ON incidents (first_occurred_at, incident_id);

CREATE TABLE alba_keneth_alerts (
  alert_id                   text PRIMARY KEY,
  status                     text NOT NULL,   -- active | deactivated
  child_cui                  text,
  child_document_type        text,
  child_document_number      text,
  child_full_name            text,
  child_name_normalized      text,
  child_birth_date           date,
  child_sex                  text,
  child_nationality          text,
  age_years                  integer,
  physical_description       text,
  photo_url                  text,
  disappearance_department   text,
  disappearance_municipality text,
  disappeared_at             timestamptz,
  activated_at               timestamptz,
  deactivated_at             timestamptz,
  deactivation_reason        text,
  located_department         text,
  located_municipality       text,
  first_occurred_at          timestamptz NOT NULL,
  last_occurred_at           timestamptz NOT NULL,
  last_event_id              uuid NOT NULL
);
CREATE INDEX alba_keneth_active_cui_idx ON alba_keneth_alerts (child_cui) WHERE status = 'active';
CREATE INDEX alba_keneth_active_document_idx ON alba_keneth_alerts (child_document_number) WHERE status = 'active';
CREATE INDEX alba_keneth_active_name_idx ON alba_keneth_alerts (child_name_normalized, child_birth_date) WHERE status = 'active';
CREATE INDEX alba_keneth_status_time_idx ON alba_keneth_alerts (status, activated_at, alert_id);
CREATE INDEX alba_keneth_department_idx ON alba_keneth_alerts (disappearance_department);

CREATE TABLE stolen_vehicles (
  plate                 text PRIMARY KEY,     -- normalised (upper case, no spaces or hyphens)
  status                text NOT NULL,        -- stolen | recovered
  brand                 text,
  line                  text,
  model                 integer,
  colour                text,
  report_number         text,
  stolen_at             timestamptz,
  theft_department      text,
  theft_municipality    text,
  owner_cui             text,
  owner_document_number text,
  reported_at           timestamptz,
  recovered_at          timestamptz,
  recovery_department   text,
  recovery_municipality text,
  first_occurred_at     timestamptz NOT NULL,
  last_occurred_at      timestamptz NOT NULL,
  last_event_id         uuid NOT NULL
);
CREATE INDEX stolen_vehicles_stolen_idx ON stolen_vehicles (plate) WHERE status = 'stolen';
CREATE INDEX stolen_vehicles_department_idx ON stolen_vehicles (theft_department);

CREATE TABLE arrest_warrants (
  warrant_id              text PRIMARY KEY,
  status                  text NOT NULL,      -- active | closed
  person_cui              text,
  person_document_type    text,
  person_document_number  text,
  person_full_name        text,
  person_name_normalized  text,
  person_birth_date       date,
  person_sex              text,
  person_nationality      text,
  crime_type_code         text,
  court                   text,
  case_number             text,
  issued_at               timestamptz,
  closed_at               timestamptz,
  closure_reason          text,
  closure_department      text,
  closure_municipality    text,
  first_occurred_at       timestamptz NOT NULL,
  last_occurred_at        timestamptz NOT NULL,
  last_event_id           uuid NOT NULL
);
CREATE INDEX arrest_warrants_cui_idx ON arrest_warrants (person_cui, issued_at, warrant_id);
CREATE INDEX arrest_warrants_active_cui_idx ON arrest_warrants (person_cui) WHERE status = 'active';
CREATE INDEX arrest_warrants_active_document_idx ON arrest_warrants (person_document_number) WHERE status = 'active';
CREATE INDEX arrest_warrants_active_name_idx ON arrest_warrants (person_name_normalized, person_birth_date) WHERE status = 'active';

-- History: movements never change once recorded.
CREATE TABLE migratory_movements (
  movement_id              text PRIMARY KEY,
  event_id                 uuid NOT NULL,
  occurred_at              timestamptz NOT NULL,
  direction                text NOT NULL,
  border_post_code         text NOT NULL,
  traveller_cui            text,
  traveller_document_type  text,
  traveller_document_number text,
  traveller_full_name      text,
  traveller_name_normalized text,
  traveller_birth_date     date,
  traveller_sex            text,
  traveller_nationality    text,
  reason                   text,
  minor_accompanied        boolean,
  vehicle_plate            text
);
CREATE INDEX migratory_movements_cui_idx ON migratory_movements (traveller_cui, occurred_at, movement_id);
CREATE INDEX migratory_movements_document_idx ON migratory_movements (traveller_document_number, occurred_at, movement_id);
CREATE INDEX migratory_movements_post_time_idx ON migratory_movements (border_post_code, occurred_at);
CREATE INDEX migratory_movements_time_idx ON migratory_movements (occurred_at);
CREATE INDEX migratory_movements_plate_idx ON migratory_movements (vehicle_plate) WHERE vehicle_plate IS NOT NULL;

-- Down Migration
DROP TABLE migratory_movements;
DROP TABLE arrest_warrants;
DROP TABLE stolen_vehicles;
DROP TABLE alba_keneth_alerts;
DROP TABLE incidents;
DROP TABLE dead_letters;
DROP TABLE consumer_offsets;
DROP TABLE event_log;
