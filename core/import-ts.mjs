// Loads a TypeScript module in a worker thread. A worker inherits the
// process's execArgv, so under `tsx …` or `node --import tsx` it loads
// TypeScript already; elsewhere (vitest runs .ts through Vite, which a worker
// thread does not get) tsx is registered here first.
export async function importTs(url) {
  try {
    return await import(url);
  } catch (err) {
    if (err?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    const { register } = await import('tsx/esm/api');
    register();
    return import(`${url}?tsx`);
  }
}
