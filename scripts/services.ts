/**
 * The bus's long-lived services: `npm start` runs every one; each also runs
 * alone with `npm run <name>`. `nodeArgs` are the Node.js flags it runs with
 * everywhere (its npm script, `npm start`, the benchmark).
 */
export const SERVICES = [
  {
    name: 'projector',
    script: 'consumers/projector-main.ts',
    what: 'events → central PostgreSQL store',
    // A bounded heap whatever the backlog; a young generation large enough that a batch's
    // objects, alive across its PostgreSQL round trips, die young instead of being promoted.
    nodeArgs: ['--max-old-space-size=384', '--max-semi-space-size=32'],
  },
  { name: 'query-api', script: 'consumers/query-api-main.ts', what: 'read-only query API (http://127.0.0.1:8090/docs)' },
  { name: 'gateway', script: 'producers/gateway/main.ts', what: 'HTTP ingest gateway (http://127.0.0.1:8080/docs)' },
  { name: 'alerts', script: 'consumers/alerts/alerts-main.ts', what: 'alert rules and cross-institution correlation → sns.st.alerts.v1' },
  { name: 'push', script: 'consumers/alerts/push-main.ts', what: 'alerts to the ST: SSE, webhooks, CAP XML, dashboard (http://127.0.0.1:8091/)' },
] as const;
