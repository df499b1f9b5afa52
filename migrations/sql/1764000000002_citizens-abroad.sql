-- Up Migration
-- MINEX's Registro de Guatemaltecos en el Exterior, one row per registration,
-- merged newest-wins by last_occurred_at like every current-state table (an
-- older re-confirmation arriving late never overwrites newer data). The
-- contact phone of the event is deliberately not projected: the store keeps
-- what correlation and look-ups need, and the topic keeps the rest.
CREATE TABLE citizens_abroad (
  registration_id         text PRIMARY KEY,
  person_cui              text,
  person_document_type    text,
  person_document_number  text,           -- normalised (upper case, no spaces or hyphens)
  person_full_name        text,
  person_name_normalized  text,
  person_birth_date       date,
  person_sex              text,
  person_nationality      text,
  country_of_residence    text,           -- ISO 3166-1 alpha-3
  consulate               text,
  city                    text,
  registered_on           date NOT NULL,  -- every registration carries it; the query API pages by it
  first_occurred_at       timestamptz NOT NULL,
  last_occurred_at        timestamptz NOT NULL,
  last_event_id           uuid NOT NULL
);
-- Look-ups by identifier or country end with the page order (registered_on, registration_id) for keyset cursors.
CREATE INDEX citizens_abroad_cui_idx ON citizens_abroad (person_cui, registered_on, registration_id);
CREATE INDEX citizens_abroad_document_idx ON citizens_abroad (person_document_number, registered_on, registration_id);
CREATE INDEX citizens_abroad_name_idx ON citizens_abroad (person_name_normalized, person_birth_date);
CREATE INDEX citizens_abroad_country_idx ON citizens_abroad (country_of_residence, registered_on, registration_id);

-- Down Migration
DROP TABLE citizens_abroad;
