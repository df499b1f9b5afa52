/**
 * The file importer: publishes the rows of a delimited flat file (CSV, `;`,
 * tab, `|`) as events, through the SDK, under the same contracts and rules.
 *
 * - Event ids are derived from the file's content hash, the event type and
 *   the row number (UUID version 5 shape), so consumers see the same id for
 *   the same row whatever happens.
 * - A checkpoint in PostgreSQL (`import_progress`, keyed by file hash and
 *   event type) holds the row up to which every row was acknowledged or
 *   rejected; a re-run skips those rows, so a finished file publishes
 *   nothing again and an interrupted one resumes where it stopped.
 * - Invalid rows go to a rejects file: the original line, its row number and
 *   the reasons in Spanish.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parse } from 'csv-parse/sync';
import type pg from 'pg';
import { loadCatalog, type Catalog } from '../../catalog/index.ts';
import { validateEvent, type EventType } from '../../contracts/index.ts';
import { BusError, ConfigError, isBusError, type Logger } from '../../core/index.ts';
import { createProducer, type Producer } from '../producer.ts';
import { applyMapping, loadMapping, missingColumns, type Mapping } from './mapping.ts';
import { spanishReason } from './reasons.ts';

/** The encodings the importer tells apart. */
export type FileEncoding = 'utf-8' | 'latin1';

export interface ImportOptions {
  /** The delimited file. */
  file: string;
  institution: string;
  eventType: string;
  /** A mapping, or the path of its YAML file. */
  mapping: Mapping | string;
  /** Pool of the database holding the ingest schema (checkpoints). */
  pool: pg.Pool;
  schema: string;
  /** Producer to publish through; by default one is created (and closed) for `institution`. */
  producer?: Producer;
  topicPrefix?: string;
  autoRegister?: boolean;
  brokers?: readonly string[];
  registryUrl?: string;
  catalog?: Catalog;
  logger?: Logger;
  /** Rejects file; default `<file>.rechazos.csv`. */
  rejectsFile?: string;
  /** `auto` (default) detects UTF-8 vs Latin-1. */
  encoding?: FileEncoding | 'auto';
  /** Field delimiter; default the mapping's, else detected from the header line. */
  delimiter?: string;
  /** Called after each checkpoint and at the end. */
  onProgress?: (p: ImportProgress) => void;
  /** Stops reading new rows; in-flight rows are awaited and checkpointed. */
  signal?: AbortSignal;
  /** How often the checkpoint is written. */
  checkpointEveryMs?: number;
  /** Rows published but not yet acknowledged at most. */
  maxInFlightRows?: number;
}

export interface ImportProgress {
  total: number;
  /** Rows dealt with so far (skipped + published + rejected). */
  done: number;
  published: number;
  rejected: number;
  skipped: number;
}

/** What an import did. */
export interface ImportSummary extends ImportProgress {
  file: string;
  fileHash: string;
  encoding: FileEncoding;
  delimiter: string;
  /** Data rows read (header excluded). */
  read: number;
  rejectsFile?: string;
  /** Rows already done by earlier runs when this one started. */
  resumedFrom: number;
  /** True when the run was stopped before the end (signal or Kafka unavailable). */
  interrupted: boolean;
  /** Why it stopped early, in Spanish. */
  stopReason?: string;
}

const ID_NAMESPACE = Buffer.from('6f1e2a4c9b7d4e0f8a3c5d7e9f1b2c4d', 'hex');

