-- Up Migration
-- event_log and migratory_movements are append-only and arrive in roughly
-- time order; they are read by time only in range aggregations (the history
-- routes), never paged by time alone (movements are listed per CUI or
-- document, through their own indexes). A BRIN index serves those ranges at
-- almost no cost per insert, where a B-tree took one more index entry per
-- event. A late event only widens one block range: results stay exact.
DROP INDEX IF EXISTS event_log_time_idx;
CREATE INDEX event_log_time_brin ON event_log USING brin (occurred_at);
DROP INDEX IF EXISTS migratory_movements_time_idx;
CREATE INDEX migratory_movements_time_brin ON migratory_movements USING brin (occurred_at);

-- Down Migration
DROP INDEX IF EXISTS migratory_movements_time_brin;
CREATE INDEX migratory_movements_time_idx ON migratory_movements (occurred_at);
DROP INDEX IF EXISTS event_log_time_brin;
CREATE INDEX event_log_time_idx ON event_log (occurred_at);
