-- Up Migration
-- event_log is written once per event and read by id (primary key) and by
-- time range (its time index). No query reads it by type and time or by
-- Kafka position, and each of those two indexes cost about 4 µs per
-- projected event (measured: 30 → 22 µs per row): they go.
DROP INDEX IF EXISTS event_log_type_time_idx;
DROP INDEX IF EXISTS event_log_position_idx;

-- Down Migration
CREATE INDEX event_log_type_time_idx ON event_log (event_type, occurred_at);
CREATE INDEX event_log_position_idx ON event_log (topic, partition, "offset");
