/**
 * `npm run replay -- <command> [options]` (also the `sns-replay` bin): the
 * operators' replay tool. Messages are in Spanish; errors print their code.
 * Ctrl-C stops cleanly and leaves a checkpoint; the same command resumes.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import pg from 'pg';
import { loadCatalog } from '../../catalog/index.ts';
import { BusError, ConfigError, createKafka, createLogger, readEndpoints } from '../../core/index.ts';
import { DEFAULT_STORE_SCHEMA } from '../../migrations/index.ts';
import { ALERT_DEFAULTS } from '../alerts/index.ts';
import { fingerprintOf } from './checkpoint.ts';
import { exportEvents, type ExportFormat } from './export.ts';
import { createProgress } from './progress.ts';
import { checksumStore, dropOldSchema, oldSchemas, rebuildStore, REBUILD_DEFAULTS, swapSchemas } from './rebuild.ts';
import { redriveAlerts } from './redrive.ts';
import { describePlan, parseInstant, parseOffsets, planSize, resolvePlan, type ReplaySelection } from './selection.ts';

const USAGE = `Uso: sns-replay <comando> [opciones]   (npm run replay -- <comando> …)

Comandos:
  export    Exporta eventos decodificados (CloudEvents) a NDJSON o CSV
  redrive   Vuelve a pasar los eventos por las reglas de alerta, como Ejercicio (Exercise)
  rebuild   Reconstruye el almacén central en un esquema nuevo y lo pone en servicio
  confirm   Borra el almacén anterior tras una reconstrucción (--old <esquema> o --all)
  rollback  Vuelve a poner en servicio el almacén anterior (--old <esquema>; por defecto el más reciente)

Selección (export, redrive):
  --topic <t1,t2>        tópicos del catálogo (sin prefijo)
  --type <tipo1,tipo2>   tipos de evento (se leen sus tópicos y se filtran)
  --from <fecha>         inicio del rango (incluido), ISO-8601: 2026-03-01 o 2026-03-01T06:00:00-06:00
  --to <fecha>           fin del rango (excluido)
  --offsets <[tópico:]partición:desde[-hasta],…>   offsets explícitos (hasta excluido)
  --dry-run              muestra offsets y número de eventos por partición, sin cambiar nada
  --prefix <p>           prefijo de los tópicos (por defecto SNS_TOPIC_PREFIX)

export:   --out <archivo> [--format ndjson|csv] [--bom] [--resume | --restart]
redrive:  [--push] (entrega a los suscriptores reales; por defecto no) [--resume | --restart]
rebuild:  [--schema ${REBUILD_DEFAULTS.schema}] [--no-swap]
Otros:    --quiet (sin barra de progreso), --help
`;

/** What the CLI prints to; tests pass their own. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  signal?: AbortSignal;
}

const list = (v: string | undefined) => (v ? v.split(',').map((x) => x.trim()).filter(Boolean) : undefined);

/** Runs the CLI; resolves the exit code (0 ok, 1 error, 2 usage, 130 interrupted with a checkpoint). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        topic: { type: 'string', multiple: true },
        type: { type: 'string', multiple: true },
        from: { type: 'string' },
        to: { type: 'string' },
        offsets: { type: 'string' },
        'dry-run': { type: 'boolean' },
        prefix: { type: 'string' },
        out: { type: 'string' },
        format: { type: 'string' },
        bom: { type: 'boolean' },
        resume: { type: 'boolean' },
        restart: { type: 'boolean' },
        push: { type: 'boolean' },
        schema: { type: 'string' },
        'no-swap': { type: 'boolean' },
        old: { type: 'string' },
        all: { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`Opción no válida: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values: o, positionals } = parsed;
  const command = positionals[0];
  if (o.help || !command) {
    io.out(USAGE);
    return command || o.help ? 0 : 2;
  }
  if (!['export', 'redrive', 'rebuild', 'confirm', 'rollback'].includes(command)) {
    io.err(`Comando desconocido «${command}».\n\n${USAGE}`);
    return 2;
  }

  const endpoints = readEndpoints();
  const log = createLogger('replay', { level: process.env.LOG_LEVEL ?? 'warn' });
  const prefix = o.prefix ?? process.env.SNS_TOPIC_PREFIX ?? '';
  const liveSchema = process.env.STORE_SCHEMA ?? DEFAULT_STORE_SCHEMA;
  const kafka = createKafka({ clientId: 'sns-replay', logger: log });
  const catalog = loadCatalog();

  try {
    if (command === 'confirm' || command === 'rollback') {
      const pool = new pg.Pool({ connectionString: endpoints.databaseUrl, max: 2 });
      try {
        const olds = await oldSchemas(pool, liveSchema);
        if (olds.length === 0) {
          io.out(`No hay almacenes anteriores de «${liveSchema}».`);
          return 0;
        }
        if (command === 'confirm') {
          const targets = o.all ? olds : o.old ? [o.old] : [];
          if (targets.length === 0) {
            io.err(`Indique cuál borrar con --old <esquema> (o --all). Almacenes anteriores: ${olds.join(', ')}.`);
            return 2;
          }
          for (const s of targets) {
            await dropOldSchema(pool, liveSchema, s);
            io.out(`Borrado el almacén anterior «${s}».`);
          }
          return 0;
        }
        const back = o.old ?? olds[0]!;
        if (!olds.includes(back)) throw new BusError('BUS_ERR_REPLAY_SWAP', `«${back}» no es un almacén anterior de «${liveSchema}». Almacenes anteriores: ${olds.join(', ')}.`);
        const outgoing = await swapSchemas(pool, { liveSchema, incomingSchema: back, outgoingName: `${liveSchema}_old_${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase()}r`, logger: log });
        io.out(`«${back}» vuelve a estar en servicio como «${liveSchema}»; el almacén reconstruido quedó como «${outgoing}». El proyector vivo retoma desde las posiciones de ese almacén.`);
        return 0;
      } finally {
        await pool.end();
      }
    }

    if (command === 'rebuild') {
      const schema = o.schema ?? REBUILD_DEFAULTS.schema;
      if (o['dry-run']) {
        const admin = kafka.admin();
        await admin.connect();
        try {
          const plan = await resolvePlan(admin, catalog, { topics: catalog.topics.filter((t) => t.eventTypes.some((e) => !e.startsWith('st.'))).map((t) => t.name) }, { topicPrefix: prefix, allowEmpty: true });
          for (const line of describePlan(plan)) io.out(line);
          io.out(`Se reconstruiría «${liveSchema}» en «${schema}» y luego se intercambiarían (nada cambió).`);
        } finally {
          await admin.disconnect();
        }
        return 0;
      }
      let bar: ReturnType<typeof createProgress> | undefined;
      let last = 0;
      const result = await rebuildStore({
        kafka,
        databaseUrl: endpoints.databaseUrl,
        registryUrl: endpoints.registryUrl,
        topicPrefix: prefix,
        liveSchema,
        schema,
        swap: !o['no-swap'],
        signal: io.signal,
        logger: log,
        onProgress(done, total) {
          bar ??= createProgress(total, 'Reconstruyendo', { quiet: o.quiet, startAt: done });
          bar.advance(done - last, done - last);
          last = done;
        },
      });
      bar?.stop();
      if (result.status === 'interrupted') {
        io.err(`Interrumpido. El avance quedó en PostgreSQL (esquema «${schema}»); repita el mismo comando para reanudar.`);
        return 130;
      }
      const pool = new pg.Pool({ connectionString: endpoints.databaseUrl, max: 1 });
      try {
        const sums = await checksumStore(pool, result.status === 'swapped' ? liveSchema : schema);
        for (const [t, s] of Object.entries(sums)) io.out(`  ${t.padEnd(22)} ${String(s.rows).padStart(9)} filas  md5 ${s.md5}`);
      } finally {
        await pool.end();
      }
      if (result.status === 'built') io.out(`Reconstruido en «${schema}» (sin intercambiar, --no-swap).`);
      else io.out(`Reconstruido y en servicio: «${liveSchema}» es el almacén nuevo; el anterior quedó como «${result.oldSchema}».\nCuando lo haya verificado: sns-replay confirm --old ${result.oldSchema}   (o vuelva atrás con: sns-replay rollback --old ${result.oldSchema})`);
      return 0;
    }

    // export / redrive: a selection.
    const selection: ReplaySelection = {
      topics: o.topic?.flatMap((t) => list(t) ?? []),
      eventTypes: o.type?.flatMap((t) => list(t) ?? []),
      ...(o.from ? { from: parseInstant('--from', o.from) } : {}),
      ...(o.to ? { to: parseInstant('--to', o.to) } : {}),
      ...(o.offsets ? { offsets: parseOffsets(o.offsets) } : {}),
    };
    const format = (o.format ?? 'ndjson') as ExportFormat;
    if (command === 'export') {
      if (!o.out) throw new ConfigError('export: indique el archivo de salida con --out <archivo>.');
      if (format !== 'ndjson' && format !== 'csv') throw new ConfigError(`--format: «${format}» no es ndjson ni csv.`);
      if (o.bom && format !== 'csv') throw new ConfigError('--bom solo aplica al formato csv.');
    }
    const fingerprint = fingerprintOf({ command, prefix, selection: { ...selection, offsets: selection.offsets?.map((x) => ({ ...x, from: String(x.from), to: x.to === undefined ? undefined : String(x.to) })) }, format, bom: o.bom ?? false, out: o.out ? resolve(o.out) : undefined, push: o.push ?? false });
    const admin = kafka.admin();
    await admin.connect();
    let plan;
    try {
      plan = await resolvePlan(admin, catalog, selection, { topicPrefix: prefix });
    } finally {
      await admin.disconnect();
    }
    if (o['dry-run']) {
      for (const line of describePlan(plan)) io.out(line);
      io.out('Simulación (--dry-run): no se leyó ni cambió nada.');
      return 0;
    }
    if (o.resume) {
      const cpPath = command === 'export' ? `${o.out}.checkpoint.json` : `.replay/redrive-${fingerprint}.json`;
      const { existsSync } = await import('node:fs');
      if (!existsSync(cpPath)) throw new BusError('BUS_ERR_REPLAY_CHECKPOINT', `--resume: no hay punto de control en ${cpPath}; ejecute el comando sin --resume para empezar.`);
    }
    const bar = createProgress(planSize(plan), command === 'export' ? 'Exportando' : 'Re-evaluando', { quiet: o.quiet });
    const onProgress = (offsets: number, events: number) => bar.advance(offsets, events);

    if (command === 'export') {
      const r = await exportEvents({ kafka, catalog, plan, topicPrefix: prefix, registryUrl: endpoints.registryUrl, out: o.out!, format, bom: o.bom, fingerprint, restart: o.restart, signal: io.signal, onProgress, logger: log });
      bar.stop();
      if (r.undecodable) io.err(`Aviso: ${r.undecodable} mensajes no se pudieron decodificar y se omitieron (vea el tópico de cartas muertas).`);
      if (r.status === 'interrupted') {
        io.err(`Interrumpido: ${r.events} eventos escritos en ${o.out}. Punto de control: ${r.checkpointPath}. Repita el mismo comando (o añada --resume) para continuar.`);
        return 130;
      }
      io.out(`${r.resumed ? 'Reanudado y terminado' : 'Terminado'}: ${r.events} eventos en ${o.out} (${format}${o.bom ? ', con BOM' : ''}, ${r.bytes} bytes).`);
      return 0;
    }

    mkdirSync('.replay', { recursive: true });
    const r = await redriveAlerts({
      kafka, catalog, plan, databaseUrl: endpoints.databaseUrl, registryUrl: endpoints.registryUrl, topicPrefix: prefix,
      storeSchema: liveSchema, push: o.push, liveAlertsSchema: process.env.ALERTS_SCHEMA ?? ALERT_DEFAULTS.schema,
      checkpointPath: `.replay/redrive-${fingerprint}.json`, fingerprint, restart: o.restart, signal: io.signal, onProgress, logger: log,
    });
    bar.stop();
    const raised = Object.entries(r.alertsByStatus).map(([s, n]) => `${n} ${s}`).join(', ') || 'ninguna';
    if (r.status === 'interrupted') {
      io.err(`Interrumpido tras ${r.events} eventos (alertas: ${raised}). Repita el mismo comando para continuar.`);
      return 130;
    }
    io.out(`Terminado: ${r.events} eventos re-evaluados; alertas emitidas: ${raised}, en el esquema «${r.alertsSchema}»; ${r.published ? 'publicadas y entregadas a los suscriptores (--push)' : 'no entregadas a ningún suscriptor'}.`);
    return 0;
  } catch (err) {
    if (err instanceof BusError) {
      io.err(`Error ${err.code}: ${err.message}`);
      return 1;
    }
    io.err(`Error inesperado: ${(err as Error).message}`);
    log.error({ err }, 'replay failed');
    return 1;
  }
}
