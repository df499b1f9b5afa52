/**
 * The file importer against the real Kafka, registry and PostgreSQL: a
 * 10,000-row file with 5% bad rows publishes exactly the good rows once, even
 * imported twice; an interrupted import resumes without doubles; Latin-1 and
 * UTF-8 files are told apart; the CLI speaks Spanish.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerUnavailableError } from '../../../core/index.ts';
import { createProducer, type Producer } from '../../../producers/producer.ts';
import { detectEncoding, importFile, loadMapping, rowEventId } from '../../../producers/importer/index.ts';
import { createGatewayFixture, type GatewayFixture } from '../gateway/support.ts';

const TYPE = 'mingob.vehicle.reported-stolen';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = join(ROOT, 'producers/importer/examples');
const MAPPING = join(EXAMPLES, 'vehiculos-robados.mapeo.yaml');
const HEADER = 'placa;marca;linea;modelo;color;fecha_robo;departamento;municipio;lugar;denuncia;propietario;cui_propietario';
const LETTERS = 'ABCDEFGHJKLMNPRSTVWXYZ';

/** The bad-row kinds, one in twenty rows, and the Spanish reason each must produce. */
const BAD_KINDS = [
  { reason: 'no es una fecha y hora válida', apply: (c: string[]) => (c[5] = '31/02/2025 10:00') },
  { reason: 'no es un código de departamento', apply: (c: string[]) => (c[6] = '23') },
  { reason: 'no es un número entero', apply: (c: string[]) => (c[3] = 'dos mil') },
  { reason: 'es obligatorio y falta', apply: (c: string[]) => (c[9] = '') },
  { reason: 'el dígito verificador del CUI no coincide', apply: (c: string[]) => (c[11] = '1680352240101') },
];

function plate(i: number): string {
  const l = (n: number) => LETTERS[n % LETTERS.length];
  const k = Math.floor(i / 1000);
  return `P${String(i % 1000).padStart(3, '0')}${l(k)}${l(Math.floor(k / 22))}${l(Math.floor(k / 484) + 7)}`;
}

/** A file of `n` rows; every 20th row (from `badOffset`) is bad, kinds in turn. Returns the text and the bad count. */
function makeFile(n: number, seed: string, badOffset = 7): { text: string; bad: number } {
  const lines = [HEADER];
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const cells = [plate(i), 'Toyota', 'Corolla', '2015', 'Gris', '01/12/2025 22:10', '1', '1', `Zona ${seed}`, `DEN-${seed}-${i}`, 'José Ángel Núñez', '1587564440904'];
    if (i % 20 === badOffset) BAD_KINDS[bad++ % BAD_KINDS.length]!.apply(cells);
    lines.push(cells.join(';'));
  }
  return { text: `${lines.join('\n')}\n`, bad };
}

let fx: GatewayFixture;
let dir: string;
let topic: string;

beforeAll(async () => {
  fx = await createGatewayFixture('importer', ['sns.mingob.stolen-vehicles.v1']);
  topic = fx.topicOf(TYPE);
  dir = mkdtempSync(join(tmpdir(), 'sns-import-'));
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await fx?.close();
});

/** The row numbers in a rejects file (the column before the reasons, the last), header excluded. */
function rejectedRows(rejectsFile: string): number[] {
  const records = parse(readFileSync(rejectsFile, 'utf8'), { delimiter: ';', relax_column_count: true }) as string[][];
  return records.slice(1).map((r) => Number(r[r.length - 2]));
}

/** The checkpoint's counters of a file. */
async function progressOf(fileHash: string): Promise<{ done_rows: number; published: number; rejected: number }> {
  const r = await fx.pool.query(`SELECT done_rows, published, rejected FROM "${fx.schema}".import_progress WHERE file_hash = $1 AND event_type = $2`, [fileHash, TYPE]);
  return r.rows[0] as { done_rows: number; published: number; rejected: number };
}

const common = () => ({ institution: 'MINGOB', eventType: TYPE, mapping: loadMapping(MAPPING), pool: fx.pool, schema: fx.schema, topicPrefix: fx.prefix, autoRegister: true });

