/**
 * Entry of `npm run replay` and the `sns-replay` bin: runs the CLI with
 * Ctrl-C (SIGINT/SIGTERM) wired to a clean stop that leaves a checkpoint.
 */
import { runCli } from './cli.ts';

const controller = new AbortController();
let signals = 0;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (++signals > 1) process.exit(130);
    process.stderr.write('\nDeteniendo… guardando el punto de control (Ctrl-C otra vez para salir sin guardarlo).\n');
    controller.abort();
  });
}
const code = await runCli(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  signal: controller.signal,
});
process.exit(code);
