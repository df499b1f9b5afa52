/**
 * The bench's child processes (the no-op consumer, the export): each runs in
 * a fresh process of its own, so its RSS and its JIT and heap conditions are
 * its own, and reports its figure to the parent over IPC.
 */
import type { ChildProcess } from 'node:child_process';

/** When this process was started with `flag` as its first argument, runs `main` and exits (1, with the stack on stderr, when it throws). */
export function runAsChild(flag: string, main: () => Promise<void>): void {
  if (process.argv[2] !== flag) return;
  main().then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`${err.stack}\n`);
      process.exit(1);
    },
  );
}

/** Lets a child that has reported exit by itself (it may be writing a CPU profile), at most 10 s, then makes sure it is gone. */
export async function reapChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode === null && proc.signalCode === null) await Promise.race([new Promise((r) => proc.once('exit', r)), new Promise((r) => setTimeout(r, 10_000))]);
  proc.kill('SIGTERM');
}