/** A UUID (version 5 shape: SHA-1 of namespace and name) for `row` of a file. */
export function rowEventId(fileHash: string, eventType: string, row: number): string {
  const h = createHash('sha1').update(ID_NAMESPACE).update(`${fileHash}:${eventType}:${row}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * UTF-8 when the bytes are valid UTF-8 (a BOM is dropped), else Latin-1
 * (ISO-8859-1, every byte is a character). Pure-ASCII files are UTF-8.
 */
export function detectEncoding(bytes: Buffer): FileEncoding {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return 'utf-8';
  } catch {
    return 'latin1';
  }
}

/** The line (1-based) of a byte offset: line feeds before it, or carriage returns in a file without line feeds. */
function lineOfByte(bytes: Buffer, offset: number): number {
  const head = bytes.subarray(0, Math.max(0, offset));
  const breaks = (b: number) => head.reduce((n, x) => (x === b ? n + 1 : n), 0);
  return 1 + (bytes.includes(0x0a) ? breaks(0x0a) : breaks(0x0d));
}

/** The offset of the first byte that does not belong to well-formed UTF-8 (-1 when there is none). */
export function firstInvalidUtf8(b: Buffer): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i]!;
    const need = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (need < 0 || i + need >= b.length) return i;
    // The second byte's range depends on the first (no overlong forms, surrogates or code points past U+10FFFF).
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    if (need > 0 && (b[i + 1]! < lo || b[i + 1]! > hi)) return i;
    for (let k = 2; k <= need; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return -1;
}

/**
 * The file's text in `encoding`. Refuses (BUS_ERR_CONFIG, naming the line,
 * never the content) what would silently change the data: bytes that are not
 * UTF-8 read as UTF-8 (each would become U+FFFD), and a UTF-8 file with
 * non-ASCII characters read as Latin-1 (é would become Ã©). Either would be
 * published, and the file's checkpoint would then skip a corrected re-run.
 */
function decode(bytes: Buffer, encoding: FileEncoding, detected: boolean): string {
  let text: string;
  if (encoding === 'utf-8') {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw new ConfigError(
        `el archivo no es UTF-8 válido: la línea ${lineOfByte(bytes, firstInvalidUtf8(bytes))} tiene bytes que no son UTF-8; ` +
          'si el archivo es Latin-1 (ISO-8859-1), use --encoding latin1 o --encoding auto',
      );
    }
  } else {
    text = bytes.toString('latin1');
    // Detected as Latin-1, the bytes are already known not to be UTF-8.
    if (!detected && /[\u0080-\uffff]/.test(text) && detectEncoding(bytes) === 'utf-8') {
      throw new ConfigError(
        `el archivo es UTF-8 válido con caracteres no ASCII (el primero en la línea ${lineOfByte(bytes, bytes.findIndex((x) => x >= 0x80))}): ` +
          'leído como Latin-1 cambiarían (é sería Ã©); use --encoding utf-8 o --encoding auto',
      );
    }
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The most frequent of `,` `;` tab `|` in the header line, outside quotes. */
export function detectDelimiter(text: string): string {
  const end = text.search(/\r?\n/);
  const header = (end < 0 ? text : text.slice(0, end)).replace(/"[^"]*"/g, '');
  let best = ',';
  let bestCount = 0;
  for (const d of [',', ';', '\t', '|']) {
    const n = header.split(d).length - 1;
    if (n > bestCount) [best, bestCount] = [d, n];
  }
  return best;
}

function quote(s: string, delimiter: string): string {
  return /["\r\n]/.test(s) || s.includes(delimiter) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Imports one file. Throws BUS_ERR_CONFIG (in Spanish) for a bad mapping,
 * missing columns or an event type the institution does not own; a Kafka
 * outage stops the run with `interrupted` (re-run to resume).
 */
export async function importFile(options: ImportOptions): Promise<ImportSummary> {
  const catalog = options.catalog ?? loadCatalog();
  const mapping = typeof options.mapping === 'string' ? loadMapping(options.mapping) : options.mapping;
  const { eventType, institution } = options;
  if (mapping.eventType !== undefined && mapping.eventType !== eventType) {
    throw new ConfigError(`el mapeo es para ${mapping.eventType}, no para ${eventType}`);
  }
  if (!catalog.isDeclaredEventType(eventType)) {
    throw new ConfigError(`tipo de evento desconocido "${eventType}"; los tipos son: ${catalog.eventTypes.join(', ')}`);
  }
  if (catalog.ownerOf(eventType) !== institution) {
    const own = catalog.eventTypesOf(institution);
    throw new ConfigError(
      `${institution} no puede publicar ${eventType} (pertenece a ${catalog.ownerOf(eventType)}); ` +
        (own.length ? `sus tipos son: ${own.join(', ')}` : `${institution} no tiene ningún tipo de evento en topics.yaml`),
    );
  }

  let bytes: Buffer;
  try {
    bytes = readFileSync(options.file);
  } catch {
    throw new ConfigError(`no se puede leer el archivo ${options.file}`);
  }
  const fileHash = createHash('sha256').update(bytes).digest('hex');
  const detected = !options.encoding || options.encoding === 'auto';
  const encoding: FileEncoding = !options.encoding || options.encoding === 'auto' ? detectEncoding(bytes) : options.encoding;
  const text = decode(bytes, encoding, detected);
  const delimiter = options.delimiter ?? mapping.delimiter ?? detectDelimiter(text);
  let records: string[][];
  try {
    // Rows of another width than the header are parsed and then rejected one by one (below), never dropped or shifted.
    records = parse(text, { delimiter, relax_column_count: true, skip_empty_lines: true }) as string[][];
  } catch (err) {
    throw new ConfigError(`el archivo no es un archivo delimitado válido: ${csvProblem(err)}`);
  }
  const header = (records.shift() ?? []).map((h) => h.trim());
  // A trailing delimiter on the header line (as spreadsheets write) names no column.
  while (header.length > 0 && header[header.length - 1] === '') header.pop();
  const missing = missingColumns(mapping, header);
  if (missing.length) {
    // The first line is named only when it is a header (some mapped column is in it): otherwise it is a data row, personal data perhaps.
    // Only mapped column names are shown: a cell of a data row that happens to equal one is no personal data.
    const present = [...new Set(mapping.fields.flatMap((f) => (f.column !== undefined && header.includes(f.column) ? [f.column] : [])))];
    throw new ConfigError(
      `al archivo le faltan columnas del mapeo: ${missing.join(', ')} ` +
        (present.length
          ? `(la primera línea tiene ${header.length} columnas; del mapeo están: ${present.join(', ')})`
          : `(la primera línea no tiene ninguna columna del mapeo: el archivo debe empezar con la fila de encabezado)`),
    );
  }
  const columnIndex = new Map(header.map((h, i) => [h, i]));
  const columnOfField = new Map(mapping.fields.flatMap((f) => (f.column ? [[f.path, f.column] as const] : [])));
  const total = records.length;

  const table = `"${options.schema}".import_progress`;
  await options.pool.query(
    `INSERT INTO ${table} (file_hash, event_type, institution, file_name, total_rows) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (file_hash, event_type) DO NOTHING`,
    [fileHash, eventType, institution, basename(options.file), total],
  );
  const prior = await options.pool.query<{ done_rows: number }>(`SELECT done_rows FROM ${table} WHERE file_hash = $1 AND event_type = $2`, [fileHash, eventType]);
  const resumedFrom = Math.min(prior.rows[0]?.done_rows ?? 0, total);

  /**
   * A line of the rejects file: the row's cells under the header's columns (a
   * short row padded with empty cells), then its number and the reasons, so
   * `fila` and `motivos` are always the last two columns. A long row's extra
   * cells are named in its reason.
   */
  function rejectLine(record: readonly string[], row: number, reasons: string): string {
    const cells = Array.from({ length: header.length }, (_, i) => quote(record[i] ?? '', delimiter));
    return `${cells.join(delimiter)}${delimiter}${row}${delimiter}${quote(reasons, delimiter)}\n`;
  }
  const rejectsFile = options.rejectsFile ?? `${options.file}.rechazos.csv`;
  let rejectsStarted = resumedFrom > 0 && existsSync(rejectsFile);
  let pendingRejects: string[] = [];
  function flushRejects(): void {
    if (pendingRejects.length === 0) return;
    if (!rejectsStarted) {
      writeFileSync(rejectsFile, `${[...header.map((h) => quote(h, delimiter)), 'fila', 'motivos'].join(delimiter)}\n`, 'utf8');
      rejectsStarted = true;
    }
    appendFileSync(rejectsFile, pendingRejects.join(''), 'utf8');
    pendingRejects = [];
  }

  const ownProducer = !options.producer;
  const producer =
    options.producer ??
    createProducer({
      institution,
      catalog,
      topicPrefix: options.topicPrefix,
      autoRegister: options.autoRegister,
      brokers: options.brokers,
      registryUrl: options.registryUrl,
      logger: options.logger,
    });

  const progress: ImportProgress = { total, done: resumedFrom, published: 0, rejected: 0, skipped: resumedFrom };
  let watermark = resumedFrom;
  /**
   * Rows done above the watermark, with their reject line if rejected. They
   * are settled (reject written, counted in the checkpoint) only once the
   * watermark passes them: a re-run starts at the watermark and does them again.
   */
  const doneAbove = new Map<number, { reject?: string }>();
  const settled = { published: 0, rejected: 0 };
  let checkpointed = { watermark, published: 0, rejected: 0 };
  function markDone(row: number, reject?: string): void {
    doneAbove.set(row, { reject });
    for (let next = doneAbove.get(watermark + 1); next; next = doneAbove.get(watermark + 1)) {
      doneAbove.delete(++watermark);
      if (next.reject === undefined) {
        settled.published++;
      } else {
        settled.rejected++;
        pendingRejects.push(next.reject);
      }
    }
    progress.done++;
  }
  async function checkpoint(final = false): Promise<void> {
    // Only rejects of rows ≤ watermark are pending: the rest are written when the watermark passes them.
    flushRejects();
    const dp = settled.published - checkpointed.published;
    const dr = settled.rejected - checkpointed.rejected;
    checkpointed = { watermark, published: settled.published, rejected: settled.rejected };
    await options.pool.query(
      `UPDATE ${table} SET done_rows = GREATEST(done_rows, $3), published = published + $4, rejected = rejected + $5, updated_at = now(),
              completed_at = CASE WHEN $3 >= total_rows THEN coalesce(completed_at, now()) ELSE completed_at END
        WHERE file_hash = $1 AND event_type = $2`,
      [fileHash, eventType, watermark, dp, dr],
    );
    if (final || options.onProgress) options.onProgress?.({ ...progress });
  }

  const checkpointEveryMs = options.checkpointEveryMs ?? 500;
  const maxInFlight = options.maxInFlightRows ?? 5_000;
  let lastCheckpoint = Date.now();
  let inFlight = 0;
  let slotFree: (() => void) | undefined;
  let stopReason: string | undefined;
  const all: Promise<void>[] = [];

  try {
    for (let i = resumedFrom; i < total; i++) {
      if (options.signal?.aborted) {
        stopReason = 'interrumpida por el operador';
        break;
      }
      if (stopReason) break;
      const row = i + 1;
      const record = records[i]!;
      // A row of another width than the header would put its values under the wrong columns: rejected whole.
      // Extra cells that are all empty (a trailing delimiter, as spreadsheets write) are no values.
      const extra = record.slice(header.length).filter((c) => c.trim() !== '');
      if (record.length < header.length || extra.length > 0) {
        progress.rejected++;
        const why = `la fila tiene ${record.length} columnas y el encabezado ${header.length}${extra.length ? `; sobran: ${extra.join(' ')}` : ''}`;
        markDone(row, rejectLine(record, row, why));
        continue;
      }
      const { data, problems } = applyMapping(mapping, columnIndex, record);
      data.eventId = rowEventId(fileHash, eventType, row);
      data.occurredAt ??= new Date().toISOString();
      const reasons = problems.map((p) => `campo ${p.path} (columna ${p.column}): ${p.reason}`);
      const problemPaths = new Set(problems.map((p) => `/${p.path.replace(/\./g, '/')}`));
      for (const v of validateEvent(eventType as EventType, data)) {
        // A cell that could not be converted was left out; "required" for it says nothing new.
        if (v.rule === 'required' && problemPaths.has(v.path)) continue;
        reasons.push(spanishReason(v, (f) => columnOfField.get(f)));
      }
      if (reasons.length) {
        progress.rejected++;
        markDone(row, rejectLine(record, row, reasons.join(' | ')));
      } else {
        inFlight++;
        all.push(
          producer.publish(eventType as EventType, data as never).then(
            () => {
              progress.published++;
              markDone(row);
            },
            (err: unknown) => {
              if (isBusError(err, 'BUS_ERR_VALIDATION')) {
                progress.rejected++;
                markDone(row, rejectLine(record, row, `${err.code}: ${err.message}`));
              } else if (isBusError(err) && !err.retriable) {
                // Not the row's fault (schema not registered, event type not owned…): every row would
                // fail the same way, so stop and leave the row unprocessed for the re-run.
                stopReason ??= `${err.code}: ${err.message} — corrija la configuración`;
              } else {
                stopReason ??= `Kafka no confirmó la publicación (${isBusError(err) ? err.code : 'error'}); vuelva a ejecutar el mismo comando para reanudar`;
              }
            },
          ).finally(() => {
            inFlight--;
            slotFree?.();
          }),
        );
        if (inFlight >= maxInFlight) await new Promise<void>((res) => (slotFree = res));
      }
      if (Date.now() - lastCheckpoint >= checkpointEveryMs) {
        lastCheckpoint = Date.now();
        await checkpoint();
      }
    }
    await Promise.all(all);
    await checkpoint(true);
  } finally {
    if (ownProducer) await producer.close();
  }
  const interrupted = watermark < total;
  options.logger?.info({ fileHash, eventType, institution, ...progress, interrupted }, 'import finished');
  return {
    file: options.file,
    fileHash,
    encoding,
    delimiter,
    read: total,
    ...progress,
    rejectsFile: rejectsStarted ? rejectsFile : undefined,
    resumedFrom,
    interrupted,
    stopReason: interrupted ? (stopReason ?? 'filas sin confirmar') : undefined,
  };
}

/** What csv-parse found wrong, in Spanish, with its line and never the cell's content (it may be personal data). */
function csvProblem(err: unknown): string {
  const e = err as { code?: string; lines?: number };
  const where = typeof e.lines === 'number' ? ` (línea ${e.lines})` : '';
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return `una comilla abierta no se cierra: el archivo termina dentro de un valor entre comillas${where}`;
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'INVALID_CLOSING_QUOTE':
      return `hay texto después de una comilla de cierre${where}`;
    case 'CSV_INVALID_OPENING_QUOTE':
    case 'INVALID_OPENING_QUOTE':
      return `una comilla aparece dentro de un valor sin comillas${where}`;
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return `hay un carácter después de una comilla de cierre${where}`;
    default:
      return `formato no reconocido${e.code ? ` (${e.code})` : ''}${where}`;
  }
}

/** True when `err` is the importer's configuration error (bad mapping, columns, ownership). */
export function isImportConfigError(err: unknown): err is BusError {
  return isBusError(err, 'BUS_ERR_CONFIG');
}
