/**
 * `npm run stack:up | stack:down | stack:status`: the local Kafka, registry
 * and PostgreSQL. See scripts/stack/stack.ts.
 */
import { isBusError } from '../core/index.ts';
import { LOG_DIR, stackDown, stackStatus, stackUp } from './stack/stack.ts';

async function printStatus(): Promise<boolean> {
  const rows = await stackStatus();
  for (const r of rows) {
    const pid = r.pid ? `pid ${r.pid}` : '';
    process.stdout.write(`${r.name.padEnd(9)} ${r.state.padEnd(9)} ${pid.padEnd(11)} ${r.endpoint}${r.detail ? `  (${r.detail})` : ''}\n`);
  }
  process.stdout.write(`logs: ${LOG_DIR}\n`);
  return rows.every((r) => r.state === 'ready');
}

const command = process.argv[2];
try {
  if (command === 'up') {
    await stackUp();
    await printStatus();
  } else if (command === 'down') {
    await stackDown();
    process.stdout.write('stack stopped\n');
  } else if (command === 'status') {
    process.exitCode = (await printStatus()) ? 0 : 1;
  } else {
    process.stderr.write('usage: tsx scripts/stack.ts up|down|status\n');
    process.exitCode = 2;
  }
} catch (err) {
  process.stderr.write(`stack ${command}: ${isBusError(err) ? `${err.code}: ${err.message}` : String(err)}\n`);
  process.exitCode = 1;
}
