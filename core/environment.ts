/**
 * Every environment variable the bus reads, in one table. The README's
 * "Configuration" section and docker-compose.yml are checked against it by
 * test/core/environment.unit.test.ts, and so is the source code: a variable
 * read anywhere must be listed here.
 */
export interface EnvVar {
  readonly name: string;
  readonly default: string;
  readonly description: string;
}

export const ENVIRONMENT: readonly EnvVar[] = [
  { name: 'KAFKA_BROKERS', default: '127.0.0.1:9092', description: 'Kafka bootstrap servers, comma-separated. Setting it (or REGISTRY_URL / DATABASE_URL) means an external stack: stack:up starts nothing.' },
  { name: 'REGISTRY_URL', default: 'http://127.0.0.1:8081/apis/ccompat/v7', description: 'Confluent-compatible schema registry URL.' },
  { name: 'DATABASE_URL', default: 'postgres://postgres@127.0.0.1:5432/sns', description: 'PostgreSQL of the central store.' },
  { name: 'KAFKA_SSL', default: 'false', description: '`true` turns TLS on for every Kafka client.' },
  { name: 'KAFKA_SSL_CA_FILE', default: '(system CAs)', description: 'PEM file of the CA that signed the brokers\' certificates.' },
  { name: 'KAFKA_SASL_MECHANISM', default: '(none)', description: '`plain`, `scram-sha-256` or `scram-sha-512`.' },
  { name: 'KAFKA_SASL_USERNAME', default: '(none)', description: 'SASL user.' },
  { name: 'KAFKA_SASL_PASSWORD', default: '(none)', description: 'SASL password.' },
  { name: 'SNS_TOPIC_PREFIX', default: '(empty)', description: 'Prefix of every topic name and subject (for shared clusters and tests).' },
  { name: 'NODE_ENV', default: '(unset)', description: '`production` forbids registering schemas on the fly.' },
  { name: 'LOG_LEVEL', default: 'info', description: 'pino log level.' },
  { name: 'SNS_CACHE_DIR', default: '~/.cache/sns-bus', description: 'Where the Kafka and Apicurio jars are cached (outside git).' },
  { name: 'SNS_STACK_DIR', default: '.stack', description: 'Local stack state, pid files and logs (`.stack/logs`).' },
  { name: 'SNS_STACK_QUIET', default: '(unset)', description: 'Silences the stack script\'s progress lines.' },
  { name: 'SNS_STACK_KEEP', default: '(unset)', description: '`1` keeps a stack that `npm test` started running afterwards.' },
  { name: 'JAVA_HOME', default: '(PATH)', description: 'JDK for Kafka (17+) and, if 21+, the registry.' },
  { name: 'KAFKA_JAVA_HOME', default: '(JAVA_HOME)', description: 'JDK for Kafka when it must differ.' },
  { name: 'APICURIO_JAVA_HOME', default: '(first JDK 21+ found)', description: 'JDK 21+ for Apicurio Registry 3.x.' },
  { name: 'BENCH_RECORDS', default: '200000', description: 'Events per benchmark figure.' },
  { name: 'BENCH_ONLY', default: '(all)', description: 'Comma-separated bench sections to run (java, sdk, gateway, projection, replay, alerts); writes `bench/results/partial.json`.' },
  { name: 'BENCH_JAVA_RECORDS', default: '1000000', description: 'Records for Kafka\'s own perf tools (they need a warm JVM).' },
  { name: 'GATEWAY_HOST', default: '127.0.0.1', description: 'Interface the ingest gateway listens on (0.0.0.0 in docker-compose.yml).' },
  { name: 'GATEWAY_PORT', default: '8080', description: 'Port of the ingest gateway.' },
  { name: 'GATEWAY_BODY_LIMIT_BYTES', default: '1048576', description: 'Largest request body the gateway accepts (413 beyond it).' },
  { name: 'GATEWAY_BATCH_MAX_ITEMS', default: '500', description: 'Most items in one `POST /v1/events:batch` (413 beyond it).' },
  { name: 'GATEWAY_IDEMPOTENCY_WINDOW_MS', default: '86400000', description: 'How long an Idempotency-Key is remembered.' },
  { name: 'GATEWAY_RATE_LIMIT_PER_MINUTE', default: '60000', description: 'Requests per API key per minute before 429.' },
  { name: 'GATEWAY_AUTH_FAILURES_PER_MINUTE', default: '60', description: 'Failed authentications (missing, unknown or revoked API key) per client address per minute before 429, checked before any key look-up.' },
  { name: 'GATEWAY_DELIVERY_TIMEOUT_MS', default: '10000', description: 'How long the gateway waits for Kafka\'s acknowledgement before answering 503.' },
  { name: 'GATEWAY_API_KEY_CACHE_MS', default: '5000', description: 'How long a verified API key is cached; a revocation takes effect within it.' },
  { name: 'INGEST_SCHEMA', default: 'ingest', description: 'PostgreSQL schema of the gateway\'s API keys and idempotency records and the importer\'s checkpoints.' },
  { name: 'BENCH_GATEWAY_SECONDS', default: '10', description: 'Duration of the gateway load run in `npm run bench`.' },
  { name: 'STORE_SCHEMA', default: 'store', description: 'PostgreSQL schema of the central store (projector, query API, alert correlation).' },
  { name: 'PROJECTOR_GROUP_ID', default: 'sns-st-projector', description: 'Consumer group of the projector; the alert service waits for its stored offsets before correlating.' },
  { name: 'ALERTS_SCHEMA', default: 'alerts', description: 'PostgreSQL schema of issued alerts, acknowledgements and webhooks (apart from the store, which replay swaps).' },
  { name: 'ALERTS_GROUP_ID', default: 'sns-st-alerts', description: 'Consumer group of the alert service.' },
  { name: 'ALERTS_RULES_FILE', default: 'alert-rules.yaml', description: 'The alert rules file, validated on load.' },
  { name: 'ALERTS_ESCALATE_AFTER_MS', default: '600000', description: 'An Extreme alert not acknowledged after this long raises an escalation.' },
  { name: 'ALERTS_API_TOKENS', default: '(none: required)', description: 'Operator bearer tokens of the push server, `token[:operator]`, comma-separated (16+ characters each).' },
  { name: 'ALERTS_WEBHOOK_ALLOW_PRIVATE', default: 'false', description: '`true` accepts webhook URLs on loopback, private or link-local addresses (development and tests only).' },
  { name: 'PUSH_HOST', default: '127.0.0.1', description: 'Interface the push server (SSE, webhooks, CAP, dashboard) listens on.' },
  { name: 'PUSH_PORT', default: '8091', description: 'Port of the push server.' },
  { name: 'BENCH_ALERT_SECONDS', default: '60', description: 'Duration of the steady 1,000 events/s alert-latency benchmark.' },
  { name: 'PROJECTOR_METRICS_PORT', default: '9464', description: 'Port of the projector\'s Prometheus /metrics (0 disables).' },
  { name: 'PROJECTOR_CONCURRENCY', default: '(partitions consumed concurrently, projector default)', description: 'kafkajs partitionsConsumedConcurrently of the projector.' },
  { name: 'PROJECTOR_SESSION_TIMEOUT_MS', default: '(projector default)', description: 'Consumer-group session timeout of the projector.' },
  { name: 'SNS_FAULT_KILL_AFTER_DB_COMMIT', default: '(unset)', description: 'Tests only: the projector SIGKILLs itself after its n-th database commit, before the Kafka commit.' },
  { name: 'QUERY_API_HOST', default: '127.0.0.1', description: 'Query API listen address.' },
  { name: 'QUERY_API_PORT', default: '8090', description: 'Query API port.' },
  { name: 'QUERY_API_TOKENS', default: '(none: required; `npm start` makes one)', description: 'Comma-separated bearer tokens accepted by the query API.' },
  { name: 'BENCH_PROJECTOR_NODE_ARGS', default: '(none)', description: 'Extra Node.js flags for the projector process of the benchmark.' },
  { name: 'SNS_INVENTORY', default: '../shared/reference/inventario-sns.txt', description: 'Tests only: the SNS inventory the catalog test compares topics.yaml with.' },
  { name: 'CHROMIUM_PATH', default: '/usr/bin/chromium', description: 'Tests only: the Chromium the dashboard test drives (without it, that test is skipped, except under CI).' },
  { name: 'CI', default: '(unset)', description: 'Tests only: `true` (as `.ci/run` is run) never skips the dashboard test for want of Chromium.' },
  { name: 'BENCH_REPLAY_NODE_ARGS', default: '(none)', description: 'Extra Node.js flags for the export process of the replay benchmark (profiling).' },
  { name: 'BENCH_ROUNDS', default: '3', description: 'Rounds of the projection and replay benchmarks (no-op consumer, export, COPY and projector in each; medians reported, ratios are medians of per-round ratios).' },
  { name: 'BENCH_REPLAY_PAIRS', default: '3', description: 'No-op consumer and export runs, back to back, in each round of the replay benchmark (the export ratio is the median of every pair\'s ratio).' },
  { name: 'BENCH_SDK_ROUNDS', default: '5', description: 'Alternating SDK / raw kafkajs rounds of the publish benchmark (medians reported).' },
  { name: 'BENCH_ALERTS_NODE_ARGS', default: '(none)', description: 'Extra Node.js flags for the services the alert benchmark starts (profiling).' },
];
