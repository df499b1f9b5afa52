/**
 * `npm run topics:apply [-- --file topics.yaml] [--prefix p] [--only a,b] [--dry-run]`:
 * makes Kafka match topics.yaml and prints what it did. Exits 1 when the file
 * is invalid or Kafka cannot make a declared change.
 */
import { parseArgs } from 'node:util';
import { applyTopics, formatApplyReport, loadCatalog } from '../catalog/index.ts';
import { BusError, createLogger, isBusError } from '../core/index.ts';

const log = createLogger('topics-apply');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      file: { type: 'string', default: 'topics.yaml' },
      prefix: { type: 'string', default: '' },
      only: { type: 'string', multiple: true },
      'dry-run': { type: 'boolean', default: false },
    },
  });
  const catalog = loadCatalog(values.file);
  const only = values.only?.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  const report = await applyTopics(catalog, {
    prefix: values.prefix,
    dryRun: values['dry-run'],
    throwOnRefused: false,
    logger: log,
    ...(only ? { only } : {}),
  });
  process.stdout.write(`${formatApplyReport(report)}\n`);
  if (report.refused.length > 0) {
    const refused = new BusError(
      'BUS_ERR_TOPIC_APPLY',
      `topics:apply refused ${report.refused.length} change(s) Kafka cannot make (see REFUSED above)`,
    );
    process.stderr.write(`${refused.code}: ${refused.message}\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(isBusError(err) ? `${err.code}: ${err.message}\n` : `${String((err as Error)?.stack ?? err)}\n`);
    process.exitCode = 1;
  },
);
