-- Up Migration
-- Tables of the ingest gateway and the file importer. They live in their own
-- schema (`ingest` by default), NOT in the central store's schema: the store is
-- rebuilt by replay and swapped, and API keys or import checkpoints must
-- survive that. Tables are unqualified; the runner sets the search_path.

-- API keys, stored only as SHA-256 hashes of high-entropy random keys.
CREATE TABLE api_keys (
  key_id       text        PRIMARY KEY,
  key_hash     bytea       NOT NULL UNIQUE,
  institution  text        NOT NULL,
  label        text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz
);
CREATE INDEX api_keys_institution_idx ON api_keys (institution);

-- Idempotency-Key records: one per (institution, key) within the window.
-- `state` is 'pending' while the first request is publishing, then 'done'.
CREATE TABLE idempotency_keys (
  institution     text        NOT NULL,
  idempotency_key text        NOT NULL,
  request_hash    bytea       NOT NULL,
  state           text        NOT NULL CHECK (state IN ('pending', 'done')),
  response_status integer,
  response_body   jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz NOT NULL,
  PRIMARY KEY (institution, idempotency_key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

-- Importer checkpoints: every row up to `done_rows` (1-based data rows) of a
-- file (by content hash) and event type was acknowledged by Kafka or rejected.
CREATE TABLE import_progress (
  file_hash    text        NOT NULL,
  event_type   text        NOT NULL,
  institution  text        NOT NULL,
  file_name    text        NOT NULL,
  total_rows   integer,
  done_rows    integer     NOT NULL DEFAULT 0,
  published    integer     NOT NULL DEFAULT 0,
  rejected     integer     NOT NULL DEFAULT 0,
  completed_at timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (file_hash, event_type)
);

-- Down Migration
DROP TABLE import_progress;
DROP TABLE idempotency_keys;
DROP TABLE api_keys;
