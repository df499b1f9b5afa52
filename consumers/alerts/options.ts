/**
 * Time and retry settings of the alert service and the push server, in one
 * place, with units in the names. Options override them per instance.
 */
import { ConfigError, type Violation } from '../../core/index.ts';

/** Defaults of the alert service, the push server and webhook delivery. */
export const ALERT_DEFAULTS = {
  /** Consumer group of the alert service. */
  groupId: 'sns-st-alerts',
  /** PostgreSQL schema of alerts, acknowledgements and webhooks (kept apart from the store, which replay swaps). */
  schema: 'alerts',
  /** The projector's consumer group, whose stored offsets the correlation barrier waits for. */
  projectorGroupId: 'sns-st-projector',
  /** Longest wait for the projector to catch up before a movement is correlated against the state as it is. */
  raceWaitMs: 5_000,
  /** Poll interval of that wait. */
  racePollMs: 20,
  /** An Extreme alert not acknowledged after this long raises an escalation. */
  escalateAfterMs: 10 * 60_000,
  /** How often the escalation check runs. */
  escalationCheckMs: 15_000,
  /** Fallback poll of new alerts when a NOTIFY is missed. */
  pushPollMs: 1_000,
  /** Alerts kept in memory for SSE resume without a database query. */
  sseRingSize: 10_000,
  /** SSE comment heartbeat. */
  sseHeartbeatMs: 15_000,
  /** Client reconnection delay announced with `retry:`. */
  sseRetryMs: 2_000,
  /**
   * Bytes an SSE response may hold unsent before it is closed; the client resumes with Last-Event-ID. A
   * client with a quarter of it unsent is fed from its cursor at the pace it reads (catch-up) instead.
   */
  sseMaxBufferedBytes: 1024 * 1024,
  /** An SSE client that takes none of its unsent bytes for this long is not reading: its stream is closed. */
  sseStallMs: 30_000,
  /** First webhook retry delay; doubles each attempt, ±20 % jitter. */
  webhookRetryInitialMs: 5_000,
  /** Upper bound of one webhook retry delay. */
  webhookRetryMaxMs: 60 * 60_000,
  /** Attempts before a delivery is given up ('failed'). */
  webhookMaxAttempts: 12,
  /** Timeout of one webhook request. */
  webhookTimeoutMs: 10_000,
  /** Poll interval of the webhook worker for due retries. */
  webhookPollMs: 500,
  /** How long a rotated-out secret keeps signing, so receivers can switch. */
  webhookSecretGraceMs: 24 * 60 * 60_000,
} as const;

/** The longest delay a Node.js timer takes (about 24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Throws BUS_ERR_CONFIG listing every option in `values` that is not an
 * integer ≥ `min`, and every one named in `timers` (delays of a timer) above MAX_TIMER_MS.
 */
export function assertPositiveInts(where: string, values: Record<string, unknown>, min = 1, timers: readonly string[] = []): void {
  const violations: Violation[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < min)) violations.push({ path: `/options/${k}`, message: `must be an integer ≥ ${min}` });
    else if (v !== undefined && timers.includes(k) && (v as number) > MAX_TIMER_MS) {
      violations.push({ path: `/options/${k}`, message: `must be at most ${MAX_TIMER_MS} ms (a timer's limit, about 24.8 days)` });
    }
  }
  if (violations.length) throw new ConfigError(`${where}: ${violations.map((v) => `${v.path} ${v.message}`).join('; ')}`, violations);
}

/** Parses `token[:operator]` entries (ALERTS_API_TOKENS); throws BUS_ERR_CONFIG when none is given. */
export function parseOperatorTokens(entries: readonly string[]): ReadonlyMap<string, string> {
  const map = new Map<string, string>();
  for (const raw of entries) {
    const e = raw.trim();
    if (!e) continue;
    const i = e.indexOf(':');
    const token = i < 0 ? e : e.slice(0, i);
    const operator = i < 0 ? 'operador' : e.slice(i + 1);
    if (token.length < 16) throw new ConfigError('ALERTS_API_TOKENS: every token must have at least 16 characters');
    map.set(token, operator);
  }
  if (map.size === 0) throw new ConfigError('push server: ALERTS_API_TOKENS must list at least one token (`token[:operator]`, comma separated)');
  return map;
}
