/**
 * `npm start`: the whole bus on one machine. Brings the stack up (no-op when
 * it is up), migrates the store, applies topics.yaml, registers the schemas,
 * then runs every service as a child process with its output prefixed by its
 * name. Ctrl-C stops the services; the stack keeps running (`npm run stack:down`).
 *
 * `npm start -- --stack-only` stops after the preparation steps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { applyTopics, formatApplyReport, loadCatalog } from '../catalog/index.ts';
import { migrate } from '../consumers/index.ts';
import { createKafka, createLogger, isBusError } from '../core/index.ts';
import { registerSchemas } from './schemas-register.ts';
import { SERVICES } from './services.ts';
import { ROOT, stackUp } from './stack/stack.ts';



const log = createLogger('start');

function say(msg: string): void {
  process.stdout.write(`[start] ${msg}\n`);
}

async function prepare(): Promise<void> {
  say('bringing the stack up (Kafka, registry, PostgreSQL)…');
  await stackUp();
  say('migrating the central store…');
  await migrate({ logger: log });
  say('applying topics.yaml…');
  const admin = createKafka({ clientId: 'sns-start' }).admin();
  await admin.connect();
  try {
    const report = await applyTopics(loadCatalog(), { admin, logger: log });
    process.stdout.write(`${formatApplyReport(report)}\n`);
  } finally {
    await admin.disconnect();
  }
  say('registering schemas…');
  const rows = await registerSchemas();
  say(`${rows.length} subjects registered`);
}

function run(service: (typeof SERVICES)[number], env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [...('nodeArgs' in service ? service.nodeArgs : []), '--import', 'tsx', join(ROOT, service.script)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`[${service.name}] ${line}\n`));
  }
  child.on('exit', (code, signal) => say(`${service.name} exited (${signal ?? code})`));
  return child;
}

try {
  await prepare();
  if (process.argv.includes('--stack-only')) process.exit(0);
  const env = { ...process.env };
  // Local convenience only: production sets its own tokens.
  for (const [name, what] of [['QUERY_API_TOKENS', 'query API'], ['ALERTS_API_TOKENS', 'push server (dashboard, acknowledgements)']] as const) {
    if (!env[name]) {
      env[name] = `dev-${randomBytes(12).toString('hex')}`;
      say(`${name} not set: this run's ${what} token is ${env[name]}`);
    }
  }
  const children = SERVICES.map((s) => {
    say(`starting ${s.name}: ${s.what}`);
    return run(s, env);
  });
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      say('stopping services (the stack keeps running; `npm run stack:down` stops it)…');
      for (const c of children) c.kill('SIGTERM');
      setTimeout(() => process.exit(0), 10_000).unref();
      void Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r))))).then(() => process.exit(0));
    });
  }
} catch (err) {
  process.stderr.write(`npm start: ${isBusError(err) ? `${err.code}: ${err.message}` : String(err)}\n`);
  process.exit(1);
}
