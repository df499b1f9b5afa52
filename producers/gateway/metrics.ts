/**
 * Prometheus metrics of one gateway instance, in its own registry (tests
 * build several gateways in one process).
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly requestSeconds: Histogram<'route' | 'method' | 'status'>;
  readonly published: Counter<'institution' | 'event_type'>;
  readonly publishSeconds: Histogram<'event_type' | 'outcome'>;
  readonly errors: Counter<'code'>;
}

/** Creates the gateway's counters and histograms, plus the process defaults. */
export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sns_gateway_' });
  return {
    registry,
    requests: new Counter({
      name: 'sns_gateway_requests_total',
      help: 'HTTP requests answered, by route, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    }),
    requestSeconds: new Histogram({
      name: 'sns_gateway_request_duration_seconds',
      help: 'HTTP request latency, by route, method and status',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    published: new Counter({
      name: 'sns_gateway_events_published_total',
      help: 'Events acknowledged by Kafka, by institution and event type',
      labelNames: ['institution', 'event_type'],
      registers: [registry],
    }),
    publishSeconds: new Histogram({
      name: 'sns_gateway_publish_duration_seconds',
      help: 'Time from a valid event to Kafka acknowledgement (or failure), by event type and outcome',
      labelNames: ['event_type', 'outcome'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'sns_gateway_errors_total',
      help: 'Error responses and per-item batch failures, by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}
