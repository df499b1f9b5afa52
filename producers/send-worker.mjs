// Entry of the send worker thread (see send-worker.ts, started by worker-sender.ts).
import { URL } from 'node:url';
import { importTs } from '../core/import-ts.mjs';

await importTs(new URL('./send-worker.ts', import.meta.url).href);
