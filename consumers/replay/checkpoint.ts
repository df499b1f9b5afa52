/**
 * Resumable checkpoints of a replay: the resolved plan (so a resumed run reads
 * exactly the same ranges), the position reached per partition and, for an
 * export, how many bytes of the output file belong to those positions. A
 * checkpoint is a JSON file written atomically (temporary file + rename).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { BusError } from '../../core/index.ts';
import type { ReplayPlan } from './selection.ts';

/** What a checkpoint file holds. */
export interface Checkpoint {
  readonly version: 1;
  /** `export`, `redrive`. */
  readonly command: string;
  /** Hash of the command's arguments: a checkpoint resumes only the same command. */
  readonly fingerprint: string;
  readonly plan: ReplayPlan;
  /** Next offset per `topic:partition`. */
  readonly positions: Record<string, string>;
  /** Events handled so far. */
  readonly events: number;
  /** Export only: bytes of the output that match `positions` (the rest is cut on resume). */
  readonly bytes?: number;
  readonly updatedAt: string;
}

/** A stable hash of the arguments that define a run. */
export function fingerprintOf(args: unknown): string {
  return createHash('sha256').update(JSON.stringify(args)).digest('hex').slice(0, 16);
}

/** Reads a checkpoint; undefined when there is none. Throws BUS_ERR_REPLAY_CHECKPOINT when it is unreadable or from another command. */
export function loadCheckpoint(path: string, command: string, fingerprint: string): Checkpoint | undefined {
  if (!existsSync(path)) return undefined;
  let cp: Checkpoint;
  try {
    cp = JSON.parse(readFileSync(path, 'utf8')) as Checkpoint;
  } catch (cause) {
    throw new BusError('BUS_ERR_REPLAY_CHECKPOINT', `El punto de control ${path} no se puede leer; bórrelo o use --restart para empezar de nuevo.`, { cause });
  }
  if (cp.version !== 1 || cp.command !== command || cp.fingerprint !== fingerprint) {
    throw new BusError(
      'BUS_ERR_REPLAY_CHECKPOINT',
      `El punto de control ${path} pertenece a otra reproducción (otros tópicos, rango o formato). Repita exactamente el comando anterior para reanudarla, o use --restart para empezar de nuevo.`,
    );
  }
  return cp;
}

/** Writes a checkpoint atomically. */
export function saveCheckpoint(path: string, cp: Omit<Checkpoint, 'version' | 'updatedAt'>): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ version: 1, ...cp, updatedAt: new Date().toISOString() }, null, 2)}\n`);
  renameSync(tmp, path);
}

/** Removes a checkpoint (after a run that finished). */
export function removeCheckpoint(path: string): void {
  rmSync(path, { force: true });
}
