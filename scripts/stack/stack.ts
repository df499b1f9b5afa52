/**
 * The local stack: a single-node Apache Kafka (KRaft), Apicurio Registry 3.x
 * (Confluent-compatible API, SQL storage on our PostgreSQL) and PostgreSQL.
 *
 * Kafka and Apicurio come from Maven Central into a cache outside git
 * (`SNS_CACHE_DIR`, default `~/.cache/sns-bus`); state, pid files and logs
 * live under `.stack/` in the checkout. Everything is idempotent: `up` on a
 * running stack is a no-op, stale pid files are cleaned, readiness is polled
 * for real (Kafka metadata, registry health), never slept.
 *
 * When `KAFKA_BROKERS`, `REGISTRY_URL` or `DATABASE_URL` is set, nothing local
 * is started: `up` only checks that the given endpoints answer.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { BusError, createKafka, readEndpoints, settings, type Endpoints } from '../../core/index.ts';

export const KAFKA_VERSION = '4.4.0';
export const APICURIO_VERSION = '3.3.3';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../..');
export const STACK_DIR = process.env.SNS_STACK_DIR ?? join(ROOT, '.stack');
export const LOG_DIR = join(STACK_DIR, 'logs');
const CACHE_DIR = process.env.SNS_CACHE_DIR ?? join(homedir(), '.cache', 'sns-bus');

/** Local ports; the defaults match the endpoints in core/config.ts. */
export const PORTS = {
  kafka: 9092,
  kafkaController: 9093,
  /**
   * A second plaintext listener that advertises the port of a test-controlled
   * TCP proxy (kafkaChaosProxy), so a test can cut one client off the broker
   * without stopping it for everybody (fault injection).
   */
  kafkaChaos: 9094,
  kafkaChaosProxy: 9095,
  registry: 8081,
  registryManagement: 8089,
} as const;

/** JVM heap caps: the stack must fit a 2-core, 24 GiB machine beside the tests. */
const KAFKA_HEAP = ['-Xms256m', '-Xmx1g'];
const REGISTRY_HEAP = ['-Xms128m', '-Xmx512m'];

/** Global registry rules the bus relies on. */
export const REGISTRY_RULES = { COMPATIBILITY: 'BACKWARD_TRANSITIVE', VALIDITY: 'FULL' } as const;

/** Databases the project needs on the PostgreSQL server. */
export const DATABASES = ['sns', 'sns_registry'] as const;

type Component = 'kafka' | 'registry';

export interface ComponentStatus {
  name: Component | 'postgres';
  state: 'ready' | 'down' | 'starting' | 'external';
  pid?: number;
  endpoint: string;
  detail?: string;
}

const log = (msg: string): void => {
  if (!process.env.SNS_STACK_QUIET) process.stderr.write(`[stack] ${msg}\n`);
};

function stackError(message: string, cause?: unknown): BusError {
  return new BusError('BUS_ERR_STACK', message, { cause });
}

// ---------------------------------------------------------------- processes

function pidFile(c: Component): string {
  return join(STACK_DIR, `${c}.pid`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid of a component we started, or undefined; a stale pid file is removed. */
export function runningPid(c: Component): number | undefined {
  const file = pidFile(c);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) return pid;
  log(`removing stale pid file ${file}`);
  rmSync(file, { force: true });
  return undefined;
}

function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((res) => {
    const s = createConnection({ port, host });
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('timeout', () => {
      s.destroy();
      res(false);
    });
    s.once('error', () => res(false));
  });
}

function whoListens(port: number): string {
  const r = spawnSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  return r.stdout?.trim() || 'unknown process';
}

async function waitFor(what: string, check: () => Promise<boolean>, pid?: number, logFile?: string): Promise<void> {
  const deadline = Date.now() + settings.stackReadyTimeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (pid !== undefined && !isAlive(pid)) {
      throw stackError(`${what} exited during start-up; see ${logFile ?? LOG_DIR}`);
    }
    await new Promise((r) => setTimeout(r, settings.stackPollMs));
  }
  throw stackError(`${what} was not ready after ${settings.stackReadyTimeoutMs} ms; see ${logFile ?? LOG_DIR}`);
}

