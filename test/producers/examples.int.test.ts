import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../../scripts/stack/stack.ts';
import { registerSchemas } from '../../scripts/schemas-register.ts';
import { prefixedTopics } from '../support/bus.ts';

const run = promisify(execFile);
const examples = readdirSync(join(ROOT, 'producers/examples')).filter((f) => f.endsWith('.ts'));
let env: Awaited<ReturnType<typeof prefixedTopics>>;

beforeAll(async () => {
  env = await prefixedTopics();
  // As `npm start` does: schemas registered ahead, so the examples run without autoRegister.
  const rows = await registerSchemas({ topicPrefix: env.prefix });
  expect(rows.length).toBeGreaterThanOrEqual(10);
});
afterAll(async () => env.cleanup());

describe('producers/examples', () => {
  it('has one example per publishing institution', () => {
    expect(examples.sort()).toEqual(['conred.ts', 'igm.ts', 'mingob.ts', 'pgn.ts']);
  });

  it.each(examples)('%s runs against the real bus', async (file) => {
    const { stdout } = await run('npx', ['tsx', join('producers/examples', file)], {
      cwd: ROOT,
      env: { ...process.env, SNS_TOPIC_PREFIX: env.prefix, LOG_LEVEL: 'warn' },
      timeout: 60_000,
    });
    expect(stdout).toMatch(/published|reported|offset/);
  });
});
