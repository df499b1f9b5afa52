/**
 * The operator's progress bar (cli-progress, on stderr): events, events/s
 * and ETA. Silent when `quiet`; a plain line every few seconds when stderr is
 * not a terminal.
 */
import cliProgress from 'cli-progress';

/** A progress bar over a known number of offsets. */
export interface Progress {
  advance(offsets: number, events?: number): void;
  stop(): void;
  /** Events handled (not offsets). */
  readonly events: number;
}

/** Creates the bar; `label` says what is done (Spanish). */
export function createProgress(total: number, label: string, options: { quiet?: boolean; startAt?: number } = {}): Progress {
  let events = 0;
  if (options.quiet) {
    return {
      advance(_o, e = 0) {
        events += e;
      },
      stop() {},
      get events() {
        return events;
      },
    };
  }
  const tty = Boolean(process.stderr.isTTY);
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} {bar} {percentage}% | {value}/{total} offsets | {events} eventos | {speed} ev/s | ETA {eta_formatted}`,
      etaBuffer: 50,
      fps: 5,
      noTTYOutput: !tty,
      notTTYSchedule: 5_000,
      hideCursor: tty,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let done = options.startAt ?? 0;
  const startAt = done;
  bar.start(Math.max(total, 1), done, { events: 0, speed: 0 });
  return {
    advance(offsets, e = offsets) {
      done += offsets;
      events += e;
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      bar.update(Math.min(done, Math.max(total, 1)), { events, speed: Math.round((done - startAt) / seconds) });
    },
    stop() {
      bar.stop();
    },
    get events() {
      return events;
    },
  };
}