function spawnDetached(c: Component, cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, logName: string): number {
  mkdirSync(LOG_DIR, { recursive: true });
  const out = openSync(join(LOG_DIR, logName), 'a');
  const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ['ignore', out, out] });
  child.unref();
  if (child.pid === undefined) throw stackError(`could not start ${c} (${cmd})`);
  writeFileSync(pidFile(c), String(child.pid));
  return child.pid;
}

/** Stops a component we started (SIGTERM, then SIGKILL after the grace period). */
export async function stopComponent(c: Component, graceMs = 30_000): Promise<boolean> {
  const pid = runningPid(c);
  if (pid === undefined) return false;
  log(`stopping ${c} (pid ${pid})`);
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    process.kill(pid, 'SIGTERM');
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      process.kill(pid, 'SIGKILL');
    }
  }
  rmSync(pidFile(c), { force: true });
  return true;
}

// ---------------------------------------------------------------- tools

function javaMajor(javaBin: string): number | undefined {
  const r = spawnSync(javaBin, ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(r.stderr);
  if (!m) return undefined;
  const major = Number(m[1]);
  return major === 1 ? Number(m[2]) : major;
}

/** Finds a `java` of at least `minMajor`: `envVar`, JAVA_HOME, PATH, then /usr/lib/jvm. */
export function findJava(minMajor: number, envVar?: string): string {
  const candidates: string[] = [];
  if (envVar && process.env[envVar]) candidates.push(join(process.env[envVar]!, 'bin', 'java'));
  if (process.env.JAVA_HOME) candidates.push(join(process.env.JAVA_HOME, 'bin', 'java'));
  candidates.push('java');
  if (existsSync('/usr/lib/jvm')) {
    for (const d of readdirSync('/usr/lib/jvm').sort().reverse()) candidates.push(join('/usr/lib/jvm', d, 'bin', 'java'));
  }
  for (const c of candidates) {
    const major = javaMajor(c);
    if (major !== undefined && major >= minMajor) return c;
  }
  throw stackError(
    `no Java ${minMajor}+ found (tried ${envVar ? `$${envVar}, ` : ''}$JAVA_HOME, PATH and /usr/lib/jvm). ` +
      `Install a JDK ${minMajor}+ (e.g. apt-get install openjdk-${Math.max(minMajor, 17)}-jdk-headless) or set ${envVar ?? 'JAVA_HOME'}.`,
  );
}

function requireMaven(): void {
  const r = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw stackError('Maven (mvn) is needed to fetch Kafka and Apicurio from Maven Central: apt-get install maven');
  }
}

