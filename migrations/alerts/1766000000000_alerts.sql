-- Up Migration
-- Alerts of the Secretaría Técnica, their acknowledgement, and webhook
-- delivery. They live in their own schema (`alerts` by default), NOT in the
-- central store's: the store is rebuilt by replay and swapped in, and issued
-- alerts, acknowledgements, subscriptions, secrets and pending retries must
-- survive that. Tables are unqualified; the runner sets the search_path.

-- Every alert issued. `identifier` is deterministic (rule + source event +
-- match + status): the unique constraint is what makes a replay or a restart
-- harmless. `seq` is the delivery order (SSE `id:`): it is drawn under a
-- transaction-level advisory lock, so seq order is commit order and a reader
-- that has seen seq n has seen everything below it.
CREATE TABLE alerts (
  seq                 bigserial   PRIMARY KEY,
  identifier          text        NOT NULL UNIQUE,
  event_id            uuid        NOT NULL,
  rule                text        NOT NULL,
  status              text        NOT NULL,
  msg_type            text        NOT NULL,
  severity            text        NOT NULL,
  urgency             text        NOT NULL,
  certainty           text        NOT NULL,
  department_code     text,
  municipality_code   text,
  source_institution  text        NOT NULL,
  entity_key          text        NOT NULL,
  sent                timestamptz NOT NULL,
  alert               jsonb       NOT NULL,
  cancelled_by        text,
  published_at        timestamptz,
  acked_at            timestamptz,
  acked_by            text,
  ack_note            text,
  escalated_at        timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_entity_idx ON alerts (entity_key, status) WHERE cancelled_by IS NULL;
CREATE INDEX alerts_sent_idx ON alerts (sent);
CREATE INDEX alerts_unpublished_idx ON alerts (seq) WHERE published_at IS NULL;
CREATE INDEX alerts_escalation_idx ON alerts (sent)
  WHERE severity = 'Extreme' AND status = 'Actual' AND acked_at IS NULL AND escalated_at IS NULL AND cancelled_by IS NULL;

CREATE TABLE webhook_subscriptions (
  id              text        PRIMARY KEY,
  url             text        NOT NULL,
  description     text,
  severities      text[],                 -- null: every severity
  departments     text[],                 -- null: every department
  statuses        text[]      NOT NULL DEFAULT '{Actual}',
  from_seq        bigint      NOT NULL,   -- alerts after this seq are delivered
  active          boolean     NOT NULL DEFAULT true,
  disabled_reason text,
  disabled_at     timestamptz,
  created_by      text,
  created_at      timestamptz NOT NULL DEFAULT now()
);

-- Signing secrets (`whsec_` + base64). Several may be active during a rotation;
-- each delivery is signed with all of them.
CREATE TABLE webhook_secrets (
  subscription_id text        NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
  secret          text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  expires_at      timestamptz,
  PRIMARY KEY (subscription_id, secret)
);

-- One logical delivery per (subscription, alert); retries are kept here so they survive a restart.
CREATE TABLE webhook_deliveries (
  id              bigserial   PRIMARY KEY,
  subscription_id text        NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
  alert_seq       bigint      NOT NULL REFERENCES alerts (seq),
  state           text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed', 'abandoned')),
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  locked_until    timestamptz,
  last_status     integer,
  last_error      text,
  delivered_at    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (subscription_id, alert_seq)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';

CREATE TABLE webhook_attempts (
  delivery_id  bigint      NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt      integer     NOT NULL,
  at           timestamptz NOT NULL DEFAULT now(),
  status       integer,
  error        text,
  duration_ms  integer,
  PRIMARY KEY (delivery_id, attempt)
);

-- Up to which alert seq deliveries were fanned out to subscriptions.
CREATE TABLE dispatch_cursor (
  name      text   PRIMARY KEY,
  last_seq  bigint NOT NULL
);
INSERT INTO dispatch_cursor (name, last_seq) VALUES ('webhooks', 0);

-- Down Migration
DROP TABLE dispatch_cursor;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_secrets;
DROP TABLE webhook_subscriptions;
DROP TABLE alerts;
