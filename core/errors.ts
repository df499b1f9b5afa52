/**
 * The bus's closed list of error codes and the error classes that carry them.
 *
 * Every error the bus throws is a `BusError` with a stable `code` and a
 * `retriable` flag that says whether trying again can help. The README's
 * error table (section "Errors") lists exactly these codes; a unit test keeps
 * the two equal, so add a row there when you add a code here.
 */

/** One rule violation, located by a JSON-Pointer-style path into the input. */
export interface Violation {
  /** JSON Pointer into the offending document, e.g. `/person/cui`. */
  readonly path: string;
  /** What is wrong, in English, without the offending personal value. */
  readonly message: string;
  /** Stable machine-readable rule name, e.g. `cui.checksum`. */
  readonly rule?: string;
}

/** Every code the bus can raise, with its meaning, advice and retriability. */
export const ERROR_CODES = {
  BUS_ERR_CONFIG: {
    retriable: false,
    meaning: 'A configuration value or file is invalid',
    action: 'Fix the named setting or file; the message lists every violation',
  },
  BUS_ERR_TOPICS_FILE: {
    retriable: false,
    meaning: 'topics.yaml is invalid',
    action: 'Fix topics.yaml at the listed paths and lines',
  },
  BUS_ERR_TOPIC_UNDECLARED: {
    retriable: false,
    meaning: 'A topic or event type is not declared in topics.yaml',
    action: 'Declare it in topics.yaml, or fix the name',
  },
  BUS_ERR_TOPIC_APPLY: {
    retriable: false,
    meaning: 'Kafka cannot apply a declared topic change (e.g. fewer partitions)',
    action: 'Revert the change in topics.yaml or migrate to a new topic version',
  },
  BUS_ERR_VALIDATION: {
    retriable: false,
    meaning: 'The event breaks the contract or a data-entry rule',
    action: 'Correct the data at each listed path; nothing was published',
  },
  BUS_ERR_UNKNOWN_EVENT_TYPE: {
    retriable: false,
    meaning: 'The event type is not one the bus carries',
    action: 'Use one of the event types in topics.yaml',
  },
  BUS_ERR_NOT_OWNER: {
    retriable: false,
    meaning: 'The institution does not own the topic of this event type',
    action: 'Publish only the event types topics.yaml gives your institution',
  },
  BUS_ERR_SCHEMA_NOT_REGISTERED: {
    retriable: false,
    meaning: 'The schema of the event type is not registered in the registry',
    action: 'Run `npm run schemas:register` (production never registers on the fly)',
  },
  BUS_ERR_SCHEMA_INCOMPATIBLE: {
    retriable: false,
    meaning: 'The registry rejected a schema change under its compatibility rules',
    action: 'Make the change backward compatible (add optional fields with defaults)',
  },
  BUS_ERR_REGISTRY_UNAVAILABLE: {
    retriable: true,
    meaning: 'The schema registry did not answer',
    action: 'Retry; check `npm run stack:status` or REGISTRY_URL',
  },
  BUS_ERR_BROKER_UNAVAILABLE: {
    retriable: true,
    meaning: 'Kafka did not acknowledge within the retry budget',
    action: 'Retry with the same eventId: without an acknowledgement the event may or may not be in the topic, and consumers deduplicate on eventId',
  },
  BUS_ERR_PRODUCER_CLOSED: {
    retriable: false,
    meaning: 'publish was called after close()',
    action: 'Create a new producer',
  },
  BUS_ERR_DECODE: {
    retriable: false,
    meaning: 'A message could not be decoded (magic byte, schema id or Avro body)',
    action: 'Inspect the dead-letter topic; the message was not projected',
  },
  BUS_ERR_STORE_UNAVAILABLE: {
    retriable: true,
    meaning: 'PostgreSQL is unavailable',
    action: 'The consumer pauses and retries; check DATABASE_URL and the database',
  },
  BUS_ERR_AUTH: {
    retriable: false,
    meaning: 'The API key is missing, unknown or revoked (HTTP 401)',
    action: 'Send a valid key as `Authorization: Bearer <key>`; ask for one with `npm run apikeys -- create`',
  },
  BUS_ERR_MALFORMED_JSON: {
    retriable: false,
    meaning: 'The request body is not valid JSON (HTTP 400)',
    action: 'Send one JSON object (UTF-8); nothing was published',
  },
  BUS_ERR_BAD_REQUEST: {
    retriable: false,
    meaning: 'The request is malformed apart from its body (e.g. a bad Idempotency-Key header) (HTTP 400)',
    action: 'Fix the request as the message says; nothing was published',
  },
  BUS_ERR_PAYLOAD_TOO_LARGE: {
    retriable: false,
    meaning: 'The body or the batch exceeds the gateway limit (HTTP 413)',
    action: 'Split the request; the limits are in the message and at /docs',
  },
  BUS_ERR_UNSUPPORTED_MEDIA_TYPE: {
    retriable: false,
    meaning: 'The content type is not application/json (HTTP 415)',
    action: 'Send `Content-Type: application/json`',
  },
  BUS_ERR_NOT_FOUND: {
    retriable: false,
    meaning: 'No gateway route matches the method and path (HTTP 404)',
    action: 'See the routes at /docs',
  },
  BUS_ERR_IDEMPOTENCY_CONFLICT: {
    retriable: false,
    meaning: 'The Idempotency-Key was already used with a different request body (HTTP 409)',
    action: 'Use a new key for a new request; reuse a key only to retry the identical request',
  },
  BUS_ERR_IDEMPOTENCY_IN_PROGRESS: {
    retriable: true,
    meaning: 'A request with the same Idempotency-Key is still being processed (HTTP 409)',
    action: 'Retry the same request with the same key a little later',
  },
  BUS_ERR_RATE_LIMITED: {
    retriable: true,
    meaning: 'The API key exceeded its request rate (HTTP 429)',
    action: 'Wait for the Retry-After seconds, then retry',
  },
  BUS_ERR_INTERNAL: {
    retriable: true,
    meaning: 'An unexpected error inside a bus service (HTTP 500)',
    action: 'Retry; if it persists, report it with the time and request id from the logs',
  },
  BUS_ERR_ALERT_RULES_FILE: {
    retriable: false,
    meaning: 'alert-rules.yaml is invalid',
    action: 'Fix alert-rules.yaml at the listed paths and lines',
  },
  BUS_ERR_ALERT_NOT_FOUND: {
    retriable: false,
    meaning: 'No alert or webhook subscription has that identifier (HTTP 404)',
    action: 'Check the identifier; list alerts with GET /v1/alerts',
  },
  BUS_ERR_WEBHOOK_URL_REJECTED: {
    retriable: false,
    meaning: 'A webhook URL is not https/http or resolves to a loopback, link-local, private or metadata address (HTTP 400)',
    action: 'Register a public URL; for development only, set ALERTS_WEBHOOK_ALLOW_PRIVATE=true',
  },
  BUS_ERR_REPLAY_TOPIC_NOT_FOUND: {
    retriable: false,
    meaning: 'A replay names a topic that does not exist in Kafka (or an event type whose topic does not)',
    action: 'Check the name (with its prefix) against `npm run topics:apply -- --dry-run`; the message lists the topics that exist',
  },
  BUS_ERR_REPLAY_EMPTY_RANGE: {
    retriable: false,
    meaning: 'The replay selection (time range, offsets, event types) contains no event',
    action: 'Widen --from/--to or the offsets; `--dry-run` shows the offsets and counts per partition',
  },
  BUS_ERR_REPLAY_OUT_OF_RETENTION: {
    retriable: false,
    meaning: 'The replay range starts before the oldest offset Kafka still keeps (deleted by retention)',
    action: 'Start the range later (the message gives the oldest retained offset per partition) or restore the data from a backup',
  },
  BUS_ERR_REPLAY_CHECKPOINT: {
    retriable: false,
    meaning: 'A replay checkpoint is missing, unreadable or belongs to a different command',
    action: 'Run the same command as before to resume, or pass --restart to start over',
  },
  BUS_ERR_REPLAY_SWAP: {
    retriable: true,
    meaning: 'The rebuilt store could not be swapped in (schema missing, not caught up, or a lock timed out)',
    action: 'Run the rebuild command again: it resumes from PostgreSQL and retries the swap; the live store was not changed',
  },
  BUS_ERR_STACK: {
    retriable: false,
    meaning: 'The local stack could not be started or checked',
    action: 'Read the message and the log it names under .stack/logs',
  },
} as const satisfies Record<string, { retriable: boolean; meaning: string; action: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Base class of every error the bus throws; never thrown bare in SDK code paths. */
export class BusError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly violations: readonly Violation[];

  constructor(
    code: ErrorCode,
    message: string,
    options: { violations?: readonly Violation[]; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
    this.violations = options.violations ?? [];
  }

  /** Serialisable form for HTTP bodies and dead-letter headers. */
  toJSON(): { code: ErrorCode; message: string; violations?: readonly Violation[] } {
    return this.violations.length > 0
      ? { code: this.code, message: this.message, violations: this.violations }
      : { code: this.code, message: this.message };
  }
}

/** Thrown when an event breaks its schema or a data-entry rule; lists every violation. */
export class ValidationError extends BusError {
  constructor(eventType: string, violations: readonly Violation[]) {
    super(
      'BUS_ERR_VALIDATION',
      `${eventType}: ${violations.length} violation(s): ` +
        violations.map((v) => `${v.path}: ${v.message}`).join('; '),
      { violations },
    );
  }
}

/** Thrown when a configuration object or file fails validation. */
export class ConfigError extends BusError {
  constructor(message: string, violations: readonly Violation[] = []) {
    super('BUS_ERR_CONFIG', message, { violations });
  }
}

/** Thrown when an institution publishes an event type it does not own. */
export class NotOwnerError extends BusError {
  constructor(institution: string, eventType: string, owner: string) {
    super(
      'BUS_ERR_NOT_OWNER',
      `institution ${institution} may not publish ${eventType}: its topic belongs to ${owner}`,
    );
  }
}

/** Thrown when Kafka did not acknowledge an event within the retry budget. */
export class BrokerUnavailableError extends BusError {
  constructor(message: string, cause?: unknown) {
    super('BUS_ERR_BROKER_UNAVAILABLE', message, { cause });
  }
}

/** True when `err` is a BusError (optionally with the given code). */
export function isBusError(err: unknown, code?: ErrorCode): err is BusError {
  return err instanceof BusError && (code === undefined || err.code === code);
}