describe('importFile', () => {
  it('10,000 rows with 5% bad: publishes exactly the good rows once, even imported twice; the rejects file names each reason', async () => {
    const file = join(dir, 'vehiculos-10k.csv');
    const { text, bad } = makeFile(10_000, 'a');
    writeFileSync(file, text);
    expect(bad).toBe(500);

    const first = await importFile({ ...common(), file });
    expect(first).toMatchObject({ read: 10_000, published: 9_500, rejected: 500, skipped: 0, interrupted: false, encoding: 'utf-8', delimiter: ';' });
    expect(await fx.count(topic)).toBe(9_500);

    const rejects = readFileSync(first.rejectsFile!, 'utf8').trim().split('\n');
    expect(rejects[0]).toBe(`${HEADER};fila;motivos`);
    expect(rejects).toHaveLength(501);
    for (const kind of BAD_KINDS) expect(rejects.filter((l) => l.includes(kind.reason))).toHaveLength(100);
    // The original row comes first, verbatim.
    expect(rejects[1]!.startsWith(text.split('\n')[8]!)).toBe(true);
    expect(rejects[1]).toContain(';8;');

    const second = await importFile({ ...common(), file });
    expect(second).toMatchObject({ read: 10_000, published: 0, rejected: 0, skipped: 10_000, interrupted: false, resumedFrom: 10_000 });
    expect(await fx.count(topic)).toBe(9_500);
  });

  it('resumes after an interruption without publishing any row twice', async () => {
    const file = join(dir, 'vehiculos-2k.csv');
    const { text, bad } = makeFile(2_000, 'b');
    writeFileSync(file, text);
    const before = await fx.count(topic);
    const abort = new AbortController();
    const first = await importFile({
      ...common(),
      file,
      signal: abort.signal,
      checkpointEveryMs: 1,
      maxInFlightRows: 100,
      onProgress: (p) => {
        if (p.done >= 600) abort.abort();
      },
    });
    expect(first.interrupted).toBe(true);
    expect(first.stopReason).toBe('interrumpida por el operador');
    expect(first.done).toBeLessThan(2_000);

    const second = await importFile({ ...common(), file });
    expect(second.interrupted).toBe(false);
    expect(second.resumedFrom).toBe(first.done);
    expect(first.published + second.published).toBe(2_000 - bad);
    expect(first.rejected + second.rejected).toBe(bad);
    expect(await fx.count(topic)).toBe(before + 2_000 - bad);
    expect(readFileSync(second.rejectsFile!, 'utf8').trim().split('\n')).toHaveLength(bad + 1);
    const rows = rejectedRows(second.rejectsFile!);
    expect(new Set(rows).size).toBe(rows.length);
    expect(await progressOf(second.fileHash)).toEqual({ done_rows: 2_000, published: 2_000 - bad, rejected: bad });
  });

  it('resume does not duplicate rejects above the watermark: a row Kafka did not acknowledge leaves later rejects pending, written once', async () => {
    const file = join(dir, 'vehiculos-gap.csv');
    const { text, bad } = makeFile(400, 'g');
    writeFileSync(file, text);
    const fileHash = createHash('sha256').update(readFileSync(file)).digest('hex');
    const before = await fx.count(topic);
    // Row 50 is not acknowledged (late, retriable): rows after it are done meanwhile, rejects among them.
    const real = createProducer({ institution: 'MINGOB', topicPrefix: fx.prefix, autoRegister: true });
    const failing: Producer = {
      publish: (type, data, opts) =>
        data.eventId === rowEventId(fileHash, TYPE, 50)
          ? new Promise((_, reject) => setTimeout(() => reject(new BrokerUnavailableError('test: no acknowledgement')), 300))
          : real.publish(type, data, opts),
      publishBatch: (items) => real.publishBatch(items),
      flush: () => real.flush(),
      close: () => real.close(),
    };
    try {
      const first = await importFile({ ...common(), file, producer: failing, checkpointEveryMs: 1, maxInFlightRows: 20 });
      expect(first.interrupted).toBe(true);
      expect(first.stopReason).toContain('Kafka no confirmó');
      expect(first.done).toBeGreaterThan(70); // the rejects of rows 68 (and beyond) were done above the gap
      expect((await progressOf(fileHash)).done_rows).toBe(49);
      expect(rejectedRows(first.rejectsFile!)).toEqual([8, 28, 48]);
    } finally {
      await real.close();
    }

    const second = await importFile({ ...common(), file });
    expect(second).toMatchObject({ interrupted: false, resumedFrom: 49 });
    const rows = rejectedRows(second.rejectsFile!);
    expect(rows).toHaveLength(bad);
    expect(new Set(rows).size).toBe(rows.length);
    expect(await progressOf(fileHash)).toEqual({ done_rows: 400, published: 400 - bad, rejected: bad });
    expect(await fx.count(topic)).toBeGreaterThanOrEqual(before + 400 - bad);
  });

  it('tells Latin-1 from UTF-8 and publishes the same text from both', async () => {
    const latin1 = readFileSync(join(EXAMPLES, 'vehiculos-robados.latin1.csv'));
    const utf8 = readFileSync(join(EXAMPLES, 'vehiculos-robados.utf8.csv'));
    expect(detectEncoding(latin1)).toBe('latin1');
    expect(detectEncoding(utf8)).toBe('utf-8');
    const file = join(dir, 'latin1.csv');
    writeFileSync(file, latin1);
    const before = await fx.count(topic);
    const summary = await importFile({ ...common(), file });
    expect(summary).toMatchObject({ encoding: 'latin1', read: 5, published: 2, rejected: 3 });
    const records = await fx.read(topic, TYPE, before + 2);
    const id = rowEventId(summary.fileHash, TYPE, 1);
    const mine = records.find((r) => r.headers.ce_id === id)!;
    expect((mine.data.owner as { fullName: string }).fullName).toBe('José Ángel Núñez Pérez');
    expect(mine.data.stolenAt).toBe('2025-12-02T04:10:00.000Z');
    expect((mine.data.location as { departmentCode: string }).departmentCode).toBe('01');
  });

  // Regression: a forced encoding that did not match the file was accepted: its mangled text was published,
  // and the file's checkpoint then skipped the corrected re-run as done.
  it('refuses a forced encoding the file is not in, naming the line and none of its content; auto still reads both', async () => {
    const latin1 = join(dir, 'forced-latin1.csv');
    writeFileSync(latin1, readFileSync(join(EXAMPLES, 'vehiculos-robados.latin1.csv')));
    const asUtf8 = await importFile({ ...common(), file: latin1, encoding: 'utf-8' }).catch((err: Error) => err);
    expect(asUtf8).toMatchObject({ code: 'BUS_ERR_CONFIG' });
    expect((asUtf8 as Error).message).toMatch(/no es UTF-8 válido: la línea 2 tiene bytes que no son UTF-8/);
    const utf8 = join(dir, 'forced-utf8.csv');
    // A trailing blank line: other bytes than the example (its checkpoint is keyed by the file's hash), the same rows.
    writeFileSync(utf8, Buffer.concat([readFileSync(join(EXAMPLES, 'vehiculos-robados.utf8.csv')), Buffer.from('\n')]));
    const asLatin1 = await importFile({ ...common(), file: utf8, encoding: 'latin1' }).catch((err: Error) => err);
    expect(asLatin1).toMatchObject({ code: 'BUS_ERR_CONFIG' });
    expect((asLatin1 as Error).message).toMatch(/es UTF-8 válido con caracteres no ASCII \(el primero en la línea 2\)/);
    for (const err of [asUtf8, asLatin1]) for (const personal of ['José', 'Núñez', 'Jos']) expect((err as Error).message).not.toContain(personal);
    // Nothing was recorded for either file: the right encoding imports them.
    expect(await importFile({ ...common(), file: utf8, encoding: 'utf-8' })).toMatchObject({ encoding: 'utf-8', read: 5, skipped: 0 });
  });

  // Regression: a setup error (topic or schema missing) once turned every row into a
  // rejected row, and the checkpoint then skipped them forever.
  // Regression: the rejects file kept the carriage return of each CRLF line before its added columns.
  it('a CRLF file: its rejects file has the original line without its carriage return, then the row and the reason', async () => {
    const file = join(dir, 'vehiculos-crlf.csv');
    const { text, bad } = makeFile(40, 'crlf');
    writeFileSync(file, text.replace(/\n/g, '\r\n'));
    const result = await importFile({ ...common(), file });
    expect(result).toMatchObject({ published: 40 - bad, rejected: bad });
    const lines = readFileSync(result.rejectsFile!, 'utf8').split('\n').filter(Boolean).slice(1);
    expect(lines).toHaveLength(bad);
    for (const line of lines) expect(line).not.toContain('\r');
  });

  it('a row of another width than the header is rejected whole, with its reason; a trailing empty cell is no extra column', async () => {
    const file = join(dir, 'vehiculos-width.csv');
    const { text } = makeFile(6, 'w', 99);
    const lines = text.trimEnd().split('\n');
    lines[2] = lines[2]!.split(';').slice(0, 10).join(';'); // row 2: two cells short, the rest would shift
    lines[4] = `${lines[4]};extra`; // row 4: a value beyond the header
    lines[5] = `${lines[5]};`; // row 5: a trailing delimiter, as spreadsheets write
    writeFileSync(file, `${lines.join('\n')}\n`);
    const result = await importFile({ ...common(), file });
    expect(result).toMatchObject({ read: 6, published: 4, rejected: 2 });
    expect(rejectedRows(result.rejectsFile!)).toEqual([2, 4]);
    const rejects = readFileSync(result.rejectsFile!, 'utf8');
    expect(rejects).toContain('la fila tiene 10 columnas y el encabezado 12');
    expect(rejects).toContain('la fila tiene 13 columnas y el encabezado 12');
    // Short or long, `fila` and `motivos` are the last two of the header's columns; the extra value is named in the reason.
    const rejected = (parse(rejects, { delimiter: ';', relax_column_count: true }) as string[][]).slice(1);
    expect(rejected.map((l) => [l.length, l[12]])).toEqual([[14, '2'], [14, '4']]);
    expect(rejected[1]![13]).toContain('sobran: extra');

    // A header line with a trailing delimiter names no extra column: rows without one import.
    const trailing = join(dir, 'vehiculos-encabezado-final.csv');
    const rows = makeFile(3, 'tr', 99).text.trimEnd().split('\n');
    writeFileSync(trailing, `${rows[0]};\n${rows.slice(1).join('\n')}\n`);
    expect(await importFile({ ...common(), file: trailing })).toMatchObject({ read: 3, published: 3, rejected: 0 });
  });

  it('a file without its header row, or with a broken quote, is refused in Spanish without showing any of its content', async () => {
    const headless = join(dir, 'vehiculos-sin-encabezado.csv');
    writeFileSync(headless, makeFile(3, 'h', 99).text.split('\n').slice(1).join('\n'));
    const refused = await importFile({ ...common(), file: headless }).catch((err: Error) => err);
    expect(refused).toMatchObject({ code: 'BUS_ERR_CONFIG' });
    expect((refused as Error).message).toContain('el archivo debe empezar con la fila de encabezado');
    for (const personal of ['José', 'Núñez', '1587564440904', 'P000', 'DEN-h']) expect((refused as Error).message).not.toContain(personal);
    // A first line that has some mapped names but not all shows those names only, never its other cells.
    const partial = join(dir, 'vehiculos-encabezado-parcial.csv');
    writeFileSync(partial, `placa;marca;José Núñez;1587564440904\nP1;Toyota;x;y\n`);
    const partialErr = await importFile({ ...common(), file: partial }).catch((err: Error) => err);
    expect((partialErr as Error).message).toContain('del mapeo están: placa, marca');
    for (const personal of ['José', 'Núñez', '1587564440904']) expect((partialErr as Error).message).not.toContain(personal);

    const broken = join(dir, 'vehiculos-comillas.csv');
    writeFileSync(broken, `${HEADER}\nP123ABC;Toyota;"Corolla"José Núñez;2015\n`);
    const quote = await importFile({ ...common(), file: broken }).catch((err: Error) => err);
    expect(quote).toMatchObject({ code: 'BUS_ERR_CONFIG' });
    expect((quote as Error).message).toMatch(/comilla.*\(línea 2\)/);
    for (const personal of ['José', 'Núñez', 'P123ABC']) expect((quote as Error).message).not.toContain(personal);
  });

  it('stops on a setup error without rejecting rows, and a re-run after the fix publishes them', async () => {
    const file = join(dir, 'vehiculos-setup.csv');
    writeFileSync(file, makeFile(40, 's', 99).text);
    const unregistered = await importFile({ ...common(), file, topicPrefix: `${fx.prefix}missing.` });
    expect(unregistered).toMatchObject({ published: 0, rejected: 0, interrupted: true });
    expect(unregistered.stopReason).toContain('BUS_ERR_TOPIC_UNDECLARED');
    const fixed = await importFile({ ...common(), file });
    expect(fixed).toMatchObject({ published: 40, rejected: 0, skipped: 0, interrupted: false });
  });

  it('refuses an institution that does not own the event type, in Spanish', async () => {
    await expect(importFile({ ...common(), institution: 'MINEX', file: join(EXAMPLES, 'vehiculos-robados.utf8.csv') })).rejects.toThrow(
      'MINEX no puede publicar mingob.vehicle.reported-stolen (pertenece a MINGOB)',
    );
  });
});

describe('npm run import', () => {
  it('prints a Spanish summary naming the detected encoding and exits 1 when rows were rejected', async () => {
    const file = join(dir, 'cli-utf8.csv');
    writeFileSync(file, readFileSync(join(EXAMPLES, 'vehiculos-robados.utf8.csv')));
    const run = promisify(execFile);
    const args = ['tsx', 'producers/importer/cli.ts', '--institution', 'MINGOB', '--type', TYPE, '--mapping', MAPPING, '--auto-register', file];
    const env = { ...process.env, SNS_TOPIC_PREFIX: fx.prefix, INGEST_SCHEMA: fx.schema };
    const err = await run('npx', args, { cwd: ROOT, env }).then(() => undefined, (e: { code: number; stdout: string }) => e);
    expect(err?.code).toBe(1);
    expect(err?.stdout).toContain('Codificación detectada: UTF-8');
    expect(err?.stdout).toContain('Filas leídas: 5');
    expect(err?.stdout).toContain('Publicadas: 2');
    expect(err?.stdout).toContain('Rechazadas: 3');
    const again = await run('npx', args, { cwd: ROOT, env });
    expect(again.stdout).toContain('Omitidas (ya procesadas en una ejecución anterior): 5');
  });
});
