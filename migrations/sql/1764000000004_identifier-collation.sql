-- Up Migration
-- Identifier and code columns (ids, CUIs, document numbers, plates, codes,
-- normalised names: all ASCII matched by equality or byte order) compare
-- bytewise. Under the database's linguistic collation every index insert
-- called strcoll; with COLLATE "C" it is a memcmp (measured: a movements
-- COPY with its six indexes 25 → 19 µs per row). Free text (names as
-- written, descriptions) keeps the database collation.
-- On a large existing store this rewrites the tables and their indexes
-- (an ACCESS EXCLUSIVE lock for the duration): run it in a maintenance
-- window, or rebuild into a fresh schema (`npm run replay -- rebuild`).
ALTER TABLE incidents
  ALTER COLUMN incident_id TYPE text COLLATE "C",
  ALTER COLUMN status TYPE text COLLATE "C",
  ALTER COLUMN incident_type TYPE text COLLATE "C",
  ALTER COLUMN department_code TYPE text COLLATE "C",
  ALTER COLUMN municipality_code TYPE text COLLATE "C";
ALTER TABLE alba_keneth_alerts
  ALTER COLUMN alert_id TYPE text COLLATE "C",
  ALTER COLUMN status TYPE text COLLATE "C",
  ALTER COLUMN child_cui TYPE text COLLATE "C",
  ALTER COLUMN child_document_number TYPE text COLLATE "C",
  ALTER COLUMN child_name_normalized TYPE text COLLATE "C",
  ALTER COLUMN disappearance_department TYPE text COLLATE "C";
ALTER TABLE stolen_vehicles
  ALTER COLUMN plate TYPE text COLLATE "C",
  ALTER COLUMN status TYPE text COLLATE "C",
  ALTER COLUMN theft_department TYPE text COLLATE "C";
ALTER TABLE arrest_warrants
  ALTER COLUMN warrant_id TYPE text COLLATE "C",
  ALTER COLUMN status TYPE text COLLATE "C",
  ALTER COLUMN person_cui TYPE text COLLATE "C",
  ALTER COLUMN person_document_number TYPE text COLLATE "C",
  ALTER COLUMN person_name_normalized TYPE text COLLATE "C";
ALTER TABLE migratory_movements
  ALTER COLUMN movement_id TYPE text COLLATE "C",
  ALTER COLUMN border_post_code TYPE text COLLATE "C",
  ALTER COLUMN traveller_cui TYPE text COLLATE "C",
  ALTER COLUMN traveller_document_number TYPE text COLLATE "C",
  ALTER COLUMN traveller_name_normalized TYPE text COLLATE "C",
  ALTER COLUMN vehicle_plate TYPE text COLLATE "C";
ALTER TABLE citizens_abroad
  ALTER COLUMN registration_id TYPE text COLLATE "C",
  ALTER COLUMN person_cui TYPE text COLLATE "C",
  ALTER COLUMN person_document_number TYPE text COLLATE "C",
  ALTER COLUMN person_name_normalized TYPE text COLLATE "C",
  ALTER COLUMN country_of_residence TYPE text COLLATE "C";

-- Down Migration
ALTER TABLE incidents
  ALTER COLUMN incident_id TYPE text COLLATE "default",
  ALTER COLUMN status TYPE text COLLATE "default",
  ALTER COLUMN incident_type TYPE text COLLATE "default",
  ALTER COLUMN department_code TYPE text COLLATE "default",
  ALTER COLUMN municipality_code TYPE text COLLATE "default";
ALTER TABLE alba_keneth_alerts
  ALTER COLUMN alert_id TYPE text COLLATE "default",
  ALTER COLUMN status TYPE text COLLATE "default",
  ALTER COLUMN child_cui TYPE text COLLATE "default",
  ALTER COLUMN child_document_number TYPE text COLLATE "default",
  ALTER COLUMN child_name_normalized TYPE text COLLATE "default",
  ALTER COLUMN disappearance_department TYPE text COLLATE "default";
ALTER TABLE stolen_vehicles
  ALTER COLUMN plate TYPE text COLLATE "default",
  ALTER COLUMN status TYPE text COLLATE "default",
  ALTER COLUMN theft_department TYPE text COLLATE "default";
ALTER TABLE arrest_warrants
  ALTER COLUMN warrant_id TYPE text COLLATE "default",
  ALTER COLUMN status TYPE text COLLATE "default",
  ALTER COLUMN person_cui TYPE text COLLATE "default",
  ALTER COLUMN person_document_number TYPE text COLLATE "default",
  ALTER COLUMN person_name_normalized TYPE text COLLATE "default";
ALTER TABLE migratory_movements
  ALTER COLUMN movement_id TYPE text COLLATE "default",
  ALTER COLUMN border_post_code TYPE text COLLATE "default",
  ALTER COLUMN traveller_cui TYPE text COLLATE "default",
  ALTER COLUMN traveller_document_number TYPE text COLLATE "default",
  ALTER COLUMN traveller_name_normalized TYPE text COLLATE "default",
  ALTER COLUMN vehicle_plate TYPE text COLLATE "default";
ALTER TABLE citizens_abroad
  ALTER COLUMN registration_id TYPE text COLLATE "default",
  ALTER COLUMN person_cui TYPE text COLLATE "default",
  ALTER COLUMN person_document_number TYPE text COLLATE "default",
  ALTER COLUMN person_name_normalized TYPE text COLLATE "default",
  ALTER COLUMN country_of_residence TYPE text COLLATE "default";
