-- Up Migration
-- Type, place and description of an incident come from reports and updates
-- alike; they carry their own "as of" so a late older update cannot win over
-- a newer one even when a closing event made the row newer in between.
ALTER TABLE incidents ADD COLUMN details_as_of timestamptz;

-- Down Migration
ALTER TABLE incidents DROP COLUMN details_as_of;
