/** The bus's long-lived services: `npm start` runs every one; each also runs alone with `npm run <name>`. */
export const SERVICES = [
  { name: 'projector', script: 'consumers/projector-main.ts', what: 'events → central PostgreSQL store' },
  { name: 'query-api', script: 'consumers/query-api-main.ts', what: 'read-only query API (http://127.0.0.1:8090/docs)' },
  { name: 'gateway', script: 'producers/gateway/main.ts', what: 'HTTP ingest gateway (http://127.0.0.1:8080/docs)' },
] as const;
