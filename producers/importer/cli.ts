/**
 * `npm run import -- --institution MINGOB --type mingob.vehicle.reported-stolen --mapping mapeo.yaml datos.csv`
 *
 * Options: `--rejects <archivo>` (default `<datos>.rechazos.csv`), `--encoding auto|utf-8|latin1`,
 * `--delimiter <c>`, `--auto-register` (development only). Messages are for
 * operators, in Spanish. Ctrl-C stops cleanly; the same command resumes.
 * Exit codes: 0 done, 1 done with rejected rows, 2 usage or configuration error, 3 interrupted.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { isBusError, readEndpoints } from '../../core/index.ts';
import { createIngestPool, ingestSchemaFromEnv, migrateIngest } from '../gateway/index.ts';
import { importFile, type FileEncoding } from './index.ts';

const USAGE =
  'Uso: npm run import -- --institution <código> --type <tipo de evento> --mapping <mapeo.yaml> [--rejects <archivo>] ' +
  '[--encoding auto|utf-8|latin1] [--delimiter <c>] <datos.csv>';

function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      institution: { type: 'string' },
      type: { type: 'string' },
      mapping: { type: 'string' },
      rejects: { type: 'string' },
      encoding: { type: 'string', default: 'auto' },
      delimiter: { type: 'string' },
      'auto-register': { type: 'boolean', default: false },
    },
  });
} catch (err) {
  fail(`${(err as Error).message}\n${USAGE}`);
}
const { values, positionals } = parsed;
const file = positionals[0];
if (!values.institution || !values.type || !values.mapping || !file || positionals.length > 1) fail(USAGE);
if (!['auto', 'utf-8', 'latin1'].includes(values.encoding!)) fail('--encoding debe ser auto, utf-8 o latin1.');
const delimiter = values.delimiter === '\\t' ? '\t' : values.delimiter;

const endpoints = readEndpoints();
const schema = ingestSchemaFromEnv();
try {
  await migrateIngest({ databaseUrl: endpoints.databaseUrl, schema });
} catch (err) {
  fail(`No se pudo preparar la base de datos de control (${isBusError(err) ? err.code : 'error'}): revise DATABASE_URL.`);
}
const pool = createIngestPool(endpoints.databaseUrl, 2);
const abort = new AbortController();
process.once('SIGINT', () => {
  process.stderr.write('\nInterrumpiendo: se esperan las filas en vuelo y se guarda el avance…\n');
  abort.abort();
});

const interactive = process.stderr.isTTY === true;
const bar = new cliProgress.SingleBar(
  {
    format: 'Importando |{bar}| {percentage}% | {value}/{total} filas | {rate} filas/s | ETA {eta_formatted} | publicadas {published} · rechazadas {rejected} · omitidas {skipped}',
    hideCursor: true,
    etaBuffer: 50,
    fps: 5,
  },
  cliProgress.Presets.shades_classic,
);
let started = false;
const t0 = Date.now();
let summary;
try {
  summary = await importFile({
    file,
    institution: values.institution,
    eventType: values.type,
    mapping: values.mapping,
    pool,
    schema,
    rejectsFile: values.rejects,
    encoding: values.encoding as FileEncoding | 'auto',
    delimiter,
    autoRegister: values['auto-register'],
    signal: abort.signal,
    onProgress: (p) => {
      const rate = Math.round((p.done - p.skipped) / Math.max(0.001, (Date.now() - t0) / 1000));
      const payload = { rate, published: p.published, rejected: p.rejected, skipped: p.skipped };
      if (!started) {
        if (interactive) bar.start(p.total, p.done, payload);
        started = true;
      } else if (interactive) bar.update(p.done, payload);
    },
  });
} catch (err) {
  if (started && interactive) bar.stop();
  await pool.end();
  if (isBusError(err, 'BUS_ERR_CONFIG')) fail(`Error: ${err.message}`);
  fail(`Error: ${isBusError(err) ? `${err.code}: ${err.message}` : (err as Error).message}`, 3);
}
if (started && interactive) bar.stop();
await pool.end();

const seconds = (Date.now() - t0) / 1000;
const lines = [
  `Archivo: ${summary.file}`,
  `Codificación detectada: ${summary.encoding === 'utf-8' ? 'UTF-8' : 'Latin-1 (ISO-8859-1)'}; delimitador: ${summary.delimiter === '\t' ? 'tabulador' : `"${summary.delimiter}"`}`,
  `Filas leídas: ${summary.read}`,
  `Publicadas: ${summary.published}`,
  `Rechazadas: ${summary.rejected}${summary.rejected > 0 && summary.rejectsFile ? ` (véase ${summary.rejectsFile})` : ''}`,
  `Omitidas (ya procesadas en una ejecución anterior): ${summary.skipped}`,
  `Tiempo: ${seconds.toFixed(1)} s`,
];
if (summary.interrupted) lines.push(`Importación incompleta: ${summary.stopReason}. Ejecute el mismo comando para reanudar.`);
process.stdout.write(`${lines.join('\n')}\n`);
process.exit(summary.interrupted ? 3 : summary.rejected > 0 ? 1 : 0);
