/**
 * Real-time alerts to the Secretaría Técnica: the rules (alert-rules.yaml),
 * the engine (`evaluate(event, context)`), the alert service that consumes the
 * bus and publishes CAP-shaped alerts, and the push server (SSE, webhooks, CAP
 * XML, dashboard). The only entry other folders import.
 */
export { loadAlertRules, parseAlertRules, alertRulesSchema, TEMPLATE_HELPERS } from './rules.ts';
export type { AlertRule, AlertRules, AreaSpec, Condition, CorrelationKind, RulesViolation } from './rules.ts';
export { createAlertEngine, alertIdentifier, ESCALATION_RULE } from './engine.ts';
export type {
  AlertEngine,
  AlertHistory,
  EvaluationContext,
  MatchBasis,
  PersonLookup,
  PriorAlert,
  RaisedAlert,
  SourceEvent,
  StateLookups,
} from './engine.ts';
export { createAlertService, EXERCISE_HEADER } from './service.ts';
export type { AlertService, AlertServiceOptions } from './service.ts';
export { buildPushServer } from './push-server.ts';
export type { PushServerOptions } from './push-server.ts';
export { createAlertStore, migrateAlerts, ALERTS_MIGRATIONS_DIR } from './store.ts';
export type { AlertStore, StoredAlert, AlertFilter } from './store.ts';
export { capXml, atomFeed, CAP_NAMESPACE } from './cap.ts';
export { signWebhook, verifyWebhook, newWebhookSecret, webhookUrlProblem, backoffMs, retryAfterMs } from './webhooks.ts';
export { ALERT_DEFAULTS } from './options.ts';
