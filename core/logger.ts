/**
 * Structured logging (pino). Personal data must never reach a log: the
 * redaction list below is a safety net, not a licence to log payloads.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

/** Paths censored in every log line, wherever personal data could slip in. */
export const REDACT_PATHS = [
  'data',
  'payload',
  'body',
  'value',
  '*.cui',
  '*.nit',
  '*.documentNumber',
  '*.fullName',
  '*.firstNames',
  '*.lastNames',
  '*.birthDate',
  '*.plate',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
];

/** Creates the process logger; `LOG_LEVEL` sets the level (default `info`, `silent` in tests). */
export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  return pino({
    name,
    level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'silent' : 'info'),
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...options,
  });
}

export type { Logger };