function mvn(args: string[], what: string): void {
  log(`fetching ${what} from Maven Central…`);
  const r = spawnSync('mvn', ['-q', '-B', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    throw stackError(`mvn failed while fetching ${what}:\n${(r.stdout ?? '') + (r.stderr ?? '')}`.slice(0, 4000));
  }
}

/** Ensures the pinned Kafka jars are in the cache; returns the libs folder. */
export function fetchKafka(): string {
  const dir = join(CACHE_DIR, `kafka-${KAFKA_VERSION}`);
  const libs = join(dir, 'libs');
  if (existsSync(join(libs, `kafka_2.13-${KAFKA_VERSION}.jar`))) return libs;
  requireMaven();
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mvn(
    ['-f', join(here, 'kafka-pom.xml'), `-Dkafka.version=${KAFKA_VERSION}`, 'dependency:copy-dependencies', `-DoutputDirectory=${join(tmp, 'libs')}`, '-DincludeScope=runtime'],
    `Apache Kafka ${KAFKA_VERSION}`,
  );
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  renameSync(tmp, dir);
  return libs;
}

/** Ensures the Apicurio Registry app distribution is unpacked in the cache; returns its folder. */
export function fetchApicurio(): string {
  const dir = join(CACHE_DIR, `apicurio-registry-${APICURIO_VERSION}`);
  if (existsSync(join(dir, 'quarkus-run.jar'))) return dir;
  requireMaven();
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  mvn(
    ['dependency:copy', `-Dartifact=io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`, `-DoutputDirectory=${tmp}`],
    `Apicurio Registry ${APICURIO_VERSION} (about 160 MB)`,
  );
  const archive = join(tmp, `apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz`);
  const r = spawnSync('tar', ['xzf', archive, '-C', tmp], { encoding: 'utf8' });
  if (r.status !== 0) throw stackError(`could not unpack ${archive}: ${r.stderr}`);
  rmSync(archive);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}

// ---------------------------------------------------------------- readiness probes

/** True when a Kafka broker answers metadata requests at `brokers`. */
export async function kafkaReady(brokers: readonly string[]): Promise<boolean> {
  const admin = createKafka({ clientId: 'sns-stack-probe', brokers, retry: { retries: 0 }, connectionTimeoutMs: 1000 }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function registryBase(registryUrl: string): string {
  return registryUrl.replace(/\/apis\/ccompat\/v7\/?$/, '');
}

/** True when the registry's Confluent-compatible API answers. */
export async function registryReady(registryUrl: string): Promise<boolean> {
  try {
    const r = await fetch(`${registryUrl}/subjects`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

async function postgresReady(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- components

async function ensurePostgres(e: Endpoints): Promise<void> {
  if (!(await postgresReady(e.databaseUrl))) {
    const host = new URL(e.databaseUrl).hostname;
    const local = host === '127.0.0.1' || host === 'localhost';
    const hasCtl = spawnSync('which', ['pg_ctlcluster']).status === 0;
    if (local && !e.external && hasCtl) {
      const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
      for (const v of versions) {
        log(`PostgreSQL does not answer; trying pg_ctlcluster ${v} main start`);
        spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', v, 'main', 'start'], { stdio: 'ignore' });
      }
      await waitFor('PostgreSQL', () => postgresReady(e.databaseUrl)).catch(() => undefined);
    }
    if (!(await postgresReady(e.databaseUrl))) {
      throw stackError(`PostgreSQL does not answer at ${redactUrl(e.databaseUrl)}; start it (pg_ctlcluster 15 main start) or set DATABASE_URL`);
    }
  }
  if (e.external) return;
  const url = new URL(e.databaseUrl);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    for (const db of DATABASES) {
      const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [db]);
      if (!rowCount) {
        log(`creating database ${db}`);
        await client.query(`create database "${db}"`);
      }
    }
  } finally {
    await client.end();
  }
}

function redactUrl(u: string): string {
  const url = new URL(u);
  if (url.password) url.password = '***';
  return url.toString();
}

function kafkaProperties(dataDir: string): string {
  return [
    '# Generated by scripts/stack/stack.ts: single-node KRaft broker+controller for local work.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${PORTS.kafkaController}`,
    `listeners=PLAINTEXT://127.0.0.1:${PORTS.kafka},CONTROLLER://127.0.0.1:${PORTS.kafkaController},CHAOS://127.0.0.1:${PORTS.kafkaChaos}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${PORTS.kafka},CHAOS://127.0.0.1:${PORTS.kafkaChaosProxy}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,CHAOS:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'auto.create.topics.enable=false',
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=10',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // History is kept for replay: topics set their own retention; the broker default is 7 days.
    'log.retention.hours=168',
    '',
  ].join('\n');
}

/**
 * A KRaft cluster id: 16 random bytes in base64url, as Kafka's `Uuid.randomUuid()`
 * makes them, and like it never starting with '-' (the storage tool's argument
 * parser would take such an id for an option: one format in 64 failed so).
 */
export function kraftClusterId(random: () => Buffer = () => randomBytes(16)): string {
  for (;;) {
    const id = random().toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Starts the local Kafka broker if it is not running; waits until it serves metadata. */
export async function startKafka(e: Endpoints = readEndpoints()): Promise<void> {
  if (runningPid('kafka') !== undefined) {
    await waitFor('Kafka', () => kafkaReady(e.brokers), runningPid('kafka'), join(LOG_DIR, 'kafka.log'));
    return;
  }
  if (await portOpen(PORTS.kafka)) {
    if (await kafkaReady(e.brokers)) {
      log(`a Kafka broker not started by this checkout already answers on ${PORTS.kafka}; using it`);
      return;
    }
    throw stackError(`port ${PORTS.kafka} is taken by another process (${whoListens(PORTS.kafka)}); stop it or set KAFKA_BROKERS`);
  }
  for (const port of [PORTS.kafkaController, PORTS.kafkaChaos]) {
    if (await portOpen(port)) throw stackError(`port ${port} (Kafka controller or chaos listener) is taken by another process (${whoListens(port)})`);
  }
  const java = findJava(17, 'KAFKA_JAVA_HOME');
  const libs = fetchKafka();
  const kdir = join(STACK_DIR, 'kafka');
  const dataDir = join(kdir, 'data');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(LOG_DIR, { recursive: true });
  const props = join(kdir, 'server.properties');
  writeFileSync(props, kafkaProperties(dataDir));
  const cp = `${libs}/*`;
  const logProps = [`-Dkafka.logs.dir=${LOG_DIR}`, `-Dlog4j2.configurationFile=${join(here, 'log4j2.properties')}`];
  if (!existsSync(join(dataDir, 'meta.properties'))) {
    const clusterId = kraftClusterId();
    log(`formatting KRaft storage (cluster ${clusterId})`);
    const r = spawnSync(java, [...logProps, '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props], { encoding: 'utf8' });
    if (r.status !== 0) throw stackError(`formatting Kafka storage failed:\n${r.stdout}${r.stderr}`);
  }
  log(`starting Kafka ${KAFKA_VERSION} on 127.0.0.1:${PORTS.kafka}`);
  const pid = spawnDetached('kafka', java, [...KAFKA_HEAP, '-XX:+UseG1GC', '-Djava.awt.headless=true', ...logProps, '-cp', cp, 'kafka.Kafka', props], process.env, kdir, 'kafka.stdout.log');
  await waitFor('Kafka', () => kafkaReady(e.brokers), pid, join(LOG_DIR, 'kafka.log'));
  log('Kafka is ready');
}

/** Starts the local Apicurio Registry if it is not running; waits for readiness and sets the global rules. */
export async function startRegistry(e: Endpoints = readEndpoints()): Promise<void> {
  const pid0 = runningPid('registry');
  if (pid0 !== undefined) {
    await waitFor('registry', () => registryReady(e.registryUrl), pid0, join(LOG_DIR, 'registry.log'));
  } else if (await portOpen(PORTS.registry)) {
    if (!(await registryReady(e.registryUrl))) {
      throw stackError(`port ${PORTS.registry} is taken by another process (${whoListens(PORTS.registry)}); stop it or set REGISTRY_URL`);
    }
    log(`a registry not started by this checkout already answers on ${PORTS.registry}; using it`);
  } else {
    if (await portOpen(PORTS.registryManagement)) {
      throw stackError(`port ${PORTS.registryManagement} (registry management) is taken by another process (${whoListens(PORTS.registryManagement)})`);
    }
    // Apicurio 3.3 is compiled for Java 21.
    const java = findJava(21, 'APICURIO_JAVA_HOME');
    const dir = fetchApicurio();
    const db = new URL(e.databaseUrl);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      QUARKUS_HTTP_HOST: '127.0.0.1',
      QUARKUS_HTTP_PORT: String(PORTS.registry),
      QUARKUS_MANAGEMENT_HOST: '127.0.0.1',
      QUARKUS_MANAGEMENT_PORT: String(PORTS.registryManagement),
      QUARKUS_LOG_CONSOLE_JSON: 'false',
      APICURIO_STORAGE_KIND: 'sql',
      APICURIO_STORAGE_SQL_KIND: 'postgresql',
      APICURIO_DATASOURCE_URL: `jdbc:postgresql://${db.hostname}:${db.port || 5432}/sns_registry`,
      APICURIO_DATASOURCE_USERNAME: decodeURIComponent(db.username || 'postgres'),
      APICURIO_DATASOURCE_PASSWORD: decodeURIComponent(db.password),
      APICURIO_DATASOURCE_JDBC_INITIAL_SIZE: '2',
      APICURIO_DATASOURCE_JDBC_MIN_SIZE: '2',
      APICURIO_DATASOURCE_JDBC_MAX_SIZE: '10',
      // Registering an identical schema again returns the existing id (idempotent registration).
      APICURIO_CCOMPAT_USE_CANONICAL_HASH: 'true',
      // Every test run registers subjects of its own; listing must not truncate at the default 1000.
      APICURIO_CCOMPAT_MAX_SUBJECTS: '100000',
    };
    log(`starting Apicurio Registry ${APICURIO_VERSION} on 127.0.0.1:${PORTS.registry}`);
    const pid = spawnDetached('registry', java, [...REGISTRY_HEAP, '-jar', join(dir, 'quarkus-run.jar')], env, dir, 'registry.log');
    await waitFor('registry', () => registryReady(e.registryUrl), pid, join(LOG_DIR, 'registry.log'));
    log('registry is ready');
  }
  await ensureRegistryRules(e.registryUrl);
}

/** Sets the global COMPATIBILITY and VALIDITY rules (idempotent). */
export async function ensureRegistryRules(registryUrl: string): Promise<void> {
  const base = `${registryBase(registryUrl)}/apis/registry/v3/admin/rules`;
  for (const [ruleType, config] of Object.entries(REGISTRY_RULES)) {
    const cur = await fetch(`${base}/${ruleType}`);
    if (cur.ok) {
      const body = (await cur.json()) as { config?: string };
      if (body.config === config) continue;
      const r = await fetch(`${base}/${ruleType}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ruleType, config }),
      });
      if (!r.ok) throw stackError(`could not update registry rule ${ruleType}: HTTP ${r.status}`);
    } else {
      const r = await fetch(base, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ruleType, config }),
      });
      if (!r.ok && r.status !== 409) throw stackError(`could not set registry rule ${ruleType}: HTTP ${r.status}`);
    }
  }
}

/** Reads the global registry rules, as `{ COMPATIBILITY: 'BACKWARD_TRANSITIVE', … }`. */
export async function readRegistryRules(registryUrl: string): Promise<Record<string, string>> {
  const base = `${registryBase(registryUrl)}/apis/registry/v3/admin/rules`;
  const out: Record<string, string> = {};
  for (const ruleType of Object.keys(REGISTRY_RULES)) {
    const r = await fetch(`${base}/${ruleType}`);
    if (r.ok) out[ruleType] = ((await r.json()) as { config: string }).config;
  }
  return out;
}

// ---------------------------------------------------------------- the stack

/** Brings the whole stack up (no-op when it is up); returns true when it started anything. */
export async function stackUp(e: Endpoints = readEndpoints()): Promise<boolean> {
  const before = (await stackStatus(e)).every((s) => s.state === 'ready' || s.state === 'external');
  if (e.external) {
    log('KAFKA_BROKERS/REGISTRY_URL/DATABASE_URL set: using external services, starting nothing');
    const problems: string[] = [];
    if (!(await kafkaReady(e.brokers))) problems.push(`Kafka does not answer at ${e.brokers.join(',')}`);
    if (!(await registryReady(e.registryUrl))) problems.push(`registry does not answer at ${e.registryUrl}`);
    if (!(await postgresReady(e.databaseUrl))) problems.push(`PostgreSQL does not answer at ${redactUrl(e.databaseUrl)}`);
    if (problems.length) throw stackError(problems.join('; '));
    return false;
  }
  mkdirSync(LOG_DIR, { recursive: true });
  await ensurePostgres(e);
  const hadKafka = runningPid('kafka') !== undefined;
  const hadRegistry = runningPid('registry') !== undefined;
  await Promise.all([startKafka(e), startRegistry(e)]);
  const started = (!hadKafka && runningPid('kafka') !== undefined) || (!hadRegistry && runningPid('registry') !== undefined);
  if (before && !started) log('stack already up: nothing to do');
  return started;
}

/** Stops what this checkout started. */
export async function stackDown(): Promise<void> {
  await Promise.all([stopComponent('registry'), stopComponent('kafka')]);
}

/** One line per component: state, pid and endpoint. */
export async function stackStatus(e: Endpoints = readEndpoints()): Promise<ComponentStatus[]> {
  const [k, r, p] = await Promise.all([kafkaReady(e.brokers), registryReady(e.registryUrl), postgresReady(e.databaseUrl)]);
  const state = (ready: boolean, pid: number | undefined): ComponentStatus['state'] =>
    ready ? 'ready' : pid !== undefined ? 'starting' : 'down';
  const kpid = e.external ? undefined : runningPid('kafka');
  const rpid = e.external ? undefined : runningPid('registry');
  return [
    { name: 'kafka', state: state(k, kpid), pid: kpid, endpoint: e.brokers.join(','), detail: kpid ? undefined : k ? 'not started by this checkout' : undefined },
    { name: 'registry', state: state(r, rpid), pid: rpid, endpoint: e.registryUrl, detail: rpid ? undefined : r ? 'not started by this checkout' : undefined },
    { name: 'postgres', state: p ? 'ready' : 'down', endpoint: redactUrl(e.databaseUrl) },
  ];
}
