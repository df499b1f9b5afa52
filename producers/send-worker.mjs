// Entry of the send worker thread (see send-worker.ts, started by worker-sender.ts).
// A worker inherits the process's execArgv, so under `tsx …` or `node --import tsx`
// it loads TypeScript already; elsewhere (vitest runs .ts through Vite, which a
// worker thread does not get) tsx is registered here first.
try {
  await import('./send-worker.ts');
} catch (err) {
  if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
  const { register } = await import('tsx/esm/api');
  register();
  await import('./send-worker.ts?tsx');
}
