/**
 * The alert services' option checks: every bad option is listed, and a timer
 * delay Node.js cannot keep (above 2^31 − 1 ms, which it turns into 1 ms) is refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildPushServer, createAlertService } from '../../../consumers/alerts/index.ts';
import { assertPositiveInts, MAX_TIMER_MS } from '../../../consumers/alerts/options.ts';

describe('assertPositiveInts', () => {
  it('lists every option that is not an integer ≥ 1, and every timer past the limit', () => {
    let err: unknown;
    try {
      assertPositiveInts('test', { a: 0, b: 1.5, c: 5, t: MAX_TIMER_MS + 1, u: MAX_TIMER_MS, big: MAX_TIMER_MS + 1 }, 1, ['t', 'u']);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'BUS_ERR_CONFIG' });
    expect((err as { violations: { path: string }[] }).violations.map((v) => v.path)).toEqual(['/options/a', '/options/b', '/options/t']);
  });
});

describe('the services refuse timers they cannot keep', () => {
  const saved = process.env.ALERTS_ESCALATE_AFTER_MS;
  afterEach(() => {
    if (saved === undefined) delete process.env.ALERTS_ESCALATE_AFTER_MS;
    else process.env.ALERTS_ESCALATE_AFTER_MS = saved;
  });

  it('push server: a heartbeat of 30 days is refused at build time', () => {
    expect(() => buildPushServer({ heartbeatMs: 30 * 24 * 3_600_000, tokens: ['a-token-of-sixteen-chars'] })).toThrow(/heartbeatMs must be at most 2147483647/);
  });

  it('alert service: ALERTS_ESCALATE_AFTER_MS that is not a number is refused (it was NaN, and nothing escalated)', () => {
    process.env.ALERTS_ESCALATE_AFTER_MS = '10min';
    expect(() => createAlertService()).toThrow(/escalateAfterMs must be an integer ≥ 1/);
  });
});
