/**
 * Retry and time settings of the whole bus, in one place, with units in the
 * names. Callers may override them per client; these are the defaults.
 */
export const settings = {
  /** kafkajs connection timeout. */
  kafkaConnectionTimeoutMs: 3_000,
  /** kafkajs request timeout. */
  kafkaRequestTimeoutMs: 30_000,
  /** First retry delay of the kafkajs client. */
  kafkaRetryInitialMs: 300,
  /** Upper bound of one retry delay of the kafkajs client. */
  kafkaRetryMaxMs: 5_000,
  /** Retries kafkajs makes before an operation fails. */
  kafkaRetries: 5,
  /** Time to wait for the local stack to become ready. */
  stackReadyTimeoutMs: 120_000,
  /** Poll interval while waiting for readiness. */
  stackPollMs: 250,
  /** Registry HTTP request timeout. */
  registryRequestTimeoutMs: 10_000,
} as const;
